package account

import (
	"encoding/json"
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/identity"
)

// fail answers a domain error: the auth flows' own 401s (anonymous, or
// reauthentication required) or the mapped error.
func (h *Handlers) fail(c *fiber.Ctx, err error) error {
	switch {
	case errors.Is(err, identity.ErrNotAuthenticated):
		return h.RespondAuth(c)
	case errors.Is(err, identity.ErrReauthenticationRequired):
		return h.RespondReauth(c)
	}
	var errs identity.Errors
	if errors.As(err, &errs) && len(errs) == 1 && errs[0].Code == "too_many_login_attempts" {
		return domainError(err)
	}
	// Failed attempts change the session (attempt counters): keep them.
	if sess := api.Session(c); sess != nil && sess.Dirty() {
		if serr := h.saveAttempt(c); serr != nil {
			return serr
		}
	}
	return domainError(err)
}

// Reauthenticate handles POST auth/reauthenticate.
func (h *Handlers) Reauthenticate(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	b, err := parseBody(c)
	if err != nil {
		return err
	}
	password, _, e := b.Str("password")
	if e != nil {
		return &api.InputError{Errors: []api.ErrorItem{*e}}
	}
	if sess.Authenticated() {
		if err := h.Accounts.Limit(c.UserContext(), t, "reauthenticate", api.Request(c), sess, ""); err != nil {
			return domainError(err)
		}
	}
	if err := h.Accounts.Reauthenticate(c.UserContext(), t, sess, password); err != nil {
		return h.fail(c, err)
	}
	return h.RespondAuth(c)
}

// ChangePassword handles POST account/password/change.
func (h *Handlers) ChangePassword(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	b, err := parseBody(c)
	if err != nil {
		return err
	}
	current, hasCurrent, e1 := b.Str("current_password")
	next, _, e2 := b.Str("new_password")
	if e1 != nil || e2 != nil {
		return &api.InputError{Errors: nonNil(e1, e2)}
	}
	if sess.Authenticated() {
		if err := h.Accounts.Limit(c.UserContext(), t, "change_password", api.Request(c), sess, ""); err != nil {
			return domainError(err)
		}
	}
	if err := h.Accounts.ChangePassword(c.UserContext(), t, sess, current, next, hasCurrent); err != nil {
		return h.fail(c, err)
	}
	return h.RespondAuth(c)
}

// RequestPasswordReset handles POST auth/password/request.
func (h *Handlers) RequestPasswordReset(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	email, err := parseField(c, "email")
	if err != nil {
		return err
	}
	if err := h.Accounts.RequestPasswordReset(c.UserContext(), t, sess, email, api.Request(c)); err != nil {
		return h.fail(c, err)
	}
	if t.Settings.PasswordResetByCodeEnabled {
		if sess.Authenticated() {
			return h.RespondReauth(c)
		}
		return h.RespondAuth(c)
	}
	return h.Respond(c, fiber.StatusOK, nil, nil)
}

// InspectPasswordReset handles GET auth/password/reset (X-Password-Reset-Key).
func (h *Handlers) InspectPasswordReset(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	user, err := h.Accounts.InspectPasswordReset(c.UserContext(), t, sess, c.Get("X-Password-Reset-Key"))
	if err != nil {
		return h.fail(c, err)
	}
	return h.Respond(c, fiber.StatusOK, map[string]any{"user": api.UserData(user, t.Settings)}, nil)
}

// ResetPassword handles POST auth/password/reset.
func (h *Handlers) ResetPassword(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	b, err := parseBody(c)
	if err != nil {
		return err
	}
	key, _, e1 := b.Str("key")
	password, _, e2 := b.Str("password")
	if e1 != nil || e2 != nil {
		return &api.InputError{Errors: nonNil(e1, e2)}
	}
	if err := h.Accounts.ResetPassword(c.UserContext(), t, sess, key, password, api.Request(c)); err != nil {
		return h.fail(c, err)
	}
	if sess.Authenticated() {
		api.RotateCSRF(c)
	}
	return h.RespondAuth(c)
}

// RequestLoginCode handles POST auth/code/request (routed only with
// ACCOUNT_LOGIN_BY_CODE_ENABLED).
func (h *Handlers) RequestLoginCode(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if sess.Authenticated() {
		return api.ErrConflict
	}
	email, err := parseField(c, "email")
	if err != nil {
		return err
	}
	if err := h.Accounts.RequestLoginCode(c.UserContext(), t, sess, email, api.Request(c)); err != nil {
		return h.fail(c, err)
	}
	return h.RespondAuth(c)
}

// ConfirmLoginCode handles POST auth/code/confirm.
func (h *Handlers) ConfirmLoginCode(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	b, err := parseBody(c)
	if err != nil {
		return err
	}
	code, _, e := b.Str("code")
	if e != nil {
		return &api.InputError{Errors: []api.ErrorItem{*e}}
	}
	if err := h.Accounts.ConfirmLoginCode(c.UserContext(), t, sess, code, api.Request(c)); err != nil {
		return h.fail(c, err)
	}
	if sess.Authenticated() {
		api.RotateCSRF(c)
	}
	return h.RespondAuth(c)
}

// ResendLoginCode handles POST auth/code/resend.
func (h *Handlers) ResendLoginCode(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if err := h.Accounts.ResendLoginCode(c.UserContext(), t, sess, api.Request(c)); err != nil {
		return h.fail(c, err)
	}
	return h.Respond(c, fiber.StatusOK, nil, nil)
}

func emailList(addrs []identity.EmailAddress) []map[string]any {
	out := []map[string]any{}
	for _, e := range addrs {
		out = append(out, map[string]any{"email": e.Email, "verified": e.Verified, "primary": e.Primary})
	}
	return out
}

func (h *Handlers) respondEmails(c *fiber.Ctx) error {
	addrs, err := h.Accounts.Emails(c.UserContext(), api.Tenant(c), api.Session(c))
	if err != nil {
		return h.fail(c, err)
	}
	return h.Respond(c, fiber.StatusOK, emailList(addrs), nil)
}

// ListEmails handles GET account/email.
func (h *Handlers) ListEmails(c *fiber.Ctx) error { return h.respondEmails(c) }

// AddEmail handles POST account/email (an anonymous client may correct the
// address of a pending signup verification).
func (h *Handlers) AddEmail(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	email, err := parseField(c, "email")
	if err != nil {
		return err
	}
	if !sess.Authenticated() {
		addrs, err := h.Accounts.ChangePendingEmail(c.UserContext(), t, sess, email, api.Request(c))
		if err != nil {
			return h.fail(c, err)
		}
		return h.Respond(c, fiber.StatusOK, emailList(addrs), nil)
	}
	if err := h.Accounts.AddEmail(c.UserContext(), t, sess, email, api.Request(c)); err != nil {
		return h.fail(c, err)
	}
	return h.respondEmails(c)
}

// ResendEmailVerification handles PUT account/email.
func (h *Handlers) ResendEmailVerification(c *fiber.Ctx) error {
	email, err := parseField(c, "email")
	if err != nil {
		return err
	}
	if err := h.Accounts.ResendEmailVerification(c.UserContext(), api.Tenant(c), api.Session(c), email, api.Request(c)); err != nil {
		return h.fail(c, err)
	}
	return h.Respond(c, fiber.StatusOK, nil, nil)
}

// MarkPrimaryEmail handles PATCH account/email ({email, primary: true}).
func (h *Handlers) MarkPrimaryEmail(c *fiber.Ctx) error {
	b, err := parseBody(c)
	if err != nil {
		return err
	}
	email, _, e := b.Str("email")
	var primary bool
	if raw, ok := b["primary"]; !ok || json.Unmarshal(raw, &primary) != nil || !primary {
		item := api.ErrorItem{Param: "primary", Code: "invalid", Message: "Enter a valid value."}
		if !ok {
			item = api.ErrorItem{Param: "primary", Code: "required", Message: "This field is required."}
		}
		return &api.InputError{Errors: nonNil(e, &item)}
	}
	if e != nil {
		return &api.InputError{Errors: []api.ErrorItem{*e}}
	}
	if err := h.Accounts.MarkPrimaryEmail(c.UserContext(), api.Tenant(c), api.Session(c), email, api.Request(c)); err != nil {
		return h.fail(c, err)
	}
	return h.respondEmails(c)
}

// DeleteEmail handles DELETE account/email.
func (h *Handlers) DeleteEmail(c *fiber.Ctx) error {
	email, err := parseField(c, "email")
	if err != nil {
		return err
	}
	if err := h.Accounts.DeleteEmail(c.UserContext(), api.Tenant(c), api.Session(c), email, api.Request(c)); err != nil {
		return h.fail(c, err)
	}
	return h.respondEmails(c)
}

// ListSessions handles GET auth/sessions.
func (h *Handlers) ListSessions(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	list, err := h.Accounts.UserSessions(c.UserContext(), t, sess)
	if err != nil {
		return h.fail(c, err)
	}
	out := []map[string]any{}
	for _, s := range list {
		d := map[string]any{"id": s.ID, "user_agent": s.UserAgent, "ip": s.IP,
			"created_at": epoch(s.CreatedAt), "is_current": s.Current}
		if t.Settings.UserSessionsTrackActivity {
			d["last_seen_at"] = epoch(s.LastSeenAt)
		}
		out = append(out, d)
	}
	return h.Respond(c, fiber.StatusOK, out, nil)
}

// EndSessions handles DELETE auth/sessions ({sessions: [id, ...]}).
func (h *Handlers) EndSessions(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if !sess.Authenticated() {
		return h.RespondAuth(c)
	}
	b, err := parseBody(c)
	if err != nil {
		return err
	}
	var ids []int64
	if raw, ok := b["sessions"]; !ok || json.Unmarshal(raw, &ids) != nil {
		return api.FieldError("sessions", "invalid", "Enter a list of session ids.")
	}
	current, err := h.Accounts.EndSessions(c.UserContext(), t, sess, ids)
	if err != nil {
		return h.fail(c, err)
	}
	if current {
		return h.RespondAuth(c)
	}
	return h.ListSessions(c)
}

// parseField reads one required string field.
func parseField(c *fiber.Ctx, name string) (string, error) {
	b, err := parseBody(c)
	if err != nil {
		return "", err
	}
	v, present, e := b.Str(name)
	if e != nil {
		return "", &api.InputError{Errors: []api.ErrorItem{*e}}
	}
	if !present || v == "" {
		return "", &api.InputError{Errors: []api.ErrorItem{item(identity.NewError(name, "required"))}}
	}
	return v, nil
}

func nonNil(items ...*api.ErrorItem) []api.ErrorItem {
	var out []api.ErrorItem
	for _, i := range items {
		if i != nil {
			out = append(out, *i)
		}
	}
	return out
}
