package api

import (
	"slices"
	"sync"

	"github.com/hallpass/hallpass/tenants"
)

// Route is one headless endpoint, relative to /_allauth/{client}/v1, with
// the settings under which it exists. The catalog is the one list both the
// router (404 when a route is off) and the served OpenAPI document (a path
// is described only where it is routed) read.
type Route struct {
	Method string
	Path   string
	// Client restricts the route to one client kind ("" = both).
	Client string
	// Rule says, for people, when the route exists; When decides it.
	Rule string
	When func(s *tenants.Settings) bool
}

func always(*tenants.Settings) bool { return true }

func localAccounts(s *tenants.Settings) bool { return !s.SocialAccountOnly }

func hasApp(app string) func(s *tenants.Settings) bool {
	return func(s *tenants.Settings) bool { return slices.Contains(s.Apps, app) }
}

func mfaType(typ string) func(s *tenants.Settings) bool {
	return func(s *tenants.Settings) bool {
		return slices.Contains(s.Apps, tenants.AppMFA) && slices.Contains(s.MFASupportedTypes, typ)
	}
}

// Catalog lists every headless route Hallpass knows, in allauth's terms
// (ALLAUTH-NOTES §1).
var Catalog = []Route{
	{Method: "GET", Path: "/config", Rule: "always", When: always},
	{Method: "GET", Path: "/auth/session", Rule: "always", When: always},
	{Method: "DELETE", Path: "/auth/session", Rule: "always", When: always},
	{Method: "POST", Path: "/auth/reauthenticate", Rule: "always", When: always},
	{Method: "POST", Path: "/auth/login", Rule: "not SOCIALACCOUNT_ONLY", When: localAccounts},
	{Method: "POST", Path: "/auth/signup", Rule: "not SOCIALACCOUNT_ONLY", When: localAccounts},
	{Method: "GET", Path: "/auth/email/verify", Rule: "not SOCIALACCOUNT_ONLY", When: localAccounts},
	{Method: "POST", Path: "/auth/email/verify", Rule: "not SOCIALACCOUNT_ONLY", When: localAccounts},
	{Method: "POST", Path: "/auth/email/verify/resend", Rule: "not SOCIALACCOUNT_ONLY", When: localAccounts},
	{Method: "POST", Path: "/auth/password/request", Rule: "not SOCIALACCOUNT_ONLY", When: localAccounts},
	{Method: "GET", Path: "/auth/password/reset", Rule: "not SOCIALACCOUNT_ONLY", When: localAccounts},
	{Method: "POST", Path: "/auth/password/reset", Rule: "not SOCIALACCOUNT_ONLY", When: localAccounts},
	{Method: "POST", Path: "/account/password/change", Rule: "not SOCIALACCOUNT_ONLY", When: localAccounts},
	{Method: "GET", Path: "/account/email", Rule: "not SOCIALACCOUNT_ONLY", When: localAccounts},
	{Method: "POST", Path: "/account/email", Rule: "not SOCIALACCOUNT_ONLY", When: localAccounts},
	{Method: "PUT", Path: "/account/email", Rule: "not SOCIALACCOUNT_ONLY", When: localAccounts},
	{Method: "PATCH", Path: "/account/email", Rule: "not SOCIALACCOUNT_ONLY", When: localAccounts},
	{Method: "DELETE", Path: "/account/email", Rule: "not SOCIALACCOUNT_ONLY", When: localAccounts},
	{Method: "POST", Path: "/auth/code/request", Rule: "ACCOUNT_LOGIN_BY_CODE_ENABLED",
		When: func(s *tenants.Settings) bool { return s.LoginByCodeEnabled }},
	{Method: "POST", Path: "/auth/code/resend", Rule: "ACCOUNT_LOGIN_BY_CODE_ENABLED",
		When: func(s *tenants.Settings) bool { return s.LoginByCodeEnabled }},
	{Method: "POST", Path: "/auth/code/confirm", Rule: "always (it also serves ACCOUNT_LOGIN_BY_CODE_REQUIRED)", When: always},
	{Method: "GET", Path: "/auth/sessions", Rule: "usersessions in HALLPASS_APPS", When: hasApp(tenants.AppUserSessions)},
	{Method: "DELETE", Path: "/auth/sessions", Rule: "usersessions in HALLPASS_APPS", When: hasApp(tenants.AppUserSessions)},
	{Method: "POST", Path: "/tokens/refresh", Client: ClientApp, Rule: "app client", When: always},

	{Method: "POST", Path: "/auth/provider/redirect", Rule: "socialaccount in HALLPASS_APPS", When: hasApp(tenants.AppSocialAccount)},
	{Method: "POST", Path: "/auth/provider/token", Rule: "socialaccount in HALLPASS_APPS", When: hasApp(tenants.AppSocialAccount)},
	{Method: "GET", Path: "/auth/provider/signup", Rule: "socialaccount in HALLPASS_APPS", When: hasApp(tenants.AppSocialAccount)},
	{Method: "POST", Path: "/auth/provider/signup", Rule: "socialaccount in HALLPASS_APPS", When: hasApp(tenants.AppSocialAccount)},
	{Method: "GET", Path: "/account/providers", Rule: "socialaccount in HALLPASS_APPS", When: hasApp(tenants.AppSocialAccount)},
	{Method: "DELETE", Path: "/account/providers", Rule: "socialaccount in HALLPASS_APPS", When: hasApp(tenants.AppSocialAccount)},

	{Method: "POST", Path: "/auth/2fa/authenticate", Rule: "mfa in HALLPASS_APPS", When: hasApp(tenants.AppMFA)},
	{Method: "POST", Path: "/auth/2fa/reauthenticate", Rule: "mfa in HALLPASS_APPS", When: hasApp(tenants.AppMFA)},
	{Method: "GET", Path: "/account/authenticators", Rule: "mfa in HALLPASS_APPS", When: hasApp(tenants.AppMFA)},
	{Method: "GET", Path: "/account/authenticators/totp", Rule: "totp in MFA_SUPPORTED_TYPES", When: mfaType("totp")},
	{Method: "POST", Path: "/account/authenticators/totp", Rule: "totp in MFA_SUPPORTED_TYPES", When: mfaType("totp")},
	{Method: "DELETE", Path: "/account/authenticators/totp", Rule: "totp in MFA_SUPPORTED_TYPES", When: mfaType("totp")},
	{Method: "GET", Path: "/account/authenticators/recovery-codes", Rule: "recovery_codes in MFA_SUPPORTED_TYPES", When: mfaType("recovery_codes")},
	{Method: "POST", Path: "/account/authenticators/recovery-codes", Rule: "recovery_codes in MFA_SUPPORTED_TYPES", When: mfaType("recovery_codes")},
	{Method: "GET", Path: "/account/authenticators/webauthn", Rule: "webauthn in MFA_SUPPORTED_TYPES", When: mfaType("webauthn")},
	{Method: "POST", Path: "/account/authenticators/webauthn", Rule: "webauthn in MFA_SUPPORTED_TYPES", When: mfaType("webauthn")},
	{Method: "PUT", Path: "/account/authenticators/webauthn", Rule: "webauthn in MFA_SUPPORTED_TYPES", When: mfaType("webauthn")},
	{Method: "DELETE", Path: "/account/authenticators/webauthn", Rule: "webauthn in MFA_SUPPORTED_TYPES", When: mfaType("webauthn")},
	{Method: "GET", Path: "/auth/webauthn/authenticate", Rule: "webauthn in MFA_SUPPORTED_TYPES", When: mfaType("webauthn")},
	{Method: "POST", Path: "/auth/webauthn/authenticate", Rule: "webauthn in MFA_SUPPORTED_TYPES", When: mfaType("webauthn")},
	{Method: "GET", Path: "/auth/webauthn/reauthenticate", Rule: "webauthn in MFA_SUPPORTED_TYPES", When: mfaType("webauthn")},
	{Method: "POST", Path: "/auth/webauthn/reauthenticate", Rule: "webauthn in MFA_SUPPORTED_TYPES", When: mfaType("webauthn")},
	{Method: "GET", Path: "/auth/webauthn/login", Rule: "webauthn and MFA_PASSKEY_LOGIN_ENABLED",
		When: func(s *tenants.Settings) bool { return mfaType("webauthn")(s) && s.MFAPasskeyLoginEnabled }},
	{Method: "POST", Path: "/auth/webauthn/login", Rule: "webauthn and MFA_PASSKEY_LOGIN_ENABLED",
		When: func(s *tenants.Settings) bool { return mfaType("webauthn")(s) && s.MFAPasskeyLoginEnabled }},
	{Method: "GET", Path: "/auth/webauthn/signup", Rule: "webauthn and MFA_PASSKEY_SIGNUP_ENABLED",
		When: func(s *tenants.Settings) bool { return mfaType("webauthn")(s) && s.MFAPasskeySignupEnabled }},
	{Method: "POST", Path: "/auth/webauthn/signup", Rule: "webauthn and MFA_PASSKEY_SIGNUP_ENABLED",
		When: func(s *tenants.Settings) bool { return mfaType("webauthn")(s) && s.MFAPasskeySignupEnabled }},
	{Method: "PUT", Path: "/auth/webauthn/signup", Rule: "webauthn and MFA_PASSKEY_SIGNUP_ENABLED",
		When: func(s *tenants.Settings) bool { return mfaType("webauthn")(s) && s.MFAPasskeySignupEnabled }},
	{Method: "POST", Path: "/auth/2fa/trust", Client: ClientBrowser, Rule: "MFA_TRUST_ENABLED, browser client",
		When: func(s *tenants.Settings) bool { return hasApp(tenants.AppMFA)(s) && s.MFATrustEnabled }},
}

// LookupRoute finds a catalog entry.
func LookupRoute(method, path string) (Route, bool) {
	for _, r := range Catalog {
		if r.Method == method && r.Path == path {
			return r, true
		}
	}
	return Route{}, false
}

// Routed reports whether the route exists for a tenant's client.
func (r Route) Routed(s *tenants.Settings, client string) bool {
	if r.Client != "" && r.Client != client {
		return false
	}
	if !slices.Contains(s.Clients, client) {
		return false
	}
	return r.When(s)
}

// Registry records which catalog routes have handlers in this build, so
// the served specification never describes an endpoint that is not served.
type Registry struct {
	mu      sync.Mutex
	handled map[string]bool
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{handled: map[string]bool{}} }

func (g *Registry) mark(method, path string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.handled[method+" "+path] = true
}

// Handled reports whether a route has a handler.
func (g *Registry) Handled(method, path string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.handled[method+" "+path]
}

// Served lists the catalog routes with handlers that exist for a tenant's client.
func (g *Registry) Served(s *tenants.Settings, client string) []Route {
	var out []Route
	for _, r := range Catalog {
		if g.Handled(r.Method, r.Path) && r.Routed(s, client) {
			out = append(out, r)
		}
	}
	return out
}
