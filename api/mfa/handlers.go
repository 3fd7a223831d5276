// Package mfa serves allauth's headless MFA endpoints: the mfa_authenticate
// and mfa_trust stages, MFA reauthentication, TOTP, recovery codes and
// WebAuthn (security keys, passkey login and passkey signup). The rules
// live in internal/mfa; this package parses, checks the session's state and
// shapes allauth's responses.
package mfa

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/identity"
	domain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/internal/sessions"
)

// Ceremony purposes kept in the session.
const (
	ceremonyAdd            = "add"
	ceremonyAuthenticate   = "authenticate"
	ceremonyReauthenticate = "reauthenticate"
	ceremonyLogin          = "login"
	ceremonySignup         = "signup"
)

// Handlers serve the MFA slice.
type Handlers struct {
	*api.Headless
	Store  *domain.Store
	Sealer *seal.Sealer
}

// Register adds the MFA routes (each gated by the route catalog).
func (h *Handlers) Register(r api.Routes) {
	r.Post("/auth/2fa/authenticate", h.Authenticate)
	r.Post("/auth/2fa/reauthenticate", h.Reauthenticate)
	r.Post("/auth/2fa/trust", h.Trust)
	r.Get("/account/authenticators", h.List)
	r.Get("/account/authenticators/totp", h.TOTPStatus)
	r.Post("/account/authenticators/totp", h.ActivateTOTP)
	r.Delete("/account/authenticators/totp", h.DeactivateTOTP)
	r.Get("/account/authenticators/recovery-codes", h.RecoveryCodes)
	r.Post("/account/authenticators/recovery-codes", h.RegenerateRecoveryCodes)
	r.Get("/account/authenticators/webauthn", h.WebAuthnCreationOptions)
	r.Post("/account/authenticators/webauthn", h.AddWebAuthn)
	r.Put("/account/authenticators/webauthn", h.RenameWebAuthn)
	r.Delete("/account/authenticators/webauthn", h.DeleteWebAuthn)
	r.Get("/auth/webauthn/authenticate", h.WebAuthnAuthenticateOptions)
	r.Post("/auth/webauthn/authenticate", h.WebAuthnAuthenticate)
	r.Get("/auth/webauthn/reauthenticate", h.WebAuthnReauthenticateOptions)
	r.Post("/auth/webauthn/reauthenticate", h.WebAuthnReauthenticate)
	r.Get("/auth/webauthn/login", h.PasskeyLoginOptions)
	r.Post("/auth/webauthn/login", h.PasskeyLogin)
	r.Post("/auth/webauthn/signup", h.PasskeySignupStart)
	r.Get("/auth/webauthn/signup", h.PasskeySignupOptions)
	r.Put("/auth/webauthn/signup", h.PasskeySignupFinish)
}

// body is the request's JSON object.
type body struct{ api.Body }

func parse(c *fiber.Ctx) (body, error) {
	b, err := api.ParseBody(c)
	return body{b}, err
}

// str reads an optional string field.
func (b body) str(name string) (string, error) {
	s, _, e := b.Str(name)
	if e != nil {
		return "", &api.InputError{Errors: []api.ErrorItem{*e}}
	}
	return s, nil
}

// credential returns the raw PublicKeyCredential.toJSON() object.
func (b body) credential() ([]byte, error) {
	raw, ok := b.Body["credential"]
	if !ok || string(raw) == "null" {
		return nil, api.FieldError("credential", "required", "This field is required.")
	}
	var probe map[string]any
	if json.Unmarshal(raw, &probe) != nil {
		return nil, api.FieldError("credential", "invalid", "Enter a valid value.")
	}
	return raw, nil
}

// fail maps the MFA and account domains' errors to allauth's answers.
func (h *Handlers) fail(c *fiber.Ctx, err error) error {
	var me *domain.Error
	var ce *conflictError
	switch {
	case errors.As(err, &ce):
		return &api.StatusError{Status: fiber.StatusConflict, Errors: []api.ErrorItem{{Message: ce.message, Code: ce.code}}}
	case errors.Is(err, identity.ErrNotAuthenticated):
		return h.RespondAuth(c)
	case errors.Is(err, identity.ErrReauthenticationRequired):
		return h.RespondReauth(c)
	case errors.Is(err, domain.ErrAlreadyActive):
		return api.ErrConflict
	case errors.As(err, &me):
		return &api.InputError{Errors: []api.ErrorItem{{Message: me.Message, Code: me.Code, Param: me.Param}}}
	}
	var ie identity.Errors
	if errors.As(err, &ie) {
		out := &api.InputError{}
		for _, e := range ie {
			out.Errors = append(out.Errors, api.ErrorItem{Message: e.Message, Code: e.Code, Param: e.Param})
		}
		return out
	}
	switch {
	case errors.Is(err, identity.ErrConflict):
		return api.ErrConflict
	case errors.Is(err, identity.ErrSignupClosed):
		return api.ErrForbidden
	case errors.Is(err, identity.ErrRateLimited):
		return api.ErrRateLimited
	}
	return err
}

// tryFactor starts a try of a user's second factor of kind: allauth's
// login_failed limit for the user, consumed before the factor is checked
// (identity.SecondFactorTry). It answers too_many_login_attempts itself.
func (h *Handlers) tryFactor(c *fiber.Ctx, userID int64, kind string, reauthentication bool) (*identity.SecondFactorTry, error) {
	try, err := h.Accounts.TrySecondFactor(c.UserContext(), api.Tenant(c), userID, api.Request(c), kind, reauthentication)
	if err != nil {
		return nil, h.fail(c, err)
	}
	return try, nil
}

// endFactor ends a try with the check's outcome: passed (err nil), wrong
// (incorrect_code: counted, audited once per burst) or not checked (a store
// failed: given back). It returns the answer for err, if any.
func (h *Handlers) endFactor(c *fiber.Ctx, try *identity.SecondFactorTry, err error) error {
	ctx := c.UserContext()
	switch {
	case err == nil:
		return try.Passed(ctx)
	case errors.Is(err, domain.ErrIncorrectCode):
		if ferr := try.Failed(ctx); ferr != nil {
			return ferr
		}
	default:
		try.Abort(ctx)
	}
	if err == nil {
		return nil
	}
	return h.fail(c, err)
}

// recent requires a logged-in user who authenticated recently: every MFA
// management call does, as allauth's.
func (h *Handlers) recent(c *fiber.Ctx) error {
	return h.Accounts.RequireRecent(api.Tenant(c), api.Session(c))
}

// relyingParty is the tenant's WebAuthn relying party for this request; a
// tenant whose frontend cannot run WebAuthn (e.g. plain http on a public
// host) gets a clear 409 rather than a failure.
func (h *Handlers) relyingParty(c *fiber.Ctx) (*webauthn.Config, error) {
	t := api.Tenant(c)
	cfg, err := t.Settings.WebAuthnConfig(t.Name, api.TenantBaseURL(c))
	if err != nil {
		return nil, &conflictError{code: "webauthn_unavailable", message: err.Error()}
	}
	return cfg, nil
}

// conflictError is a 409 that carries errors (as allauth's MFA 409s do).
type conflictError struct{ code, message string }

func (e *conflictError) Error() string { return e.message }

func (h *Handlers) user(c *fiber.Ctx, userID int64) (*domain.WebAuthnUser, error) {
	t := api.Tenant(c)
	u, err := h.Accounts.Store.User(c.UserContext(), t.ID, userID)
	if err != nil {
		return nil, err
	}
	name := u.Username
	if name == "" {
		name = u.PrimaryEmail
	}
	return h.Store.WebAuthnUser(c.UserContext(), t.ID, userID, name, u.Display())
}

func record(a *domain.Authenticator) sessions.AuthRecord {
	rec := sessions.AuthRecord{Method: "mfa", Type: a.Type}
	if a.Type != domain.TypeTOTP {
		rec.ID = a.ID
	}
	return rec
}

// Authenticate handles POST auth/2fa/authenticate ({code}: TOTP or a
// recovery code) for the mfa_authenticate stage.
func (h *Handlers) Authenticate(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	login := h.Accounts.PendingStage(t, sess)
	if login == nil || login.Stage != identity.StageMFAAuthenticate {
		return h.RespondAuth(c, fiber.StatusUnauthorized)
	}
	b, err := parse(c)
	if err != nil {
		return err
	}
	code, err := b.str("code")
	if err != nil {
		return err
	}
	if code == "" {
		return api.FieldError("code", "required", "This field is required.")
	}
	try, err := h.tryFactor(c, login.UserID, identity.FactorCode, false)
	if err != nil {
		return err
	}
	a, err := h.Store.Authenticate(c.UserContext(), t.ID, login.UserID, code, t.Settings)
	if err := h.endFactor(c, try, err); err != nil {
		return err
	}
	h.Accounts.RecordMethod(sess, record(a))
	if err := h.Accounts.Continue(c.UserContext(), t, sess, identity.StageMFAAuthenticate, api.Request(c)); err != nil {
		return h.fail(c, err)
	}
	if sess.Authenticated() {
		api.RotateCSRF(c)
	}
	return h.RespondAuth(c)
}

// Reauthenticate handles POST auth/2fa/reauthenticate.
func (h *Handlers) Reauthenticate(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if !sess.Authenticated() {
		return h.RespondAuth(c)
	}
	b, err := parse(c)
	if err != nil {
		return err
	}
	code, err := b.str("code")
	if err != nil {
		return err
	}
	if code == "" {
		return api.FieldError("code", "required", "This field is required.")
	}
	try, err := h.tryFactor(c, sess.State.UserID, identity.FactorCode, true)
	if err != nil {
		return err
	}
	a, err := h.Store.Authenticate(c.UserContext(), t.ID, sess.State.UserID, code, t.Settings)
	if err := h.endFactor(c, try, err); err != nil {
		return err
	}
	rec := record(a)
	rec.Reauthenticated = true
	h.Accounts.RecordMethod(sess, rec)
	return h.RespondAuth(c)
}

// Trust handles POST auth/2fa/trust ({trust: bool}) for the mfa_trust
// stage: trusting sets a signed cookie that skips MFA on this browser for
// MFA_TRUST_COOKIE_AGE, until the user's authenticators change.
func (h *Handlers) Trust(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	login := h.Accounts.PendingStage(t, sess)
	if login == nil || login.Stage != identity.StageMFATrust {
		return h.RespondAuth(c, fiber.StatusUnauthorized)
	}
	b, err := parse(c)
	if err != nil {
		return err
	}
	var trust bool
	if raw, ok := b.Body["trust"]; !ok || json.Unmarshal(raw, &trust) != nil {
		return api.FieldError("trust", "required", "This field is required.")
	}
	if trust {
		value, until, err := h.Accounts.TrustCookie(c.UserContext(), t, login.UserID)
		if err != nil {
			return err
		}
		// The cookie stays in the tenant's own cookie space whatever the
		// stored settings say: never a platform name, never a Domain (it
		// is host-only), never a path outside the tenant's base.
		s := t.Settings
		c.Cookie(&fiber.Cookie{Name: s.TrustCookieName(), Value: value, Path: s.TrustCookiePath(api.CookiePath(c)),
			Expires: until, MaxAge: int(time.Until(until).Seconds()), HTTPOnly: s.MFATrustCookieHTTPOnly,
			Secure: s.MFATrustCookieSecure || c.Protocol() == "https", SameSite: s.MFATrustCookieSameSite})
	}
	if err := h.Accounts.Continue(c.UserContext(), t, sess, identity.StageMFATrust, api.Request(c)); err != nil {
		return h.fail(c, err)
	}
	if sess.Authenticated() {
		api.RotateCSRF(c)
	}
	return h.RespondAuth(c)
}
