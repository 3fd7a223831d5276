// Package login defines the login pipeline's authentication methods:
// password, login by email code, TOTP, recovery codes, WebAuthn and the
// social providers, each in its own folder below. Each method declares the
// entries it adds to allauth's flows arrays and the login stages it takes
// part in, and its catalog routes as plain data (Route: HTTP method, path,
// clients, rule, operation id); the registry (internal/login/methods) is
// the one place a method is added. The handlers stay in the api slices,
// which bind one to each declared route by its operation id, as Fiber
// stays out of the domain.
package login

import (
	"github.com/hallpass/hallpass/tenants"
)

// Method is one way of authenticating.
type Method interface {
	// ID names the method (MethodPassword, MethodCode, ...).
	ID() string
	// Flows are the method's entries of the flows array an unauthenticated
	// (or partly authenticated) client is shown.
	Flows(v View) []Flow
	// ReauthenticationFlows are the method's entries of the flows array a
	// logged-in user is shown when asked to reauthenticate.
	ReauthenticationFlows(v ReauthView) []Flow
	// Stages are the login stages the method takes part in, in pipeline
	// order (VerifyEmail, MFAAuthenticate, ...), each with when it applies.
	Stages() []Stage
	// Routes are the method's headless endpoints, in catalog order; the
	// catalog takes them from the registry (api.Compose), and an api
	// slice binds a handler to each by its Operation.
	Routes() []Route
}

// Flow is one entry of a flows array: its "id" and the entry's other
// members (providers, is_pending, types, ...).
type Flow = map[string]any

// View is what a method needs to list its flows.
type View struct {
	Settings *tenants.Settings
	// Client is "browser" or "app".
	Client string
	// HasSession is true when the request carries a session.
	HasSession bool
	// PendingSocialSignup returns the provider id of the session's pending
	// provider signup, "" when none (nil: none). Only asked when needed.
	PendingSocialSignup func() string
	// ResetCodePending reports whether the session waits for a password
	// reset code (nil: never). Only asked when needed.
	ResetCodePending func() bool
}

// ReauthView is what a method needs to list its reauthentication flows.
type ReauthView struct {
	Settings *tenants.Settings
	// UsablePassword is true when the user has a usable password.
	UsablePassword bool
	// SecondFactors are the user's authenticator types when the tenant
	// has MFA (nil otherwise).
	SecondFactors []string
	// ResetCodePending reports whether the session waits for a password
	// reset code.
	ResetCodePending bool
}

// Method ids.
const (
	MethodPassword      = "password"
	MethodCode          = "code"
	MethodTOTP          = "totp"
	MethodRecoveryCodes = "recovery_codes"
	MethodWebAuthn      = "webauthn"
	MethodSocial        = "social"
)

// Stage keys of the login pipeline (allauth's LoginStageKey values).
const (
	StageVerifyEmail       = "verify_email"
	StageMFAAuthenticate   = "mfa_authenticate"
	StageMFATrust          = "mfa_trust"
	StageMFASignupWebAuthn = "mfa_signup_webauthn"
)

// Flow ids, in the order allauth lists them.
const (
	FlowLogin               = "login"
	FlowLoginByCode         = "login_by_code"
	FlowSignup              = "signup"
	FlowProviderRedirect    = "provider_redirect"
	FlowProviderToken       = "provider_token"
	FlowProviderSignup      = "provider_signup"
	FlowPasskeyLogin        = "mfa_login_webauthn"
	FlowPasswordResetByCode = "password_reset_by_code"
	FlowReauthenticate      = "reauthenticate"
	FlowMFAReauthenticate   = "mfa_reauthenticate"
)
