package api

import (
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/login"
	"github.com/hallpass/hallpass/tenants"
)

// Rule says when a route exists for a tenant: Text for people (the
// `hallpass routes` listing), When decides it. It is login.Rule, so the
// routes a login method declares (internal/login) and a slice's own
// routes share it.
type Rule = login.Rule

// Rules the slices share.
var (
	// Always: the route exists for every tenant.
	Always = login.Always
	// LocalAccounts: the route exists unless the tenant signs users in
	// through providers only.
	LocalAccounts = login.LocalAccounts
)

// AppEnabled is the rule of an optional allauth app's routes: the app is in
// HALLPASS_APPS.
func AppEnabled(app string) Rule { return login.AppEnabled(app) }

// Route is one headless endpoint, relative to /_allauth/{client}/v1, with
// the rule under which it exists and the handler that answers it. A login
// method declares its routes as data (login.Route) and the slice that
// serves it binds their handlers (Binder); a slice declares its other
// routes together with their handlers (Slice). The server's Catalog,
// composed of both (Compose), is the one list the router (404 when a route
// is off), the 405 answer and the served OpenAPI document (a path is
// described only where it is routed) read.
type Route struct {
	Method string
	Path   string
	// Client restricts the route to one client kind ("" = both).
	Client string
	Rule   Rule
	// Handler answers the route once its rule holds and the request's
	// session is loaded (nil: a login method's route no slice binds).
	Handler fiber.Handler
	// Operation is the login method's operation the route is ("" for a
	// slice's own route).
	Operation string
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
// routes and the login methods' routes they bind, server.Server.Catalog).
type Catalog []Route

// Bound lists the routes that have a handler.
func (cat Catalog) Bound() Catalog {
	var out Catalog
	for _, r := range cat {
		if r.Handler != nil {
			out = append(out, r)
		}
	}
	return out
}

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
