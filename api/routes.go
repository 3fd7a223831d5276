package api

import (
	"fmt"

	"github.com/gofiber/fiber/v2"
)

// Slice is one folder of the headless API (base, account, usersessions,
// tokens, social, mfa): it declares its routes, each with its rule and its
// handler, so adding an endpoint is one edit in its slice.
type Slice interface {
	// Routes are the slice's endpoints, in catalog order.
	Routes() []Route
}

// Mount registers catalog routes on the headless group
// (/_allauth/:client/v1). Every route is gated by its rule (404 before any
// session or CSRF handling when off for the tenant); the remaining
// middleware (flow answers, session, CSRF, CORS) is attached per route, not
// to the prefix, so an unknown path is a plain 404, as in Django.
type Mount struct {
	Router fiber.Router
	// Client resolves the {client} segment (it runs before the gate).
	Client fiber.Handler
	// Middleware runs once the route is known to exist.
	Middleware []fiber.Handler
}

// Add registers a route, and beside a GET or POST the CORS preflight that
// its middleware answers.
func (m Mount) Add(route Route) {
	if route.Handler == nil || route.Rule.When == nil {
		panic(fmt.Sprintf("api: %s %s has no handler or no rule", route.Method, route.Path))
	}
	gate := func(c *fiber.Ctx) error {
		t := Tenant(c)
		if t == nil || !route.Routed(t.Settings, Client(c)) {
			return ErrRouteAbsent
		}
		return c.Next()
	}
	handlers := append(append([]fiber.Handler{m.Client, gate}, m.Middleware...), route.Handler)
	m.Router.Add(route.Method, route.Path, handlers...)
	if route.Method == fiber.MethodGet || route.Method == fiber.MethodPost {
		m.Router.Add(fiber.MethodOptions, route.Path, handlers...)
	}
}

// Outside is implemented by a slice that also serves paths on the tenant's
// base outside the headless tree, and so outside the catalog: the JWKS, the
// provider callbacks, the served specification.
type Outside interface {
	RegisterOutside(tenant fiber.Router)
}
