// Package usersessions serves allauth's headless usersessions endpoints: a
// logged-in user's sessions, listed and ended (auth/sessions, with
// usersessions in HALLPASS_APPS). The sessions live in internal/identity.
package usersessions

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/api/base"
	"github.com/hallpass/hallpass/tenants"
)

// Handlers serve the usersessions slice.
type Handlers struct {
	*api.Headless
}

// Routes are the usersessions slice's endpoints, in catalog order.
func (h *Handlers) Routes() []api.Route {
	app := api.AppEnabled(tenants.AppUserSessions)
	return []api.Route{
		{Method: fiber.MethodGet, Path: "/auth/sessions", Rule: app, Handler: h.List},
		{Method: fiber.MethodDelete, Path: "/auth/sessions", Rule: app, Handler: h.End},
	}
}

// List handles GET auth/sessions.
func (h *Handlers) List(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	list, err := h.Accounts.SessionOps.UserSessions(c.UserContext(), t, sess)
	if err != nil {
		return err
	}
	return h.Respond(c, fiber.StatusOK, sessionsData(t.Settings, list), nil)
}

// End handles DELETE auth/sessions ({sessions: [id, ...]}): the current
// session among them ends the caller's login too.
func (h *Handlers) End(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if !sess.Authenticated() {
		return base.RespondAuth(c, h.Headless)
	}
	ids, err := parseEnd(c)
	if err != nil {
		return err
	}
	current, err := h.Accounts.SessionOps.EndSessions(c.UserContext(), t, sess, ids)
	if err != nil {
		return err
	}
	if current {
		return base.RespondAuth(c, h.Headless)
	}
	return h.List(c)
}
