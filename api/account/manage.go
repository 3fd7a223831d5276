package account

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/api/base"
)

// ChangePassword handles POST account/password/change.
func (h *Handlers) ChangePassword(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	in, err := parseChangePassword(c)
	if err != nil {
		return err
	}
	if sess.Authenticated() {
		if err := h.Accounts.SessionOps.Limit(c.UserContext(), t, "change_password", api.Request(c), sess, ""); err != nil {
			return err
		}
	}
	if err := h.Accounts.Passwords.ChangePassword(c.UserContext(), t, sess, in.Current, in.New, in.HasCurrent); err != nil {
		return h.failed(c, err)
	}
	return base.RespondAuth(c, h.Headless)
}

// RequestPasswordReset handles POST auth/password/request.
func (h *Handlers) RequestPasswordReset(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	email, err := parseField(c, "email")
	if err != nil {
		return err
	}
	if err := h.Accounts.Passwords.RequestPasswordReset(c.UserContext(), t, sess, email, api.Request(c)); err != nil {
		return h.failed(c, err)
	}
	if t.Settings.PasswordResetByCodeEnabled {
		if sess.Authenticated() {
			return base.RespondReauth(c, h.Headless)
		}
		return base.RespondAuth(c, h.Headless)
	}
	return h.Respond(c, fiber.StatusOK, nil, nil)
}

// InspectPasswordReset handles GET auth/password/reset (X-Password-Reset-Key).
func (h *Handlers) InspectPasswordReset(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	user, err := h.Accounts.Passwords.InspectPasswordReset(c.UserContext(), t, sess, c.Get("X-Password-Reset-Key"))
	if err != nil {
		return h.failed(c, err)
	}
	view, err := base.UserData(c, h.Headless, user)
	if err != nil {
		return err
	}
	return h.Respond(c, fiber.StatusOK, map[string]any{"user": view}, nil)
}

// ResetPassword handles POST auth/password/reset.
func (h *Handlers) ResetPassword(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	key, password, err := parseResetPassword(c)
	if err != nil {
		return err
	}
	if err := h.Accounts.Passwords.ResetPassword(c.UserContext(), t, sess, key, password, api.Request(c)); err != nil {
		return h.failed(c, err)
	}
	return h.authenticated(c)
}

// ListEmails handles GET account/email.
func (h emailHandlers) ListEmails(c *fiber.Ctx) error { return h.respondEmails(c) }

// AddEmail handles POST account/email (an anonymous client may correct the
// address of a pending signup verification).
func (h emailHandlers) AddEmail(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	email, err := parseField(c, "email")
	if err != nil {
		return err
	}
	if !sess.Authenticated() {
		addrs, err := h.Accounts.Addresses.ChangePendingEmail(c.UserContext(), t, sess, email, api.Request(c))
		if err != nil {
			return h.failed(c, err)
		}
		return h.Respond(c, fiber.StatusOK, emailList(addrs), nil)
	}
	if err := h.Accounts.Addresses.AddEmail(c.UserContext(), t, sess, email, api.Request(c)); err != nil {
		return h.failed(c, err)
	}
	return h.respondEmails(c)
}

// ResendEmailVerification handles PUT account/email.
func (h emailHandlers) ResendEmailVerification(c *fiber.Ctx) error {
	email, err := parseField(c, "email")
	if err != nil {
		return err
	}
	if err := h.Accounts.Addresses.ResendEmailVerification(c.UserContext(), api.Tenant(c), api.Session(c), email, api.Request(c)); err != nil {
		return h.failed(c, err)
	}
	return h.Respond(c, fiber.StatusOK, nil, nil)
}

// MarkPrimaryEmail handles PATCH account/email ({email, primary: true}).
func (h emailHandlers) MarkPrimaryEmail(c *fiber.Ctx) error {
	email, err := parsePrimaryEmail(c)
	if err != nil {
		return err
	}
	if err := h.Accounts.Addresses.MarkPrimaryEmail(c.UserContext(), api.Tenant(c), api.Session(c), email, api.Request(c)); err != nil {
		return h.failed(c, err)
	}
	return h.respondEmails(c)
}

// DeleteEmail handles DELETE account/email.
func (h emailHandlers) DeleteEmail(c *fiber.Ctx) error {
	email, err := parseField(c, "email")
	if err != nil {
		return err
	}
	if err := h.Accounts.Addresses.DeleteEmail(c.UserContext(), api.Tenant(c), api.Session(c), email, api.Request(c)); err != nil {
		return h.failed(c, err)
	}
	return h.respondEmails(c)
}
