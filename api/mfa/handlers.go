// Package mfa serves allauth's headless MFA endpoints: the mfa_authenticate
// and mfa_trust stages, MFA reauthentication, TOTP, recovery codes and
// WebAuthn (security keys, passkey login and passkey signup). The rules
// live in internal/mfa; this package parses (inputs.go), checks the
// session's state (handlers.go, manage.go, webauthn.go) and shapes
// allauth's responses (responses.go); the domain's refusals go to
// api.ErrorHandler as they are.
package mfa

import (
	"errors"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/api/base"
	"github.com/hallpass/hallpass/internal/identity"
	domain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/tenants"
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

// webAuthnHandlers are the WebAuthn login method's endpoints (webauthn.go):
// security keys, passkey login and passkey signup.
type webAuthnHandlers struct{ *Handlers }

// Rules of the MFA routes.
var (
	mfaApp = api.AppEnabled(tenants.AppMFA)
	// passkeyLogin: passkeys may log users in.
	passkeyLogin = api.Rule{Text: "webauthn and MFA_PASSKEY_LOGIN_ENABLED",
		When: func(s *tenants.Settings) bool { return mfaType("webauthn").When(s) && s.MFAPasskeyLoginEnabled }}
	// passkeySignup: users may sign up with a passkey.
	passkeySignup = api.Rule{Text: "webauthn and MFA_PASSKEY_SIGNUP_ENABLED",
		When: func(s *tenants.Settings) bool { return mfaType("webauthn").When(s) && s.MFAPasskeySignupEnabled }}
	// trustRule: a browser may be trusted to skip MFA.
	trustRule = api.Rule{Text: "MFA_TRUST_ENABLED, browser client",
		When: func(s *tenants.Settings) bool { return mfaApp.When(s) && s.MFATrustEnabled }}
)

// mfaType is the rule of one authenticator type's routes: mfa is enabled
// and typ is in MFA_SUPPORTED_TYPES.
func mfaType(typ string) api.Rule {
	return api.Rule{Text: typ + " in MFA_SUPPORTED_TYPES", When: func(s *tenants.Settings) bool {
		return slices.Contains(s.Apps, tenants.AppMFA) && slices.Contains(s.MFASupportedTypes, typ)
	}}
}

// Routes are the MFA slice's endpoints, in catalog order: the stages and
// the authenticator list, then each login method's own routes (TOTP,
// recovery codes, WebAuthn), then browser trust.
func (h *Handlers) Routes() []api.Route {
	const get, post = fiber.MethodGet, fiber.MethodPost
	routes := []api.Route{
		{Method: post, Path: "/auth/2fa/authenticate", Rule: mfaApp, Handler: h.Authenticate},
		{Method: post, Path: "/auth/2fa/reauthenticate", Rule: mfaApp, Handler: h.Reauthenticate},
		{Method: get, Path: "/account/authenticators", Rule: mfaApp, Handler: h.List},
	}
	routes = append(routes, h.totpRoutes()...)
	routes = append(routes, h.recoveryCodeRoutes()...)
	routes = append(routes, h.webAuthnRoutes()...)
	return append(routes, api.Route{Method: post, Path: "/auth/2fa/trust", Client: api.ClientBrowser, Rule: trustRule, Handler: h.Trust})
}

// totpRoutes are the routes of the TOTP login method (login.MethodTOTP).
func (h *Handlers) totpRoutes() []api.Route {
	totp := mfaType(domain.TypeTOTP)
	return []api.Route{
		{Method: fiber.MethodGet, Path: "/account/authenticators/totp", Rule: totp, Handler: h.TOTPStatus},
		{Method: fiber.MethodPost, Path: "/account/authenticators/totp", Rule: totp, Handler: h.ActivateTOTP},
		{Method: fiber.MethodDelete, Path: "/account/authenticators/totp", Rule: totp, Handler: h.DeactivateTOTP},
	}
}

// recoveryCodeRoutes are the routes of the recovery codes login method
// (login.MethodRecoveryCodes).
func (h *Handlers) recoveryCodeRoutes() []api.Route {
	codes := mfaType(domain.TypeRecoveryCodes)
	return []api.Route{
		{Method: fiber.MethodGet, Path: "/account/authenticators/recovery-codes", Rule: codes, Handler: h.RecoveryCodes},
		{Method: fiber.MethodPost, Path: "/account/authenticators/recovery-codes", Rule: codes, Handler: h.RegenerateRecoveryCodes},
	}
}

// webAuthnRoutes are the routes of the WebAuthn login method
// (login.MethodWebAuthn): security keys, passkey login and passkey signup.
func (h *Handlers) webAuthnRoutes() []api.Route {
	keys := mfaType(domain.TypeWebAuthn)
	w := webAuthnHandlers{h}
	const get, post, put, del = fiber.MethodGet, fiber.MethodPost, fiber.MethodPut, fiber.MethodDelete
	return []api.Route{
		{Method: get, Path: "/account/authenticators/webauthn", Rule: keys, Handler: w.WebAuthnCreationOptions},
		{Method: post, Path: "/account/authenticators/webauthn", Rule: keys, Handler: w.AddWebAuthn},
		{Method: put, Path: "/account/authenticators/webauthn", Rule: keys, Handler: w.RenameWebAuthn},
		{Method: del, Path: "/account/authenticators/webauthn", Rule: keys, Handler: w.DeleteWebAuthn},
		{Method: get, Path: "/auth/webauthn/authenticate", Rule: keys, Handler: w.WebAuthnAuthenticateOptions},
		{Method: post, Path: "/auth/webauthn/authenticate", Rule: keys, Handler: w.WebAuthnAuthenticate},
		{Method: get, Path: "/auth/webauthn/reauthenticate", Rule: keys, Handler: w.WebAuthnReauthenticateOptions},
		{Method: post, Path: "/auth/webauthn/reauthenticate", Rule: keys, Handler: w.WebAuthnReauthenticate},
		{Method: get, Path: "/auth/webauthn/login", Rule: passkeyLogin, Handler: w.PasskeyLoginOptions},
		{Method: post, Path: "/auth/webauthn/login", Rule: passkeyLogin, Handler: w.PasskeyLogin},
		{Method: get, Path: "/auth/webauthn/signup", Rule: passkeySignup, Handler: w.PasskeySignupOptions},
		{Method: post, Path: "/auth/webauthn/signup", Rule: passkeySignup, Handler: w.PasskeySignupStart},
		{Method: put, Path: "/auth/webauthn/signup", Rule: passkeySignup, Handler: w.PasskeySignupFinish},
	}
}

// tryFactor starts a try of a user's second factor of kind: allauth's
// login_failed limit for the user, consumed before the factor is checked
// (identity.SecondFactorTry); an exhausted limit is the refusal
// (too_many_login_attempts) the request is answered with.
func (h *Handlers) tryFactor(c *fiber.Ctx, userID int64, kind string, reauthentication bool) (*identity.SecondFactorTry, error) {
	return h.Accounts.Pipeline.TrySecondFactor(c.UserContext(), api.Tenant(c), userID, api.Request(c), kind, reauthentication)
}

// endFactor ends a try with the check's outcome: passed (err nil), wrong
// (incorrect_code: counted, audited once per burst) or not checked (a store
// failed: given back). It returns err, or the failure to record a pass or
// a wrong try.
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
	return err
}

// recent requires a logged-in user who authenticated recently: every MFA
// management call does, as allauth's.
func (h *Handlers) recent(c *fiber.Ctx) error {
	return h.Accounts.SessionOps.RequireRecent(api.Tenant(c), api.Session(c))
}

// relyingParty is the tenant's WebAuthn relying party for this request; a
// tenant whose frontend cannot run WebAuthn (e.g. plain http on a public
// host) gets a clear 409 rather than a failure.
func (h *Handlers) relyingParty(c *fiber.Ctx) (*webauthn.Config, error) {
	t := api.Tenant(c)
	cfg, err := t.Settings.WebAuthnConfig(t.Name, api.TenantBaseURL(c))
	if err != nil {
		return nil, conflict("webauthn_unavailable", err.Error())
	}
	return cfg, nil
}

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

// Authenticate handles POST auth/2fa/authenticate ({code}: TOTP or a
// recovery code) for the mfa_authenticate stage.
func (h *Handlers) Authenticate(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	login := h.Accounts.Pipeline.PendingStage(t, sess)
	if login == nil || login.Stage != identity.StageMFAAuthenticate {
		return base.RespondAuth(c, h.Headless, fiber.StatusUnauthorized)
	}
	code, err := parseCode(c)
	if err != nil {
		return err
	}
	try, err := h.tryFactor(c, login.UserID, identity.FactorCode, false)
	if err != nil {
		return err
	}
	a, err := h.Store.Authenticate(c.UserContext(), t.ID, login.UserID, code, t.Settings)
	if err := h.endFactor(c, try, err); err != nil {
		return err
	}
	h.Accounts.Pipeline.RecordMethod(sess, record(a))
	return h.continueLogin(c, identity.StageMFAAuthenticate)
}

// Reauthenticate handles POST auth/2fa/reauthenticate.
func (h *Handlers) Reauthenticate(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if !sess.Authenticated() {
		return base.RespondAuth(c, h.Headless)
	}
	code, err := parseCode(c)
	if err != nil {
		return err
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
	h.Accounts.Pipeline.RecordMethod(sess, rec)
	return base.RespondAuth(c, h.Headless)
}

// Trust handles POST auth/2fa/trust ({trust: bool}) for the mfa_trust
// stage: trusting sets a signed cookie that skips MFA on this browser for
// MFA_TRUST_COOKIE_AGE, until the user's authenticators change.
func (h *Handlers) Trust(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	login := h.Accounts.Pipeline.PendingStage(t, sess)
	if login == nil || login.Stage != identity.StageMFATrust {
		return base.RespondAuth(c, h.Headless, fiber.StatusUnauthorized)
	}
	trust, err := parseTrust(c)
	if err != nil {
		return err
	}
	if trust {
		value, until, err := h.Accounts.Pipeline.TrustCookie(c.UserContext(), t, login.UserID)
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
	return h.continueLogin(c, identity.StageMFATrust)
}

// continueLogin completes a pending login's stage and answers: a new CSRF
// token once the login is complete, and the authentication response (the
// next stage's flows, or the user).
func (h *Handlers) continueLogin(c *fiber.Ctx, stage string) error {
	t, sess := api.Tenant(c), api.Session(c)
	if err := h.Accounts.Pipeline.Continue(c.UserContext(), t, sess, stage, api.Request(c)); err != nil {
		return err
	}
	if sess.Authenticated() {
		api.RotateCSRF(c)
	}
	return base.RespondAuth(c, h.Headless)
}
