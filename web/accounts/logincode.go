package accounts

import (
	"errors"

	"github.com/hallpass/hallpass/internal/identity"
)

// codePages serves the login-by-code pages.
type codePages struct{ *Pages }

func codeRequestForm(r *Request) Form {
	return Form{Action: r.Path(Prefix + "login/code/"), Submit: "Request Code", CSRF: r.CSRF(), Next: r.NextParam(),
		Fields:    []Field{{Name: "email", Label: "Email", Type: "email", Autocomplete: "email", Required: true}},
		Secondary: []Link{{Href: r.WithNext(Prefix + "login/"), Label: "Other sign-in options"}}}
}

func (p codePages) renderCodeRequest(r *Request, status int, f Form) error {
	f.Focus()
	return r.Render(status, "Sign In", FormPage("Mail me a sign-in code",
		[]string{"You will receive an email containing a special code for a password-free sign-in."}, f))
}

// codeRequestPage is GET /accounts/login/code/ (ACCOUNT_LOGIN_BY_CODE_ENABLED).
func (p codePages) codeRequestPage(r *Request) error {
	if r.Session.Authenticated() {
		return r.Redirect(r.Next(DefaultRedirect))
	}
	return p.renderCodeRequest(r, 200, codeRequestForm(r))
}

// codeRequestPost mails a code, as POST auth/code/request does, and moves
// to the form that takes it.
func (p codePages) codeRequestPost(r *Request) error {
	if r.Session.Authenticated() {
		return r.Redirect(r.Next(DefaultRedirect))
	}
	f := codeRequestForm(r)
	f.Fill(r)
	err := p.Accounts.LoginCodes.RequestLoginCode(r.Ctx(), r.Tenant, r.Session, f.Value("email"), r.Domain())
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		return p.renderCodeRequest(r, 400, f)
	}
	return r.Continue()
}

func codeConfirmForm(r *Request) Form {
	return Form{Action: r.Path(Prefix + "login/code/confirm/"), Submit: "Sign In", CSRF: r.CSRF(), Next: r.NextParam(),
		Fields:    []Field{{Name: "code", Label: "Code", Type: "text", Autocomplete: "one-time-code", Required: true}},
		Secondary: []Link{{Href: r.WithNext(Prefix + "login/"), Label: "Other sign-in options"}}}
}

func (p codePages) renderCodeConfirm(r *Request, status int, f Form) error {
	f.Focus()
	intro := []string{"We've sent a code to your email address. The code expires shortly, so please enter it soon."}
	return r.Render(status, "Sign In", FormPage("Enter Sign-In Code", intro, f))
}

// pendingCode reports whether the session waits for a login code.
func (p codePages) pendingCode(r *Request) bool {
	pl := p.Accounts.Pipeline.PendingStage(r.Tenant, r.Session)
	return pl != nil && pl.Stage == identity.StageLoginByCode
}

// codeConfirmPage is GET /accounts/login/code/confirm/: the code form while
// a login by code is pending, else back to the sign-in page.
func (p codePages) codeConfirmPage(r *Request) error {
	if !p.pendingCode(r) {
		return r.Continue()
	}
	return p.renderCodeConfirm(r, 200, codeConfirmForm(r))
}

// codeConfirmPost signs in with the code, as POST auth/code/confirm does.
func (p codePages) codeConfirmPost(r *Request) error {
	if !p.pendingCode(r) {
		return r.Continue()
	}
	f := codeConfirmForm(r)
	f.Fill(r)
	err := p.Accounts.LoginCodes.ConfirmLoginCode(r.Ctx(), r.Tenant, r.Session, f.Value("code"), r.Domain())
	if err == nil || errors.Is(err, identity.ErrNotAuthenticated) || errors.Is(err, identity.ErrConflict) {
		// Signed in, on to another stage, or the process is spent: Continue
		// knows where each goes.
		return r.Continue()
	}
	if !f.Fail(err) {
		return err
	}
	if r.Session.Dirty() {
		if err := r.Save(); err != nil {
			return err
		}
	}
	return p.renderCodeConfirm(r, 400, f)
}
