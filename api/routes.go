package api

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/login"
)

// Slice is one folder of the headless API (base, account, usersessions,
// tokens, social, mfa): it declares its routes, each with its rule and its
// handler, so adding an endpoint is one edit in its slice. The routes of a
// login method are not among them: the method declares them
// (internal/login/<method>) and the slice binds their handlers (Binder).
type Slice interface {
	// Routes are the slice's own endpoints, in catalog order.
	Routes() []Route
}

// Bindings give the handlers of login methods' routes, by the routes'
// operation (login.Route.Operation).
type Bindings map[string]fiber.Handler

// Binder is implemented by a slice that serves login methods' routes: Bind
// is the one place it gives a handler to each operation it answers.
type Binder interface {
	Bind() Bindings
}

// Compose builds a catalog from slices and the routes of a registry's
// login methods: each slice's own routes, then the methods' routes it
// binds, in registration order. A method's route no slice binds is
// listed last, without a handler (Catalog.Bound leaves it out; a server
// serves only bound routes). The error lists what no server may be built
// from: a binding for an operation no method declares, an operation bound
// by two slices, two routes with the same method and path, and an
// operation declared twice.
func Compose(methods login.Registry, parts []Slice) (Catalog, error) {
	var cat Catalog
	var problems []string
	add := func(r Route) {
		if _, dup := cat.Lookup(r.Method, r.Path); dup {
			problems = append(problems, fmt.Sprintf("%s %s is declared twice", r.Method, r.Path))
			return
		}
		cat = append(cat, r)
	}
	declared := methods.Routes()
	ops := map[string]bool{}
	for _, d := range declared {
		if ops[d.Operation] {
			problems = append(problems, fmt.Sprintf("operation %q is declared twice", d.Operation))
		}
		ops[d.Operation] = true
	}
	bound := map[string]bool{}
	for _, part := range parts {
		for _, r := range part.Routes() {
			add(r)
		}
		b, ok := part.(Binder)
		if !ok {
			continue
		}
		bindings := b.Bind()
		for _, d := range declared {
			h := bindings[d.Operation]
			switch {
			case h == nil:
			case bound[d.Operation]:
				problems = append(problems, fmt.Sprintf("%T binds %q, which another slice binds", part, d.Operation))
			default:
				bound[d.Operation] = true
				add(methodRoute(d, h))
			}
		}
		for _, op := range slices.Sorted(maps.Keys(bindings)) {
			if !ops[op] {
				problems = append(problems, fmt.Sprintf("%T binds a handler to %q, which no login method declares", part, op))
			}
		}
	}
	for _, d := range declared {
		if !bound[d.Operation] {
			add(methodRoute(d, nil))
		}
	}
	if len(problems) > 0 {
		return cat, errors.New("api: " + strings.Join(problems, "; "))
	}
	return cat, nil
}

// methodRoute is a login method's route answered by h.
func methodRoute(d login.Route, h fiber.Handler) Route {
	return Route{Method: d.Method, Path: d.Path, Client: d.Client, Rule: d.Rule, Handler: h, Operation: d.Operation}
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
