package login

import (
	"slices"

	"github.com/hallpass/hallpass/tenants"
)

// Route is one headless endpoint a method declares, as plain data: its
// HTTP method, its path relative to /_allauth/{client}/v1, the clients it
// serves, the rule under which it exists and the operation id its api
// slice binds a handler to (api.Bindings). The catalog takes every
// registered method's routes from the registry (Registry.Routes), so a
// method's endpoints are declared in its own folder.
type Route struct {
	// Method is the HTTP method (http.MethodGet, ...).
	Method string
	// Path is relative to /_allauth/{client}/v1 ("/auth/login").
	Path string
	// Client restricts the route to one client kind ("app" or "browser";
	// "" = both).
	Client string
	// Rule says when the route exists for a tenant.
	Rule Rule
	// Operation names the route for the handler that answers it:
	// "<method id>.<name>", unique in the registry.
	Operation string
}

// Rule says when a route exists for a tenant: Text for people (the
// `hallpass routes` listing), When decides it.
type Rule struct {
	Text string
	When func(s *tenants.Settings) bool
}

// Rules the methods (and the api slices, through package api) share.
var (
	// Always: the route exists for every tenant.
	Always = Rule{Text: "always", When: func(*tenants.Settings) bool { return true }}
	// LocalAccounts: the route exists unless the tenant signs users in
	// through providers only.
	LocalAccounts = Rule{Text: "not SOCIALACCOUNT_ONLY", When: func(s *tenants.Settings) bool { return !s.SocialAccountOnly }}
)

// AppEnabled is the rule of an optional allauth app's routes: the app is in
// HALLPASS_APPS.
func AppEnabled(app string) Rule {
	return Rule{Text: app + " in HALLPASS_APPS", When: func(s *tenants.Settings) bool { return slices.Contains(s.Apps, app) }}
}

// MFAType is the rule of one authenticator type's routes: the mfa app is
// enabled and typ is in MFA_SUPPORTED_TYPES.
func MFAType(typ string) Rule {
	return Rule{Text: typ + " in MFA_SUPPORTED_TYPES", When: func(s *tenants.Settings) bool {
		return slices.Contains(s.Apps, tenants.AppMFA) && slices.Contains(s.MFASupportedTypes, typ)
	}}
}
