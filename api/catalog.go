package api

import (
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/tenants"
)

// Rule says when a route exists for a tenant: Text for people (the
// `hallpass routes` listing), When decides it.
type Rule struct {
	Text string
	When func(s *tenants.Settings) bool
}

// Rules the slices share.
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

// Route is one headless endpoint, relative to /_allauth/{client}/v1, with
// the rule under which it exists and the handler that answers it. A slice
// declares its routes together with their handlers (api.Slice); the
// server's Catalog, composed of every slice's routes, is the one list the
// router (404 when a route is off), the 405 answer and the served OpenAPI
// document (a path is described only where it is routed) read.
type Route struct {
	Method string
	Path   string
	// Client restricts the route to one client kind ("" = both).
	Client string
	Rule   Rule
	// Handler answers the route once its rule holds and the request's
	// session is loaded.
	Handler fiber.Handler
}

// Routed reports whether the route exists for a tenant's client.
func (r Route) Routed(s *tenants.Settings, client string) bool {
	if r.Client != "" && r.Client != client {
		return false
	}
	if !slices.Contains(s.Clients, client) {
		return false
	}
	return r.Rule.When(s)
}

// Catalog is a list of headless routes in a fixed order: every route
// Hallpass knows (server.Catalog), or those a server serves (its slices'
// routes, server.Server.Catalog).
type Catalog []Route

// Lookup finds a route.
func (cat Catalog) Lookup(method, path string) (Route, bool) {
	for _, r := range cat {
		if r.Method == method && r.Path == path {
			return r, true
		}
	}
	return Route{}, false
}

// Served lists the routes that exist for a tenant's client.
func (cat Catalog) Served(s *tenants.Settings, client string) []Route {
	var out []Route
	for _, r := range cat {
		if r.Routed(s, client) {
			out = append(out, r)
		}
	}
	return out
}

// Methods lists, in catalog order, the methods a path is routed with for a
// tenant's client (the Allow header of a 405).
func (cat Catalog) Methods(path string, s *tenants.Settings, client string) []string {
	var out []string
	for _, r := range cat {
		if r.Path == path && r.Routed(s, client) {
			out = append(out, r.Method)
		}
	}
	return out
}
