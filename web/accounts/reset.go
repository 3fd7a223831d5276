package accounts

import (
	"net/url"
)

// resetPages serves the password reset pages (link mode).
type resetPages struct{ *Pages }

func resetRequestForm(r *Request) Form {
	return Form{Action: r.Path(Prefix + "password/reset/"), Submit: "Reset My Password", CSRF: r.CSRF(),
		Fields:    []Field{{Name: "email", Label: "Email", Type: "email", Autocomplete: "email", Required: true}},
		Secondary: []Link{{Href: r.Path(Prefix + "login/"), Label: "Back to sign in"}}}
}

func (p resetPages) renderResetRequest(r *Request, status int, f Form) error {
	f.Focus()
	return r.Render(status, "Password Reset", FormPage("Password Reset",
		[]string{"Forgotten your password? Enter your email address below, and we'll send you an email allowing you to reset it."}, f))
}

// resetPage is GET /accounts/password/reset/.
func (p resetPages) resetPage(r *Request) error {
	return p.renderResetRequest(r, 200, resetRequestForm(r))
}

// resetPost mails the reset link, as POST auth/password/request does.
func (p resetPages) resetPost(r *Request) error {
	f := resetRequestForm(r)
	f.Fill(r)
	if f.Value("email") == "" {
		f.AddError("email", "This field is required.")
		return p.renderResetRequest(r, 400, f)
	}
	err := p.Accounts.Passwords.RequestPasswordReset(r.Ctx(), r.Tenant, r.Session, f.Value("email"), r.Domain())
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		return p.renderResetRequest(r, 400, f)
	}
	if r.Tenant.Settings.PasswordResetByCodeEnabled {
		return r.Redirect(r.Path(Prefix + "password/reset/code/confirm/"))
	}
	return r.Redirect(r.Path(Prefix + "password/reset/done/"))
}

// resetDone is allauth's "we have sent you an email" page.
func (p resetPages) resetDone(r *Request) error {
	return r.Render(200, "Password Reset", Message("Password Reset", []string{
		"We have sent you an email. If you have not received it please check your spam folder. Otherwise contact us if you do not receive it in a few minutes."}, nil))
}

// resetKey reads the key of /accounts/password/reset/key/{key}/.
func resetKey(r *Request) string {
	key, err := url.PathUnescape(r.C.Params("key"))
	if err != nil {
		return ""
	}
	return key
}

func resetKeyForm(r *Request) Form {
	return Form{Action: r.Path(Prefix + "password/reset/key/" + url.PathEscape(resetKey(r)) + "/"), Submit: "Change Password", CSRF: r.CSRF(),
		Params: map[string]string{"password": "password1"},
		Fields: []Field{
			{Name: "password1", Label: "New Password", Type: "password", Autocomplete: "new-password", Required: true},
			{Name: "password2", Label: "New Password (again)", Type: "password", Autocomplete: "new-password", Required: true},
		}}
}

// badToken is allauth's page for a reset link that is tampered, used or
// expired (account/password_reset_from_key.html).
func badToken(r *Request) error {
	return r.Render(404, "Bad Token", invalidLink("Bad Token",
		"The password reset link was invalid, possibly because it has already been used. Please request a ", "new password reset", ".",
		r.Path(Prefix+"password/reset/")))
}

func (p resetPages) renderResetKey(r *Request, status int, f Form) error {
	f.Focus()
	return r.Render(status, "Change Password", FormPage("Change Password", nil, f))
}

// resetKeyPage is GET /accounts/password/reset/key/{key}/: the new password
// form for a valid key, else allauth's bad-token page.
func (p resetPages) resetKeyPage(r *Request) error {
	if _, err := p.Accounts.Passwords.InspectPasswordReset(r.Ctx(), r.Tenant, r.Session, resetKey(r)); err != nil {
		if _, ok := asRefusal(err); ok {
			return badToken(r)
		}
		return err
	}
	return p.renderResetKey(r, 200, resetKeyForm(r))
}

// resetKeyPost sets the new password, as POST auth/password/reset does;
// with ACCOUNT_LOGIN_ON_PASSWORD_RESET the browser is then signed in.
func (p resetPages) resetKeyPost(r *Request) error {
	f := resetKeyForm(r)
	password := r.Form("password1")
	switch {
	case password == "":
		f.AddError("password1", "This field is required.")
	case r.Form("password2") != password:
		f.AddError("password2", "You must type the same password each time.")
	}
	if !f.Invalid() {
		err := p.Accounts.Passwords.ResetPassword(r.Ctx(), r.Tenant, r.Session, resetKey(r), password, r.Domain())
		if err == nil {
			if r.Session.Authenticated() && r.startUser == 0 {
				return r.Continue()
			}
			return r.Redirect(r.Path(Prefix + "password/reset/key/done/"))
		}
		if refusedParam(err, "key") {
			return badToken(r)
		}
		if !f.Fail(err) {
			return err
		}
	}
	return p.renderResetKey(r, 400, f)
}

// resetKeyDone is allauth's "your password is now changed" page.
func (p resetPages) resetKeyDone(r *Request) error {
	return r.Render(200, "Change Password", Message("Change Password", []string{"Your password is now changed."},
		[]Link{{Href: r.Path(Prefix + "login/"), Label: "Sign in"}}))
}
