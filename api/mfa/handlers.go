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
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/api/base"
	"github.com/hallpass/hallpass/internal/identity"
	loginrecovery "github.com/hallpass/hallpass/internal/login/recovery"
	logintotp "github.com/hallpass/hallpass/internal/login/totp"
	loginwebauthn "github.com/hallpass/hallpass/internal/login/webauthn"
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

// Rules of the MFA slice's own routes.
var (
	mfaApp = api.AppEnabled(tenants.AppMFA)
	// trustRule: a browser may be trusted to skip MFA.
	trustRule = api.Rule{Text: "MFA_TRUST_ENABLED, browser client",
		When: func(s *tenants.Settings) bool { return mfaApp.When(s) && s.MFATrustEnabled }}
)

// Routes are the MFA slice's own endpoints, in catalog order: the stages,
// the authenticator list and browser trust. The TOTP, recovery codes and
// WebAuthn methods declare theirs (internal/login/<method>); Bind answers
// them.
func (h *Handlers) Routes() []api.Route {
	const get, post = fiber.MethodGet, fiber.MethodPost
	return []api.Route{
		{Method: post, Path: "/auth/2fa/authenticate", Rule: mfaApp, Handler: h.Authenticate},
		{Method: post, Path: "/auth/2fa/reauthenticate", Rule: mfaApp, Handler: h.Reauthenticate},
		{Method: get, Path: "/account/authenticators", Rule: mfaApp, Handler: h.List},
		{Method: post, Path: "/auth/2fa/trust", Client: api.ClientBrowser, Rule: trustRule, Handler: h.Trust},
	}
}

// Bind answers the routes of the TOTP, recovery codes and WebAuthn
// methods: security keys, passkey login and passkey signup.
func (h *Handlers) Bind() api.Bindings {
	w := webAuthnHandlers{h}
	return api.Bindings{
		logintotp.OpStatus:                    h.TOTPStatus,
		logintotp.OpActivate:                  h.ActivateTOTP,
		logintotp.OpDeactivate:                h.DeactivateTOTP,
		loginrecovery.OpList:                  h.RecoveryCodes,
		loginrecovery.OpRegenerate:            h.RegenerateRecoveryCodes,
		loginwebauthn.OpCreationOptions:       w.WebAuthnCreationOptions,
		loginwebauthn.OpAdd:                   w.AddWebAuthn,
		loginwebauthn.OpRename:                w.RenameWebAuthn,
		loginwebauthn.OpDelete:                w.DeleteWebAuthn,
		loginwebauthn.OpAuthenticateOptions:   w.WebAuthnAuthenticateOptions,
		loginwebauthn.OpAuthenticate:          w.WebAuthnAuthenticate,
		loginwebauthn.OpReauthenticateOptions: w.WebAuthnReauthenticateOptions,
		loginwebauthn.OpReauthenticate:        w.WebAuthnReauthenticate,
		loginwebauthn.OpLoginOptions:          w.PasskeyLoginOptions,
		loginwebauthn.OpLogin:                 w.PasskeyLogin,
		loginwebauthn.OpSignupOptions:         w.PasskeySignupOptions,
		loginwebauthn.OpSignupStart:           w.PasskeySignupStart,
		loginwebauthn.OpSignupFinish:          w.PasskeySignupFinish,
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
