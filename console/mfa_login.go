package console

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/clientip"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/tenants"
)

// The second step of a console sign-in, and passkey sign-in.
//
// A password that passes for a user with an authenticator app or a passkey
// opens no session: it starts a pending flow (mfa_flows.go) bound to this
// browser by a cookie, and the session opens only once a TOTP code, a
// recovery code or a passkey passes at login/mfa. The checks are
// internal/mfa's, as for tenant users: each TOTP code passes once, each
// recovery code once, a passkey's signature counter must grow and each
// ceremony passes once. Wrong answers count against the client address as
// wrong passwords do, and end the flow after flowMaxFailures. Every answer
// also takes one of the user's tries (secondFactorRules) before it is
// checked, so restarting the flow, or sending answers in parallel, gains
// an attacker who has the password nothing.

// consoleMFA are the MFA rules of the console: allauth's defaults (6-digit
// codes every 30 seconds, ten 8-digit recovery codes), one step of clock
// drift either way, and recovery codes shown only when generated.
var consoleMFA = &tenants.Settings{
	MFASupportedTypes:        []string{mfa.TypeRecoveryCodes, mfa.TypeTOTP, mfa.TypeWebAuthn},
	MFATOTPDigits:            6,
	MFATOTPPeriod:            30,
	MFATOTPTolerance:         1,
	MFATOTPIssuer:            "Hallpass console",
	MFARecoveryCodeCount:     10,
	MFARecoveryCodeDigits:    8,
	MFARecoveryCodesShowOnce: true,
}

// secondFactorRules limit a console user's second factor as allauth's
// default login_failed rule limits a tenant user's (5/300s for the key
// "mfa-auth-user-<id>"): five wrong codes or passkeys per five minutes,
// whatever the number of sign-ins, browsers, nodes or addresses they come
// from. A right answer clears the count.
var secondFactorRules = []ratelimit.Rule{{Amount: 5, Period: 5 * time.Minute, Per: ratelimit.PerKey}}

// Limiter actions of the console's second step; counters of the platform
// (tenant id uuid.Nil), keyed by the console user.
const (
	secondFactorAction       = "console_second_factor"
	auditSecondFactorFailed  = "audit_console_second_factor_failed"
	auditSecondFactorLimited = "audit_console_second_factor_limited"
)

func secondFactorKey(user *User) ratelimit.Subject {
	return ratelimit.Subject{Key: "console-mfa-user-" + user.ID.String()}
}

// trySecondFactor takes one of user's second-factor tries before the
// answer is checked; when none is left it renders the refusal (done is
// true), audited once per window.
func (h secondFactorPages) trySecondFactor(r *request, v *mfaStepView, user *User) (done bool, err error) {
	ok, err := h.cfg.Limiter.Allow(r.ctx(), uuid.Nil, secondFactorAction, secondFactorRules, secondFactorKey(user))
	if err != nil {
		return true, err
	}
	if ok {
		return false, nil
	}
	c := r.c
	if h.firstInWindow(r.ctx(), auditSecondFactorLimited, user) {
		if err := h.auditPlatform(r.ctx(), actor(user), "console.login.throttled", user.Email, clientip.Peer(c),
			map[string]any{"step": "mfa", "per": "user"}); err != nil {
			return true, err
		}
	}
	v.Error = "Too many wrong codes for this account. Try again in a few minutes."
	v.Blocked = true
	c.Set(fiber.HeaderRetryAfter, strconv.Itoa(int(secondFactorRules[0].Period.Seconds())))
	return true, h.render(r, fiber.StatusTooManyRequests, "Two-factor authentication", mfaStepPage(*v))
}

// secondFactorPassed gives back the try of an answer that passed and
// clears user's count.
func (h secondFactorPages) secondFactorPassed(ctx context.Context, user *User) error {
	if err := h.cfg.Limiter.Undo(ctx, uuid.Nil, secondFactorAction, secondFactorRules, secondFactorKey(user)); err != nil {
		return err
	}
	return h.cfg.Limiter.Clear(ctx, uuid.Nil, secondFactorAction, secondFactorRules, secondFactorKey(user))
}

// secondFactorUnchecked gives back the try of an answer that could not be
// checked (a store failed): it says nothing about the answer.
func (h secondFactorPages) secondFactorUnchecked(ctx context.Context, user *User) {
	_ = h.cfg.Limiter.Undo(ctx, uuid.Nil, secondFactorAction, secondFactorRules, secondFactorKey(user))
}

// firstInWindow reports whether this is the first event of kind for user
// in the limit's window, so that a burst of wrong answers is audited once,
// not per guess. A limiter failure counts as first: better one row too
// many than none.
func (h secondFactorPages) firstInWindow(ctx context.Context, kind string, user *User) bool {
	first, err := h.cfg.Limiter.Allow(ctx, uuid.Nil, kind,
		[]ratelimit.Rule{{Amount: 1, Period: secondFactorRules[0].Period, Per: ratelimit.PerKey}}, secondFactorKey(user))
	return first || err != nil
}

// needsSecondFactor reports whether signing the user in needs more than the
// password: an authenticator app or a passkey (recovery codes alone are no
// factor; they stand in for one).
func (h secondFactorPages) needsSecondFactor(ctx context.Context, userID uuid.UUID) (bool, error) {
	types, err := h.mfa.Types(ctx, userID)
	if err != nil {
		return false, err
	}
	return slices.Contains(types, mfa.TypeTOTP) || slices.Contains(types, mfa.TypeWebAuthn), nil
}

// startSecondFactor parks a sign-in whose password passed until its second
// factor does.
func (h secondFactorPages) startSecondFactor(r *request, user *User, next string) error {
	c := r.c
	token, fl, err := h.flows.create(r.ctx(), user.ID, next)
	if err != nil {
		return err
	}
	if err := h.auditPlatform(r.ctx(), actor(user), "console.login.second_factor", user.Email, clientip.Peer(c), nil); err != nil {
		return err
	}
	setCookie(c, flowCookieName, token, fl.ExpiresAt, h.secure)
	return c.Redirect(Root+"login/mfa", fiber.StatusSeeOther)
}

// mfaStepView is the second step's page.
type mfaStepView struct {
	Email string
	CSRF  string
	// TOTP and Codes say which codes pass (Codes: TOTP or recovery codes);
	// Passkey offers the user's passkeys.
	TOTP, Codes, Passkey bool
	Error                string
	Blocked              bool
}

// secondStep is the pending flow of this browser that waits for a second
// factor, with its user; errNoFlow when there is none.
func (h secondFactorPages) secondStep(c *fiber.Ctx) (*loginFlow, *User, error) {
	fl, err := h.flows.lookup(c.UserContext(), c.Cookies(flowCookieName))
	if err != nil {
		return nil, nil, err
	}
	if fl.UserID == uuid.Nil {
		return nil, nil, errNoFlow
	}
	user, err := h.users.ByID(c.UserContext(), fl.UserID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, errNoFlow
	}
	if err != nil {
		return nil, nil, err
	}
	return fl, user, nil
}

// flowGone sends a browser whose pending sign-in is missing, used or
// expired back to the password.
func (h secondFactorPages) flowGone(c *fiber.Ctx, why string) error {
	clearCookie(c, flowCookieName, h.secure)
	return c.Redirect(Root+"login?mfa="+why, fiber.StatusSeeOther)
}

func (h secondFactorPages) mfaStepOf(ctx context.Context, fl *loginFlow, user *User) (mfaStepView, error) {
	types, err := h.mfa.Types(ctx, fl.UserID)
	if err != nil {
		return mfaStepView{}, err
	}
	totp := slices.Contains(types, mfa.TypeTOTP)
	return mfaStepView{Email: user.Email, CSRF: fl.CSRF, TOTP: totp, Codes: totp || slices.Contains(types, mfa.TypeRecoveryCodes),
		Passkey: h.relyingParty != nil && slices.Contains(types, mfa.TypeWebAuthn)}, nil
}

// mfaPage shows the second step.
func (h secondFactorPages) mfaPage(r *request) error {
	fl, user, err := h.secondStep(r.c)
	if errors.Is(err, errNoFlow) {
		return h.flowGone(r.c, "expired")
	}
	if err != nil {
		return err
	}
	v, err := h.mfaStepOf(r.ctx(), fl, user)
	if err != nil {
		return err
	}
	return h.render(r, fiber.StatusOK, "Two-factor authentication", mfaStepPage(v))
}

// checkStep applies the checks every answer to the second step passes
// first: the flow's form token and the address's failure limit. It renders
// the refusal itself (done is true).
func (h secondFactorPages) checkStep(r *request, v *mfaStepView, fl *loginFlow, user *User) (done bool, err error) {
	c := r.c
	if !h.validPost(c, fl.CSRF) {
		v.Error = "This form expired. Please try again."
		return true, h.render(r, fiber.StatusForbidden, "Two-factor authentication", mfaStepPage(*v))
	}
	try := attemptOf(clientip.Peer(c), user.Email)
	blocked, err := h.limiter.blocked(r.ctx(), try)
	if err != nil {
		return true, err
	}
	if blocked {
		if h.limiter.firstRefusal(r.ctx(), try) {
			_ = h.auditPlatform(r.ctx(), actor(user), "console.login.throttled", user.Email, try.ip, map[string]any{"step": "mfa"})
		}
		v.Error, v.Blocked = tooManyFailures, true
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(h.limiter.retryAfter()))
		return true, h.render(r, fiber.StatusTooManyRequests, "Two-factor authentication", mfaStepPage(*v))
	}
	return false, nil
}

// openStep opens a posted second-step form: its flow, its user and the
// page's view, checked (checkStep). done means the response is decided:
// return err.
func (h secondFactorPages) openStep(r *request) (fl *loginFlow, user *User, v mfaStepView, done bool, err error) {
	fl, user, err = h.secondStep(r.c)
	if errors.Is(err, errNoFlow) {
		return nil, nil, v, true, h.flowGone(r.c, "expired")
	}
	if err != nil {
		return nil, nil, v, true, err
	}
	if v, err = h.mfaStepOf(r.ctx(), fl, user); err != nil {
		return nil, nil, v, true, err
	}
	if done, err := h.checkStep(r, &v, fl, user); done {
		return nil, nil, v, true, err
	}
	return fl, user, v, false, nil
}

// mfaVerify checks a TOTP or recovery code.
func (h secondFactorPages) mfaVerify(r *request) error {
	fl, user, v, done, err := h.openStep(r)
	if done {
		return err
	}
	if done, err := h.trySecondFactor(r, &v, user); done {
		return err
	}
	a, err := h.mfa.Authenticate(r.ctx(), fl.UserID, r.c.FormValue("code"), consoleMFA)
	if errors.Is(err, mfa.ErrIncorrectCode) {
		return h.secondFactorFailed(r, &v, fl, user, "code", "That code is not right, or was already used.")
	}
	if err != nil {
		h.secondFactorUnchecked(r.ctx(), user)
		return err
	}
	return h.finishSecondFactor(r, fl, user, a.Type)
}

// mfaPasskeyOptions starts a passkey assertion for the second step and
// answers its request options as JSON.
func (h secondFactorPages) mfaPasskeyOptions(r *request) error {
	c := r.c
	if h.relyingParty == nil {
		return errNotFound
	}
	fl, user, err := h.secondStep(c)
	if errors.Is(err, errNoFlow) {
		return jsonError(c, fiber.StatusUnauthorized, "Your sign-in expired. Please sign in again.")
	}
	if err != nil {
		return err
	}
	if !h.validPost(c, fl.CSRF) {
		return jsonError(c, fiber.StatusForbidden, "This form expired. Please reload the page.")
	}
	wu, err := h.mfa.WebAuthnUser(r.ctx(), user.ID, user.Email)
	if err != nil {
		return err
	}
	opts, state, err := mfa.BeginConsoleLogin(h.relyingParty, wu)
	if errors.Is(err, mfa.ErrNotFound) {
		return jsonError(c, fiber.StatusNotFound, "You have no passkey.")
	}
	if err != nil {
		return err
	}
	if err := h.flows.setWebAuthn(r.ctx(), fl, state); err != nil {
		return err
	}
	return sendOptions(c, opts)
}

// mfaPasskey checks the passkey assertion of the second step.
func (h secondFactorPages) mfaPasskey(r *request) error {
	if h.relyingParty == nil {
		return errNotFound
	}
	fl, user, v, done, err := h.openStep(r)
	if done {
		return err
	}
	if done, err := h.trySecondFactor(r, &v, user); done {
		return err
	}
	state, err := h.flows.takeWebAuthn(r.ctx(), fl)
	if err != nil {
		h.secondFactorUnchecked(r.ctx(), user)
		return err
	}
	a, _, err := h.mfa.FinishLogin(r.ctx(), h.relyingParty, state, []byte(r.c.FormValue("credential")), fl.UserID)
	if errors.Is(err, mfa.ErrIncorrectCode) {
		return h.secondFactorFailed(r, &v, fl, user, "webauthn", "That passkey was not accepted. Please try again.")
	}
	if err != nil {
		h.secondFactorUnchecked(r.ctx(), user)
		return err
	}
	return h.finishSecondFactor(r, fl, user, a.Type)
}

// secondFactorFailed counts a wrong answer against the address and the
// flow (its try of the user's stays taken), audits the first of a window,
// and asks again — or, past the flow's limit, sends the browser back to
// the password.
func (h secondFactorPages) secondFactorFailed(r *request, v *mfaStepView, fl *loginFlow, user *User, method, msg string) error {
	c := r.c
	if err := h.limiter.failed(r.ctx(), attemptOf(clientip.Peer(c), user.Email)); err != nil {
		return err
	}
	ended, err := h.flows.failed(r.ctx(), fl)
	if err != nil {
		return err
	}
	if h.firstInWindow(r.ctx(), auditSecondFactorFailed, user) {
		if err := h.auditPlatform(r.ctx(), actor(user), "console.login.failed", user.Email, clientip.Peer(c),
			map[string]any{"step": "mfa", "method": method, "window_seconds": int64(secondFactorRules[0].Period / time.Second)}); err != nil {
			return err
		}
	}
	if ended {
		return h.flowGone(c, "failed")
	}
	v.Error = msg
	return h.render(r, fiber.StatusUnauthorized, "Two-factor authentication", mfaStepPage(*v))
}

// finishSecondFactor ends the flow — once: a request racing this one finds
// it gone — and opens the session.
func (h secondFactorPages) finishSecondFactor(r *request, fl *loginFlow, user *User, method string) error {
	if err := h.secondFactorPassed(r.ctx(), user); err != nil {
		return err
	}
	ok, err := h.flows.consume(r.ctx(), fl)
	if err != nil {
		return err
	}
	if !ok {
		return h.flowGone(r.c, "expired")
	}
	return h.openSession(r, user, fl.Next, map[string]any{"method": "password", "mfa": method})
}

// passkeyOptions starts a passkey sign-in from the sign-in page (no email,
// no password: the browser offers the console's passkeys, and one that
// verifies its user is both factors) and answers the request options.
func (h secondFactorPages) passkeyOptions(r *request) error {
	c := r.c
	if h.relyingParty == nil {
		return errNotFound
	}
	if !h.validPost(c, c.Cookies(loginCookieName)) {
		return jsonError(c, fiber.StatusForbidden, "The sign-in form expired. Please reload the page.")
	}
	blocked, err := h.limiter.blocked(r.ctx(), attempt{ip: clientip.Peer(c)})
	if err != nil {
		return err
	}
	if blocked {
		return jsonError(c, fiber.StatusTooManyRequests, "Too many failed sign-ins from your network. Try again later.")
	}
	opts, state, err := mfa.BeginConsoleLogin(h.relyingParty, nil)
	if err != nil {
		return err
	}
	token, fl, err := h.flows.create(r.ctx(), uuid.Nil, safeNext(c.FormValue("next")))
	if err != nil {
		return err
	}
	if err := h.flows.setWebAuthn(r.ctx(), fl, state); err != nil {
		return err
	}
	setCookie(c, flowCookieName, token, fl.ExpiresAt, h.secure)
	return sendOptions(c, opts)
}

// passkeyLogin checks the assertion of a passkey sign-in and opens the
// session of the passkey's owner.
func (h secondFactorPages) passkeyLogin(r *request) error {
	c := r.c
	ctx := r.ctx()
	if h.relyingParty == nil {
		return errNotFound
	}
	f := loginForm{Next: safeNext(c.FormValue("next")), Passkeys: true}
	if !h.validPost(c, c.Cookies(loginCookieName)) {
		f.CSRF = h.loginToken(c)
		f.Error = "The sign-in form expired. Please try again."
		return h.render(r, fiber.StatusForbidden, "Sign in", loginPage(f))
	}
	f.CSRF = c.Cookies(loginCookieName)
	blocked, err := h.limiter.blocked(ctx, attempt{ip: clientip.Peer(c)})
	if err != nil {
		return err
	}
	if blocked {
		f.Error, f.Blocked = "Too many failed sign-ins from your network. Try again later.", true
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(h.limiter.retryAfter()))
		return h.render(r, fiber.StatusTooManyRequests, "Sign in", loginPage(f))
	}
	fl, err := h.flows.lookup(ctx, c.Cookies(flowCookieName))
	if errors.Is(err, errNoFlow) || (err == nil && fl.UserID != uuid.Nil) {
		clearCookie(c, flowCookieName, h.secure)
		f.Error = "The passkey sign-in expired. Please try again."
		return h.render(r, fiber.StatusUnauthorized, "Sign in", loginPage(f))
	}
	if err != nil {
		return err
	}
	state, err := h.flows.takeWebAuthn(ctx, fl)
	if err != nil {
		return err
	}
	a, owner, err := h.mfa.FinishLogin(ctx, h.relyingParty, state, []byte(c.FormValue("credential")), uuid.Nil)
	if err != nil && !errors.Is(err, mfa.ErrIncorrectCode) {
		return err
	}
	// One ceremony per flow: whatever the answer, this flow is done.
	ok, cerr := h.flows.consume(ctx, fl)
	if cerr != nil {
		return cerr
	}
	if err != nil || !ok {
		clearCookie(c, flowCookieName, h.secure)
		if err := h.limiter.failed(ctx, attempt{ip: clientip.Peer(c)}); err != nil {
			return err
		}
		if err := h.auditPlatform(ctx, "anonymous", "console.login.failed", "", clientip.Peer(c), map[string]any{"method": "passkey"}); err != nil {
			return err
		}
		f.Error = "That passkey was not accepted."
		return h.render(r, fiber.StatusUnauthorized, "Sign in", loginPage(f))
	}
	user, err := h.users.ByID(ctx, owner)
	if err != nil {
		return err
	}
	return h.openSession(r, user, fl.Next, map[string]any{"method": "passkey", "mfa": a.Type})
}

// sendOptions answers WebAuthn options as navigator.credentials takes
// them: {"publicKey": options}.
func sendOptions(c *fiber.Ctx, options []byte) error {
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	return c.Send(append(append([]byte(`{"publicKey":`), options...), '}'))
}

// jsonError answers a script's request with a message to show.
func jsonError(c *fiber.Ctx, status int, msg string) error {
	return c.Status(status).JSON(fiber.Map{"error": msg})
}
