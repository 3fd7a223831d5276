package console

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/clientip"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/web"
)

// The Security page: the signed-in user's own second factors. Every change
// needs the password typed again within reauthWindow, in this session.

// reauthWindow is how long a typed password allows security changes
// (allauth's REAUTHENTICATION_TIMEOUT).
const reauthWindow = 5 * time.Minute

// securityPath is the Security page.
const securityPath = Root + "account/security"

// securityView is the Security page's data.
type securityView struct {
	Email string
	CSRF  string
	// Recent: the password was typed again lately; changes are allowed
	// until RecentUntil.
	Recent      bool
	RecentUntil time.Time
	TOTP        *mfa.Authenticator
	Recovery    *mfa.Authenticator
	Passkeys    []*mfa.Authenticator
	// PasskeysAvailable: the console's URL allows WebAuthn.
	PasskeysAvailable bool
	Error             string
	Blocked           bool
}

func (h securityPages) securityViewOf(r *request) (securityView, error) {
	list, err := h.mfa.List(r.ctx(), r.user.ID)
	if err != nil {
		return securityView{}, err
	}
	v := securityView{Email: r.user.Email, CSRF: r.session.CSRF, Recent: h.recent(r),
		RecentUntil: r.session.ReauthenticatedAt.Add(reauthWindow), PasskeysAvailable: h.relyingParty != nil}
	for _, a := range list {
		switch a.Type {
		case mfa.TypeTOTP:
			v.TOTP = a
		case mfa.TypeRecoveryCodes:
			v.Recovery = a
		case mfa.TypeWebAuthn:
			v.Passkeys = append(v.Passkeys, a)
		}
	}
	return v, nil
}

func (h securityPages) renderSecurity(r *request, status int, v securityView) error {
	return h.render(r, status, "Security", securityPage(v), active("account", ""),
		crumbs(web.Crumb{Label: "Account", Href: Root + "account"}, web.Crumb{Label: "Security"}))
}

// securityCrumbs is the breadcrumb trail of a page under Security.
func securityCrumbs(label string) func(*web.Page) {
	return crumbs(web.Crumb{Label: "Account", Href: Root + "account"}, web.Crumb{Label: "Security", Href: securityPath}, web.Crumb{Label: label})
}

// securityPage shows the user's second factors.
func (h securityPages) securityPage(r *request) error {
	v, err := h.securityViewOf(r)
	if err != nil {
		return err
	}
	return h.renderSecurity(r, fiber.StatusOK, v)
}

// recent reports whether the password was typed again in this session
// within reauthWindow.
func (h securityPages) recent(r *request) bool {
	at := r.session.ReauthenticatedAt
	return !at.IsZero() && h.now().Sub(at) < reauthWindow
}

// askReauth answers a change made without a recent password.
func (h securityPages) askReauth(r *request) error {
	return h.redirectWith(r, securityPath, Flash{Kind: "info",
		Message: "Confirm your password first: changing how you sign in needs it typed again within the last 5 minutes. Nothing was changed."})
}

// reauthenticate checks the password typed again on the Security page.
// Failures count against the client IP and the account as failed sign-ins
// do, each attempt taking its place before the password is checked.
func (h securityPages) reauthenticate(r *request) error {
	c := r.c
	ctx := r.ctx()
	ip := clientip.Peer(c)
	v, err := h.securityViewOf(r)
	if err != nil {
		return err
	}
	try := attemptOf(ip, r.user.Email)
	ok, err := h.limiter.reserve(ctx, try)
	if err != nil {
		return err
	}
	if !ok {
		if h.limiter.firstRefusal(ctx, try) {
			_ = h.auditPlatform(ctx, actor(r.user), "console.reauth.throttled", r.user.Email, ip, nil)
		}
		v.Error, v.Blocked = "Too many failed attempts for this account or from your network. Try again later.", true
		r.c.Set(fiber.HeaderRetryAfter, strconv.Itoa(h.limiter.retryAfter()))
		return h.renderSecurity(r, fiber.StatusTooManyRequests, v)
	}
	if _, err := h.checkPassword(ctx, r.user.Email, c.FormValue("password")); err != nil {
		if !errors.Is(err, errBadCredentials) {
			_ = h.limiter.giveBack(ctx, try)
			return err
		}
		if err := h.auditPlatform(ctx, actor(r.user), "console.reauth.failed", r.user.Email, ip, nil); err != nil {
			return err
		}
		v.Error = "That password is not right."
		return h.renderSecurity(r, fiber.StatusUnauthorized, v)
	}
	if err := h.limiter.succeeded(ctx, try); err != nil {
		return err
	}
	if err := h.sessions.Reauthenticated(ctx, r.session, h.now().UTC()); err != nil {
		return err
	}
	if err := h.auditPlatform(ctx, actor(r.user), "console.reauth", r.user.Email, ip, nil); err != nil {
		return err
	}
	next := c.FormValue("next")
	if next != securityPath+"/totp" {
		next = securityPath
	}
	return h.redirectWith(r, next, Flash{Kind: "success", Message: "Password confirmed. For the next 5 minutes you can change how you sign in."})
}

// enrollment is what a session keeps between the two halves of adding a
// factor: the TOTP secret shown, the WebAuthn ceremony started. It is
// sealed in console_sessions.mfa_state.
type enrollment struct {
	TOTPSecret string `json:"totp_secret,omitempty"`
	WebAuthn   []byte `json:"webauthn,omitempty"`
}

func enrollmentContext(sess *Session) string {
	return "console:session:" + hex.EncodeToString(sess.hash) + ":mfa"
}

func (h securityPages) enrollmentOf(r *request) (enrollment, error) {
	var e enrollment
	sealed, err := h.sessions.mfaState(r.ctx(), r.session)
	if err != nil || sealed == "" {
		return e, err
	}
	raw, err := h.sealer.Open(sealed, enrollmentContext(r.session))
	if err != nil {
		return e, nil // unreadable (a rotated master key): start over
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		return enrollment{}, nil
	}
	return e, nil
}

func (h securityPages) saveEnrollment(r *request, e enrollment) error {
	if e.TOTPSecret == "" && e.WebAuthn == nil {
		return h.sessions.setMFAState(r.ctx(), r.session, "")
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return err
	}
	sealed, err := h.sealer.Seal(raw, enrollmentContext(r.session))
	if err != nil {
		return err
	}
	return h.sessions.setMFAState(r.ctx(), r.session, sealed)
}

// totpView is the authenticator-app setup page.
type totpView struct {
	Secret string
	URL    string
	CSRF   string
	Error  string
}

// totpSetupPage shows a new TOTP secret (kept with the session until it is
// confirmed) and asks for a code of it.
func (h securityPages) totpSetupPage(r *request) error {
	if !h.recent(r) {
		return h.askReauth(r)
	}
	types, err := h.mfa.Types(r.ctx(), r.user.ID)
	if err != nil {
		return err
	}
	if slices.Contains(types, mfa.TypeTOTP) {
		return h.redirectWith(r, securityPath, Flash{Kind: "info", Message: "An authenticator app is already set up."})
	}
	e, err := h.enrollmentOf(r)
	if err != nil {
		return err
	}
	if e.TOTPSecret == "" {
		e.TOTPSecret = mfa.NewTOTPSecret()
		if err := h.saveEnrollment(r, e); err != nil {
			return err
		}
	}
	return h.renderTOTP(r, fiber.StatusOK, e.TOTPSecret, "")
}

func (h securityPages) renderTOTP(r *request, status int, secret, problem string) error {
	v := totpView{Secret: secret, URL: mfa.TOTPURL(secret, r.user.Email, "Hallpass console", consoleMFA), CSRF: r.session.CSRF, Error: problem}
	return h.render(r, status, "Set up an authenticator app", totpSetupPage(v), active("account", ""), securityCrumbs("Authenticator app"))
}

// enableTOTP confirms the shown secret with a code of it.
func (h securityPages) enableTOTP(r *request) error {
	if !h.recent(r) {
		return h.askReauth(r)
	}
	ctx := r.ctx()
	e, err := h.enrollmentOf(r)
	if err != nil {
		return err
	}
	if e.TOTPSecret == "" {
		return r.c.Redirect(securityPath+"/totp", fiber.StatusSeeOther)
	}
	_, err = h.mfa.ActivateTOTP(ctx, r.user.ID, e.TOTPSecret, r.c.FormValue("code"), consoleMFA)
	switch {
	case errors.Is(err, mfa.ErrIncorrectCode):
		return h.renderTOTP(r, fiber.StatusUnprocessableEntity, e.TOTPSecret,
			"That code is not right. Check that your phone's clock is right and type the code the app shows now.")
	case errors.Is(err, mfa.ErrAlreadyActive):
		e.TOTPSecret = ""
		if err := h.saveEnrollment(r, e); err != nil {
			return err
		}
		return h.redirectWith(r, securityPath, Flash{Kind: "info", Message: "An authenticator app is already set up."})
	case err != nil:
		return err
	}
	e.TOTPSecret = ""
	if err := h.saveEnrollment(r, e); err != nil {
		return err
	}
	if err := h.auditPlatform(ctx, actor(r.user), "console.mfa.totp.enable", r.user.Email, clientip.Peer(r.c), nil); err != nil {
		return err
	}
	return h.afterFactorAdded(r, "Authenticator app enabled: signing in now asks for a code from it.")
}

// afterFactorAdded generates recovery codes with the first factor and shows
// them, once; otherwise back to the Security page.
func (h securityPages) afterFactorAdded(r *request, msg string) error {
	rc, err := h.mfa.EnsureRecoveryCodes(r.ctx(), r.user.ID, consoleMFA)
	if err != nil {
		return err
	}
	if rc == nil {
		return h.redirectWith(r, securityPath, Flash{Kind: "success", Message: msg})
	}
	if err := h.auditPlatform(r.ctx(), actor(r.user), "console.mfa.recovery_codes.generate", r.user.Email, clientip.Peer(r.c),
		map[string]any{"count": len(rc.UnusedCodes)}); err != nil {
		return err
	}
	return h.renderCodes(r, msg, rc.UnusedCodes)
}

func (h securityPages) renderCodes(r *request, msg string, codes []string) error {
	return h.render(r, fiber.StatusOK, "Recovery codes", recoveryCodesPage(msg, codes), active("account", ""), securityCrumbs("Recovery codes"))
}

// disableTOTP removes the authenticator app (and the recovery codes when no
// passkey is left).
func (h securityPages) disableTOTP(r *request) error {
	if !h.recent(r) {
		return h.askReauth(r)
	}
	removed, err := h.mfa.DeactivateTOTP(r.ctx(), r.user.ID)
	if errors.Is(err, mfa.ErrNotFound) {
		return h.redirectWith(r, securityPath, Flash{Kind: "info", Message: "No authenticator app was set up."})
	}
	if err != nil {
		return err
	}
	if err := h.auditPlatform(r.ctx(), actor(r.user), "console.mfa.totp.disable", r.user.Email, clientip.Peer(r.c),
		map[string]any{"removed": removedTypes(removed)}); err != nil {
		return err
	}
	return h.redirectWith(r, securityPath, Flash{Kind: "success", Message: "Authenticator app removed." + codesGone(removed)})
}

// regenerateCodes replaces the recovery codes and shows the new ones, once.
func (h securityPages) regenerateCodes(r *request) error {
	if !h.recent(r) {
		return h.askReauth(r)
	}
	rc, err := h.mfa.GenerateRecoveryCodes(r.ctx(), r.user.ID, consoleMFA)
	if errors.Is(err, mfa.ErrCannotGenerateRecoveryCodes) {
		return h.redirectWith(r, securityPath, Flash{Kind: "error", Message: "Recovery codes need an authenticator app or a passkey first."})
	}
	if err != nil {
		return err
	}
	if err := h.auditPlatform(r.ctx(), actor(r.user), "console.mfa.recovery_codes.generate", r.user.Email, clientip.Peer(r.c),
		map[string]any{"count": len(rc.UnusedCodes), "replaced": true}); err != nil {
		return err
	}
	return h.renderCodes(r, "New recovery codes generated: the old ones no longer work.", rc.UnusedCodes)
}

// passkeyCreationOptions starts adding a passkey and answers the creation
// options as JSON (web/static/webauthn.js calls it).
func (h securityPages) passkeyCreationOptions(r *request) error {
	if h.relyingParty == nil {
		return errNotFound
	}
	if !h.recent(r) {
		return jsonError(r.c, fiber.StatusForbidden, "Confirm your password first (reload the page).")
	}
	wu, err := h.mfa.WebAuthnUser(r.ctx(), r.user.ID, r.user.Email)
	if err != nil {
		return err
	}
	opts, state, err := mfa.BeginConsoleRegistration(h.relyingParty, wu, true)
	if err != nil {
		return err
	}
	e, err := h.enrollmentOf(r)
	if err != nil {
		return err
	}
	e.WebAuthn = state
	if err := h.saveEnrollment(r, e); err != nil {
		return err
	}
	return sendOptions(r.c, opts)
}

// addPasskey stores the passkey the browser created for the started
// ceremony (which is used up either way).
func (h securityPages) addPasskey(r *request) error {
	if h.relyingParty == nil {
		return errNotFound
	}
	if !h.recent(r) {
		return h.askReauth(r)
	}
	e, err := h.enrollmentOf(r)
	if err != nil {
		return err
	}
	state := e.WebAuthn
	e.WebAuthn = nil
	if err := h.saveEnrollment(r, e); err != nil {
		return err
	}
	wu, err := h.mfa.WebAuthnUser(r.ctx(), r.user.ID, r.user.Email)
	if err != nil {
		return err
	}
	a, err := h.mfa.FinishRegistration(r.ctx(), h.relyingParty, wu, state, []byte(r.c.FormValue("credential")), r.c.FormValue("name"))
	var me *mfa.Error
	switch {
	case errors.As(err, &me) && me.Code == mfa.CodeMaxLength:
		return h.redirectWith(r, securityPath, Flash{Kind: "error", Message: "A passkey name can have at most 100 characters. Nothing was added."})
	case errors.As(err, &me):
		return h.redirectWith(r, securityPath, Flash{Kind: "error",
			Message: "The passkey could not be added: the browser's answer did not verify, or the passkey is registered already. Please try again."})
	case err != nil:
		return err
	}
	if err := h.auditPlatform(r.ctx(), actor(r.user), "console.mfa.webauthn.add", r.user.Email, clientip.Peer(r.c),
		map[string]any{"id": a.ID, "name": a.Name}); err != nil {
		return err
	}
	return h.afterFactorAdded(r, fmt.Sprintf("Passkey %q added: you can sign in with it, or use it as your second step.", a.Name))
}

// passkeyID is the route's :id, one of the user's passkeys or not.
func passkeyID(r *request) (int64, error) {
	id, err := strconv.ParseInt(r.c.Params("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, errNotFound
	}
	return id, nil
}

// renamePasskey renames one of the user's passkeys.
func (h securityPages) renamePasskey(r *request) error {
	if !h.recent(r) {
		return h.askReauth(r)
	}
	id, err := passkeyID(r)
	if err != nil {
		return err
	}
	a, err := h.mfa.RenameWebAuthn(r.ctx(), r.user.ID, id, r.c.FormValue("name"))
	var me *mfa.Error
	switch {
	case errors.As(err, &me) && me.Code == mfa.CodeInvalidChoice:
		return errNotFound
	case errors.As(err, &me):
		return h.redirectWith(r, securityPath, Flash{Kind: "error", Message: "Not renamed: " + strings.TrimSuffix(me.Message, ".") + "."})
	case err != nil:
		return err
	}
	if err := h.auditPlatform(r.ctx(), actor(r.user), "console.mfa.webauthn.rename", r.user.Email, clientip.Peer(r.c),
		map[string]any{"id": a.ID, "name": a.Name}); err != nil {
		return err
	}
	return h.redirectWith(r, securityPath, Flash{Kind: "success", Message: fmt.Sprintf("Passkey renamed to %q.", a.Name)})
}

// removePasskey removes one of the user's passkeys (and the recovery codes
// when no other factor is left).
func (h securityPages) removePasskey(r *request) error {
	if !h.recent(r) {
		return h.askReauth(r)
	}
	id, err := passkeyID(r)
	if err != nil {
		return err
	}
	removed, err := h.mfa.DeleteWebAuthn(r.ctx(), r.user.ID, id)
	if errors.Is(err, mfa.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	if err := h.auditPlatform(r.ctx(), actor(r.user), "console.mfa.webauthn.remove", r.user.Email, clientip.Peer(r.c),
		map[string]any{"id": id, "name": removed[0].Name, "removed": removedTypes(removed)}); err != nil {
		return err
	}
	return h.redirectWith(r, securityPath, Flash{Kind: "success", Message: fmt.Sprintf("Passkey %q removed.", removed[0].Name) + codesGone(removed)})
}

func removedTypes(list []*mfa.Authenticator) []string {
	out := make([]string, 0, len(list))
	for _, a := range list {
		out = append(out, a.Type)
	}
	return out
}

// codesGone tells that the recovery codes went with the last factor.
func codesGone(removed []*mfa.Authenticator) string {
	if slices.Contains(removedTypes(removed), mfa.TypeRecoveryCodes) {
		return " It was your last second factor, so your recovery codes were removed too: signing in needs only your password now."
	}
	return ""
}
