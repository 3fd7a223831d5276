package api

import (
	"fmt"

	"github.com/gofiber/fiber/v2"
)

// Routes registers headless endpoints. Every route must be in the Catalog:
// its rule gates it (404 before any session or CSRF handling when off for
// the tenant), and it is recorded in the Registry that the served spec
// reads. The remaining middleware (session, CSRF, CORS) is attached per
// route, not to the prefix, so an unknown path is a plain 404, as in Django.
type Routes struct {
	Router fiber.Router
	// Client resolves the {client} segment (it runs before the gate).
	Client fiber.Handler
	// Middleware runs once the route is known to exist.
	Middleware []fiber.Handler
	Registry   *Registry
}

func (r Routes) add(method, path string, h fiber.Handler) {
	route, ok := LookupRoute(method, path)
	if !ok {
		panic(fmt.Sprintf("api: %s %s is not in the route catalog", method, path))
	}
	gate := func(c *fiber.Ctx) error {
		t := Tenant(c)
		if t == nil || !route.Routed(t.Settings, Client(c)) {
			return ErrRouteAbsent
		}
		return c.Next()
	}
	if r.Registry != nil {
		r.Registry.mark(method, path)
	}
	handlers := append(append([]fiber.Handler{r.Client, gate}, r.Middleware...), h)
	r.Router.Add(method, path, handlers...)
	if method == fiber.MethodGet || method == fiber.MethodPost {
		// CORS preflight reaches the route's middleware, which answers it.
		r.Router.Add(fiber.MethodOptions, path, handlers...)
	}
}

// Get registers a GET endpoint.
func (r Routes) Get(path string, h fiber.Handler) { r.add(fiber.MethodGet, path, h) }

// Post registers a POST endpoint.
func (r Routes) Post(path string, h fiber.Handler) { r.add(fiber.MethodPost, path, h) }

// Put registers a PUT endpoint.
func (r Routes) Put(path string, h fiber.Handler) { r.add(fiber.MethodPut, path, h) }

// Patch registers a PATCH endpoint.
func (r Routes) Patch(path string, h fiber.Handler) { r.add(fiber.MethodPatch, path, h) }

// Delete registers a DELETE endpoint.
func (r Routes) Delete(path string, h fiber.Handler) { r.add(fiber.MethodDelete, path, h) }
