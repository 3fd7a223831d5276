package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/tenants"
)

// Routes registers headless endpoints with the middleware every one of them
// needs (session, CSRF, CORS). The middleware is attached per route, not to
// the path prefix, so an unknown path is a plain 404 (as in Django, where
// CSRF checks run only once a view is resolved).
type Routes struct {
	Router     fiber.Router
	Middleware []fiber.Handler
}

func (r Routes) add(method, path string, h fiber.Handler) {
	handlers := append(append([]fiber.Handler{}, r.Middleware...), h)
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

// When returns routes that exist only while cond holds for the tenant's
// settings (allauth's URL conf includes them only when the feature is on):
// otherwise 404, before any session or CSRF handling.
func (r Routes) When(cond func(s *tenants.Settings) bool) Routes {
	gate := func(c *fiber.Ctx) error {
		if t := Tenant(c); t == nil || !cond(t.Settings) {
			return ErrRouteAbsent
		}
		return c.Next()
	}
	return Routes{Router: r.Router, Middleware: append([]fiber.Handler{gate}, r.Middleware...)}
}
