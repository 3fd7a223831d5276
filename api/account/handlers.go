// Package account serves allauth's headless account endpoints: login,
// signup, the session, reauthentication, email verification, login by
// code, password change and reset, and the account's email addresses.
// inputs.go parses and validates requests with allauth's error codes,
// handlers call internal/identity, responses.go shapes the answers; the
// domain's refusals go to api.ErrorHandler as they are.
package account

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/api/base"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/login/code"
	"github.com/hallpass/hallpass/internal/login/password"
)

// Handlers serve the account slice.
type Handlers struct {
	*api.Headless
}

// emailHandlers are the account slice's email address management endpoints
// (manage.go): the Handlers seen from /account/email.
type emailHandlers struct{ *Handlers }

// Routes are the account slice's own endpoints, in catalog order: the
// session, email verification and the account's addresses. The password
// and login-by-code methods declare theirs (internal/login/password,
// internal/login/code); Bind answers them.
func (h *Handlers) Routes() []api.Route {
	local := api.LocalAccounts
	emails := emailHandlers{h}
	return []api.Route{
		{Method: fiber.MethodGet, Path: "/auth/session", Rule: api.Always, Handler: h.GetSession},
		{Method: fiber.MethodDelete, Path: "/auth/session", Rule: api.Always, Handler: h.Logout},
		{Method: fiber.MethodGet, Path: "/auth/email/verify", Rule: local, Handler: h.InspectVerification},
		{Method: fiber.MethodPost, Path: "/auth/email/verify", Rule: local, Handler: h.Verify},
		{Method: fiber.MethodPost, Path: "/auth/email/verify/resend", Rule: local, Handler: h.ResendVerification},
		{Method: fiber.MethodGet, Path: "/account/email", Rule: local, Handler: emails.ListEmails},
		{Method: fiber.MethodPost, Path: "/account/email", Rule: local, Handler: emails.AddEmail},
		{Method: fiber.MethodPut, Path: "/account/email", Rule: local, Handler: emails.ResendEmailVerification},
		{Method: fiber.MethodPatch, Path: "/account/email", Rule: local, Handler: emails.MarkPrimaryEmail},
		{Method: fiber.MethodDelete, Path: "/account/email", Rule: local, Handler: emails.DeleteEmail},
		// Hallpass extension: the user's own declared fields (HALLPASS_USER_FIELDS).
		{Method: fiber.MethodGet, Path: "/account/profile", Rule: api.Always, Handler: h.GetProfile},
		{Method: fiber.MethodPost, Path: "/account/profile", Rule: api.Always, Handler: h.ChangeProfile},
	}
}

// Bind answers the routes of the password and login-by-code methods.
func (h *Handlers) Bind() api.Bindings {
	return api.Bindings{
		password.OpReauthenticate: h.Reauthenticate,
		password.OpLogin:          h.Login,
		password.OpSignup:         h.Signup,
		password.OpRequestReset:   h.RequestPasswordReset,
		password.OpInspectReset:   h.InspectPasswordReset,
		password.OpReset:          h.ResetPassword,
		password.OpChange:         h.ChangePassword,
		code.OpRequest:            h.RequestLoginCode,
		code.OpResend:             h.ResendLoginCode,
		code.OpConfirm:            h.ConfirmLoginCode,
	}
}

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
	if err := h.Accounts.Passwords.Login(c.UserContext(), t, sess, in.LoginInput, api.Request(c)); err != nil {
		return err
	}
	return h.authenticated(c)
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
	in, err := parseSignup(c, t.Settings)
	if err != nil {
		return err
	}
	if err := h.Accounts.Signups.Signup(c.UserContext(), t, sess, in, api.Request(c)); err != nil {
		return err
	}
	return h.authenticated(c)
}

// GetSession handles GET auth/session.
func (h *Handlers) GetSession(c *fiber.Ctx) error {
	return base.RespondAuth(c, h.Headless)
}

// Logout handles DELETE auth/session: always an unauthenticated 401.
func (h *Handlers) Logout(c *fiber.Ctx) error {
	if err := h.Accounts.Pipeline.Logout(c.UserContext(), api.Tenant(c), api.Session(c)); err != nil {
		return err
	}
	return base.RespondAuth(c, h.Headless)
}

// Reauthenticate handles POST auth/reauthenticate.
func (h *Handlers) Reauthenticate(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	password, err := parsePassword(c)
	if err != nil {
		return err
	}
	if sess.Authenticated() {
		if err := h.Accounts.SessionOps.Limit(c.UserContext(), t, "reauthenticate", api.Request(c), sess, ""); err != nil {
			return err
		}
	}
	if err := h.Accounts.Passwords.Reauthenticate(c.UserContext(), t, sess, password); err != nil {
		return h.failed(c, err)
	}
	return base.RespondAuth(c, h.Headless)
}

// InspectVerification handles GET auth/email/verify (X-Email-Verification-Key).
func (h *Handlers) InspectVerification(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	v, err := h.Accounts.Addresses.InspectVerification(c.UserContext(), t, sess, c.Get("X-Email-Verification-Key"))
	if err != nil {
		// A wrong code still counts: save the session with the attempt.
		return h.attempted(c, err)
	}
	return respondVerification(c, h.Headless, v)
}

// Verify handles POST auth/email/verify.
func (h *Handlers) Verify(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	key, err := parseKey(c)
	if err == nil {
		err = h.Accounts.Addresses.ConfirmVerification(c.UserContext(), t, sess, key, api.Request(c))
	}
	if err != nil {
		return h.attempted(c, err)
	}
	return h.authenticated(c)
}

// ResendVerification handles POST auth/email/verify/resend.
func (h *Handlers) ResendVerification(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if err := h.Accounts.Addresses.ResendVerificationCode(c.UserContext(), t, sess, api.Request(c)); err != nil {
		return err
	}
	return h.Respond(c, fiber.StatusOK, nil, nil)
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
	if err := h.Accounts.LoginCodes.RequestLoginCode(c.UserContext(), t, sess, email, api.Request(c)); err != nil {
		return h.failed(c, err)
	}
	return base.RespondAuth(c, h.Headless)
}

// ConfirmLoginCode handles POST auth/code/confirm.
func (h *Handlers) ConfirmLoginCode(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	code, err := parseCode(c)
	if err != nil {
		return err
	}
	if err := h.Accounts.LoginCodes.ConfirmLoginCode(c.UserContext(), t, sess, code, api.Request(c)); err != nil {
		return h.failed(c, err)
	}
	return h.authenticated(c)
}

// ResendLoginCode handles POST auth/code/resend.
func (h *Handlers) ResendLoginCode(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if err := h.Accounts.LoginCodes.ResendLoginCode(c.UserContext(), t, sess, api.Request(c)); err != nil {
		return h.failed(c, err)
	}
	return h.Respond(c, fiber.StatusOK, nil, nil)
}

// authenticated answers a step that may have logged the user in: a new
// CSRF token if it did (as Django rotates it at login), and the
// authentication response.
func (h *Handlers) authenticated(c *fiber.Ctx) error {
	if api.Session(c).Authenticated() {
		api.RotateCSRF(c)
	}
	return base.RespondAuth(c, h.Headless)
}

// attempted returns err after saving the session: a wrong key or code still
// counts against its attempts.
func (h *Handlers) attempted(c *fiber.Ctx, err error) error {
	if serr := h.saveSession(c); serr != nil {
		return serr
	}
	return err
}

// failed returns err, after saving the session when the failed attempt
// changed it (attempt counters) — unless the answer is the authentication
// response (which saves it itself) or the attempts are already exhausted.
func (h *Handlers) failed(c *fiber.Ctx, err error) error {
	if errors.Is(err, identity.ErrNotAuthenticated) || errors.Is(err, identity.ErrReauthenticationRequired) {
		return err
	}
	var errs identity.Errors
	if errors.As(err, &errs) && len(errs) == 1 && errs[0].Code == "too_many_login_attempts" {
		return err
	}
	if sess := api.Session(c); sess != nil && sess.Dirty() {
		return h.attempted(c, err)
	}
	return err
}

func (h *Handlers) saveSession(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	return h.Accounts.Sessions.Save(c.UserContext(), sess, api.LoginTimeout(t.Settings))
}
