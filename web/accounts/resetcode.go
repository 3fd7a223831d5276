package accounts

import (
	"github.com/hallpass/hallpass/tenants"
)

// resetCodePages serves the password reset pages (code mode).
type resetCodePages struct{ *Pages }

// resetByCode: ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED, for local accounts.
var resetByCode Gate = func(s *tenants.Settings) bool { return s.PasswordResetByCodeEnabled && localAccounts(s) }

func resetCodeForm(r *Request) Form {
	return Form{Action: r.Path(Prefix + "password/reset/code/confirm/"), Submit: "Confirm", CSRF: r.CSRF(),
		Params:    map[string]string{"key": "code"},
		Fields:    []Field{{Name: "code", Label: "Code", Type: "text", Autocomplete: "one-time-code", Required: true}},
		Secondary: []Link{{Href: r.Path(Prefix + "password/reset/"), Label: "Send a new code"}}}
}

func (p resetCodePages) renderResetCode(r *Request, status int, f Form) error {
	f.Focus()
	return r.Render(status, "Password Reset", FormPage("Enter Password Reset Code",
		[]string{"We've sent a code to your email address. Enter it below to choose a new password."}, f))
}

// resetCodePage is GET /accounts/password/reset/code/confirm/: the form for
// the mailed code while a reset by code is pending.
func (p resetCodePages) resetCodePage(r *Request) error {
	if !p.Accounts.Passwords.ResetCodePending(r.Session) {
		return r.Redirect(r.Path(Prefix + "password/reset/"))
	}
	return p.renderResetCode(r, 200, resetCodeForm(r))
}

// resetCodePost checks the code (GET auth/password/reset's domain call) and
// asks for the new password, the code carried in the form.
func (p resetCodePages) resetCodePost(r *Request) error {
	if !p.Accounts.Passwords.ResetCodePending(r.Session) {
		return r.Redirect(r.Path(Prefix + "password/reset/"))
	}
	f := resetCodeForm(r)
	f.Fill(r)
	if _, err := p.Accounts.Passwords.InspectPasswordReset(r.Ctx(), r.Tenant, r.Session, f.Value("code")); err != nil {
		if !f.Fail(err) {
			return err
		}
		if err := r.Save(); err != nil { // a wrong code counts
			return err
		}
		return p.renderResetCode(r, 400, f)
	}
	return p.renderResetCodePassword(r, 200, resetCodePasswordForm(r, f.Value("code")))
}

func resetCodePasswordForm(r *Request, code string) Form {
	f := resetKeyForm(r)
	f.Action = r.Path(Prefix + "password/reset/code/complete/")
	f.Hidden = [][2]string{{"code", code}}
	return f
}

func (p resetCodePages) renderResetCodePassword(r *Request, status int, f Form) error {
	f.Focus()
	return r.Render(status, "Change Password", FormPage("Change Password", nil, f))
}

// resetCodeComplete sets the new password, as POST auth/password/reset
// does in code mode.
func (p resetCodePages) resetCodeComplete(r *Request) error {
	if !p.Accounts.Passwords.ResetCodePending(r.Session) {
		return r.Redirect(r.Path(Prefix + "password/reset/"))
	}
	code, password := r.Form("code"), r.Form("password1")
	f := resetCodePasswordForm(r, code)
	switch {
	case password == "":
		f.AddError("password1", "This field is required.")
	case r.Form("password2") != password:
		f.AddError("password2", "You must type the same password each time.")
	}
	if !f.Invalid() {
		err := p.Accounts.Passwords.ResetPassword(r.Ctx(), r.Tenant, r.Session, code, password, r.Domain())
		if err == nil {
			if r.Session.Authenticated() && r.startUser == 0 {
				return r.Continue()
			}
			return r.Redirect(r.Path(Prefix + "password/reset/key/done/"))
		}
		if refusedParam(err, "key") {
			if err := r.Save(); err != nil {
				return err
			}
			return r.Redirect(r.Path(Prefix + "password/reset/code/confirm/"))
		}
		if !f.Fail(err) {
			return err
		}
	}
	return p.renderResetCodePassword(r, 400, f)
}
