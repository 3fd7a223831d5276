// Package api holds what every headless endpoint shares: allauth's response
// envelope (envelope.go), error values and their one mapping to HTTP
// (errors.go), the request's tenant and client (context.go), the route
// catalog and how routes are mounted (catalog.go, routes.go), and the
// headless middleware, a file per concern: CORS (cors.go), CSRF (csrf.go),
// session loading and saving (session.go), request ids, deadlines, logging
// and tenant resolution (middleware.go). The endpoint slices live in
// subpackages — base, account, usersessions, tokens, social, mfa, each with
// inputs.go, handlers.go and responses.go, each declaring its own routes
// (Slice) — plus spec; api/server composes them into Fiber apps.
package api

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
)

// ErrorItem is one entry of allauth's errors list. Param names the input
// field and is absent for form-level errors.
type ErrorItem struct {
	Message string `json:"message"`
	Code    string `json:"code"`
	Param   string `json:"param,omitempty"`
}

// Envelope is allauth's response body: status mirrors the HTTP status; data,
// meta and errors are omitted when empty.
type Envelope struct {
	Status int            `json:"status"`
	Data   any            `json:"data,omitempty"`
	Meta   map[string]any `json:"meta,omitempty"`
	Errors []ErrorItem    `json:"errors,omitempty"`
}

// Respond writes an enveloped response with the given status.
func Respond(c *fiber.Ctx, status int, data any, meta map[string]any) error {
	if len(meta) == 0 {
		meta = nil
	}
	return c.Status(status).JSON(Envelope{Status: status, Data: data, Meta: meta})
}

// RespondStatus writes a bare `{status: N}` body, as allauth does for 403, 404,
// 409 and 429.
func RespondStatus(c *fiber.Ctx, status int) error {
	return c.Status(status).JSON(Envelope{Status: status})
}

// NeverCache marks a response as not cacheable, as Django's
// add_never_cache_headers does for every headless response.
func NeverCache(c *fiber.Ctx) {
	c.Set(fiber.HeaderCacheControl, "max-age=0, no-cache, no-store, must-revalidate, private")
	c.Set(fiber.HeaderExpires, time.Now().UTC().Format(http.TimeFormat))
}
