// Package base serves what allauth's headless "base" app does: the
// frontend's configuration document, and the authentication responses
// every slice answers with — the user and methods of a logged-in session,
// or the flows a client can take next — including for the refusals that
// allauth answers that way (Answers).
package base

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/identity"
)

// Handlers serve the base slice.
type Handlers struct {
	*api.Headless
}

// Routes are the base slice's endpoints.
func (h *Handlers) Routes() []api.Route {
	return []api.Route{
		{Method: fiber.MethodGet, Path: "/config", Rule: api.Always, Handler: h.Config},
	}
}

// Config handles GET config: the tenant's static configuration for its
// frontend, shaped as allauth's ConfigResponse.
func (h *Handlers) Config(c *fiber.Ctx) error {
	t := api.Tenant(c)
	return api.Respond(c, fiber.StatusOK, frontendConfig(t.Settings, api.Client(c)), nil)
}

// Answers is the headless middleware that answers, for every route after
// it, the errors allauth answers with an authentication response rather
// than an error: an app's session token naming no session (410 with the
// flows), a caller who is not logged in (401 with the flows) and a session
// that must reauthenticate first (401 with the reauthentication flows).
// Every other error goes on to api.ErrorHandler.
func Answers(h *api.Headless) fiber.Handler {
	return func(c *fiber.Ctx) error {
		err := c.Next()
		switch {
		case err == nil:
			return nil
		case errors.Is(err, api.ErrSessionGone):
			return RespondAuth(c, h, fiber.StatusGone)
		case errors.Is(err, identity.ErrNotAuthenticated):
			return RespondAuth(c, h)
		case errors.Is(err, identity.ErrReauthenticationRequired):
			return RespondReauth(c, h)
		}
		return err
	}
}
