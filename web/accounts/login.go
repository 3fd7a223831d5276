package accounts

import (
	"slices"
	"strings"

	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/tenants"
)

// loginPages serves the sign-in page.
type loginPages struct{ *Pages }

// loginForm is allauth's LoginForm: one identifier field named "login"
// (labelled after the login methods) and the password.
func loginForm(r *Request) Form {
	s := r.Tenant.Settings
	label, typ, auto := "Username", "text", "username"
	switch {
	case slices.Contains(s.LoginMethods, "email") && slices.Contains(s.LoginMethods, "username"):
		label = "Username or email"
	case slices.Contains(s.LoginMethods, "email"):
		label, typ, auto = "Email", "email", "email"
	}
	f := Form{Action: r.Path(Prefix + "login/"), Submit: "Sign In", CSRF: r.CSRF(), Next: r.NextParam(),
		Params: map[string]string{"email": "login", "username": "login"},
		Fields: []Field{
			{Name: "login", Label: label, Type: typ, Autocomplete: auto, Required: true},
			{Name: "password", Label: "Password", Type: "password", Autocomplete: "current-password", Required: true},
		}}
	f.Secondary = append(f.Secondary, Link{Href: r.WithNext(Prefix + "password/reset/"), Label: "Forgot your password?"})
	if s.LoginByCodeEnabled {
		f.Secondary = append(f.Secondary, Link{Href: r.WithNext(Prefix + "login/code/"), Label: "Send me a sign-in code"})
	}
	if s.SignupOpen {
		f.Secondary = append(f.Secondary, Link{Href: r.WithNext(Prefix + "signup/"), Label: "Don't have an account? Sign up"})
	}
	return f
}

func (p loginPages) renderLogin(r *Request, status int, f Form) error {
	f.Focus()
	return r.Render(status, "Sign In", FormPage("Sign In", nil, f))
}

// loginPage is GET /accounts/login/: the form, or, for a signed-in user,
// straight on to `next` (ACCOUNT_AUTHENTICATED_LOGIN_REDIRECTS).
func (p loginPages) loginPage(r *Request) error {
	if r.Session.Authenticated() {
		return r.Redirect(r.Next(DefaultRedirect))
	}
	return p.renderLogin(r, 200, loginForm(r))
}

// loginPost signs in with the password, through the same domain call as
// POST auth/login.
func (p loginPages) loginPost(r *Request) error {
	if r.Session.Authenticated() {
		return r.Redirect(r.Next(DefaultRedirect))
	}
	f := loginForm(r)
	f.Fill(r)
	in, ok := parseLogin(r.Tenant.Settings, &f, r.Form("password"))
	if ok {
		err := p.Accounts.Passwords.Login(r.Ctx(), r.Tenant, r.Session, in, r.Domain())
		if err == nil {
			return r.Continue()
		}
		if !f.Fail(err) {
			return err
		}
		if r.Session.Dirty() {
			// A failed attempt may count (the session's attempt state).
			if err := r.Save(); err != nil {
				return err
			}
		}
	}
	return p.renderLogin(r, 400, f)
}

// parseLogin reads the login form as allauth's LoginForm does: the
// identifier is an email address when it holds "@" and email is a login
// method, else a username.
func parseLogin(s *tenants.Settings, f *Form, password string) (identity.LoginInput, bool) {
	in := identity.LoginInput{Password: password}
	login := strings.TrimSpace(f.Value("login"))
	if login == "" {
		f.AddError("login", "This field is required.")
	}
	if password == "" {
		f.AddError("password", "This field is required.")
	}
	if f.Invalid() {
		return in, false
	}
	email, username := slices.Contains(s.LoginMethods, "email"), slices.Contains(s.LoginMethods, "username")
	switch {
	case email && (strings.Contains(login, "@") || !username):
		norm, ie := identity.NormalizeEmail("login", login, s.EmailMaxLength)
		if ie != nil {
			f.AddError("login", ie.Message)
			return in, false
		}
		in.Method, in.Value = "email", norm
	case username:
		in.Method, in.Value = "username", login
	default:
		f.Errors = append(f.Errors, "Invalid login.")
		return in, false
	}
	return in, true
}
