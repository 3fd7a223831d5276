package accounts

import (
	"errors"

	"github.com/hallpass/hallpass/internal/identity"
)

// signupPages serves the sign-up page.
type signupPages struct{ *Pages }

// signupForm is allauth's SignupForm: the inputs ACCOUNT_SIGNUP_FIELDS
// names, in its order.
func signupForm(r *Request) Form {
	f := Form{Action: r.Path(Prefix + "signup/"), Submit: "Sign Up", CSRF: r.CSRF(), Next: r.NextParam(),
		Params: map[string]string{"password": "password1"}}
	for _, sf := range r.Tenant.Settings.SignupFields {
		fl := Field{Name: sf.Name, Required: sf.Required}
		switch sf.Name {
		case "email":
			fl.Label, fl.Type, fl.Autocomplete = "Email", "email", "email"
		case "email2":
			fl.Label, fl.Type, fl.Autocomplete = "Email (again)", "email", "email"
		case "username":
			fl.Label, fl.Type, fl.Autocomplete = "Username", "text", "username"
		case "password1":
			fl.Label, fl.Type, fl.Autocomplete = "Password", "password", "new-password"
			if n := r.Tenant.Settings.PasswordMinLength; n > 0 {
				fl.Help = "At least " + itoa(n) + " characters."
			}
		case "password2":
			fl.Label, fl.Type, fl.Autocomplete = "Password (again)", "password", "new-password"
		default:
			continue // a phone number: not offered on the pages
		}
		f.Fields = append(f.Fields, fl)
	}
	f.Secondary = []Link{{Href: r.WithNext(Prefix + "login/"), Label: "Already have an account? Sign in"}}
	return f
}

func (p signupPages) renderSignup(r *Request, status int, f Form) error {
	if !r.Tenant.Settings.SignupOpen {
		return r.Render(403, "Sign Up Closed", Message("Sign Up Closed",
			[]string{"We are sorry, but the sign up is currently closed."}, nil))
	}
	f.Focus()
	return r.Render(status, "Sign Up", FormPage("Sign Up", nil, f))
}

// signupPage is GET /accounts/signup/ (allauth's "Sign Up Closed" when the
// tenant takes no signups).
func (p signupPages) signupPage(r *Request) error {
	if r.Session.Authenticated() {
		return r.Redirect(r.Next(DefaultRedirect))
	}
	return p.renderSignup(r, 200, signupForm(r))
}

// signupPost creates the account through the same domain call as POST
// auth/signup, then goes on as the sign-in does (the verify_email stage's
// page when the address must be confirmed first).
func (p signupPages) signupPost(r *Request) error {
	if r.Session.Authenticated() {
		return r.Redirect(r.Next(DefaultRedirect))
	}
	f := signupForm(r)
	f.Fill(r)
	in := identity.SignupInput{Password: r.Form("password1")}
	for _, fl := range f.Fields {
		switch fl.Name {
		case "email":
			in.Email, in.HasEmail = fl.Value, true
		case "username":
			in.Username, in.HasUsername = fl.Value, true
		case "password1":
			in.HasPassword = true
		}
	}
	if f.Field("email2") != nil && f.Value("email2") != f.Value("email") {
		f.AddError("email2", "You must type the same email each time.")
	}
	if f.Field("password2") != nil && r.Form("password2") != in.Password {
		f.AddError("password2", "You must type the same password each time.")
	}
	if !f.Invalid() {
		err := p.Accounts.Signups.Signup(r.Ctx(), r.Tenant, r.Session, in, r.Domain())
		if err == nil {
			return r.Continue()
		}
		if errors.Is(err, identity.ErrSignupClosed) {
			return p.renderSignup(r, 403, f)
		}
		if !f.Fail(err) {
			return err
		}
	}
	return p.renderSignup(r, 400, f)
}
