package account

import (
	"errors"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/identity"
)

// Handlers serve the account slice.
type Handlers struct {
	*api.Headless
}

// Register adds the account routes to a headless client group.
func (h *Handlers) Register(r api.Routes) {
	r.Post("/auth/login", h.Login)
	r.Post("/auth/signup", h.Signup)
	r.Get("/auth/session", h.GetSession)
	r.Delete("/auth/session", h.Logout)
	r.Get("/auth/email/verify", h.InspectVerification)
	r.Post("/auth/email/verify", h.Verify)
	r.Post("/auth/email/verify/resend", h.ResendVerification)
	r.Post("/auth/reauthenticate", h.Reauthenticate)
	r.Post("/account/password/change", h.ChangePassword)
	r.Post("/auth/password/request", h.RequestPasswordReset)
	r.Get("/auth/password/reset", h.InspectPasswordReset)
	r.Post("/auth/password/reset", h.ResetPassword)
	r.Post("/auth/code/request", h.RequestLoginCode)
	r.Post("/auth/code/confirm", h.ConfirmLoginCode)
	r.Post("/auth/code/resend", h.ResendLoginCode)
	r.Get("/account/email", h.ListEmails)
	r.Post("/account/email", h.AddEmail)
	r.Put("/account/email", h.ResendEmailVerification)
	r.Patch("/account/email", h.MarkPrimaryEmail)
	r.Delete("/account/email", h.DeleteEmail)
	r.Get("/auth/sessions", h.ListSessions)
	r.Delete("/auth/sessions", h.EndSessions)
}

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// Login handles POST auth/login.
func (h *Handlers) Login(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if sess.Authenticated() {
		return api.ErrConflict
	}
	in, err := parseLogin(c, t.Settings)
	if err != nil {
		return err
	}
	if err := h.Accounts.Login(c.UserContext(), t, sess, in.LoginInput, api.Request(c)); err != nil {
		return domainError(err)
	}
	if sess.Authenticated() {
		api.RotateCSRF(c)
	}
	return h.RespondAuth(c)
}

// Signup handles POST auth/signup.
func (h *Handlers) Signup(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if sess.Authenticated() {
		return api.ErrConflict
	}
	if !t.Settings.SignupOpen {
		return api.ErrForbidden
	}
	in, err := parseSignup(c)
	if err != nil {
		return err
	}
	if err := h.Accounts.Signup(c.UserContext(), t, sess, in, api.Request(c)); err != nil {
		return domainError(err)
	}
	if sess.Authenticated() {
		api.RotateCSRF(c)
	}
	return h.RespondAuth(c)
}

// GetSession handles GET auth/session.
func (h *Handlers) GetSession(c *fiber.Ctx) error {
	return h.RespondAuth(c)
}

// Logout handles DELETE auth/session: always an unauthenticated 401.
func (h *Handlers) Logout(c *fiber.Ctx) error {
	if err := h.Accounts.Logout(c.UserContext(), api.Session(c)); err != nil {
		return err
	}
	return h.RespondAuth(c)
}

// InspectVerification handles GET auth/email/verify (X-Email-Verification-Key).
func (h *Handlers) InspectVerification(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	v, err := h.Accounts.InspectVerification(c.UserContext(), t, sess, c.Get("X-Email-Verification-Key"))
	if err != nil {
		// A wrong code still counts: save the session with the attempt.
		if serr := h.saveAttempt(c); serr != nil {
			return serr
		}
		return domainError(err)
	}
	return h.Respond(c, fiber.StatusOK, map[string]any{"email": v.Address.Email, "user": api.UserData(v.User, t.Settings)},
		map[string]any{"is_authenticating": v.Authenticating})
}

// Verify handles POST auth/email/verify.
func (h *Handlers) Verify(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	key, err := parseKey(c)
	if err == nil {
		err = h.Accounts.ConfirmVerification(c.UserContext(), t, sess, key, api.Request(c))
	}
	if err != nil {
		if serr := h.saveAttempt(c); serr != nil {
			return serr
		}
		return domainError(err)
	}
	if sess.Authenticated() {
		api.RotateCSRF(c)
	}
	return h.RespondAuth(c)
}

// ResendVerification handles POST auth/email/verify/resend.
func (h *Handlers) ResendVerification(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if err := h.Accounts.ResendVerificationCode(c.UserContext(), t, sess, api.Request(c)); err != nil {
		return domainError(err)
	}
	return h.Respond(c, fiber.StatusOK, nil, nil)
}

func (h *Handlers) saveAttempt(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	return h.Accounts.Sessions.Save(c.UserContext(), sess, loginTimeout(t.Settings.LoginTimeout))
}

// domainError maps identity's errors to the API's; the rest pass through to
// the central error handler.
func domainError(err error) error {
	var errs identity.Errors
	if errors.As(err, &errs) {
		out := &api.InputError{}
		for _, e := range errs {
			out.Errors = append(out.Errors, item(e))
		}
		return out
	}
	var one *identity.Error
	if errors.As(err, &one) {
		return &api.InputError{Errors: []api.ErrorItem{item(one)}}
	}
	switch {
	case errors.Is(err, identity.ErrConflict):
		return api.ErrConflict
	case errors.Is(err, identity.ErrSignupClosed), errors.Is(err, identity.ErrNotSent):
		return api.ErrForbidden
	case errors.Is(err, identity.ErrRateLimited):
		return api.ErrRateLimited
	}
	return err
}

func loginTimeout(seconds int) time.Duration { return time.Duration(seconds) * time.Second }
