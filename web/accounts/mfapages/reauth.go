package mfapages

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/web/accounts"
)

var reauthIntro = []string{"Enter your password to confirm it is you:"}

func reauthForm(r *accounts.Request) accounts.Form {
	f := accounts.Form{Action: r.Path(pathReauthenticate), Submit: "Confirm", CSRF: r.CSRF(), Next: r.NextParam(),
		Fields: []accounts.Field{{Name: "password", Label: "Password", Type: "password", Autocomplete: "current-password", Required: true}}}
	if mfaApp(r.Tenant.Settings) {
		f.Secondary = append(f.Secondary, accounts.Link{Href: r.WithNext(pathReauthMFA), Label: "Use an authenticator code instead"})
	}
	return f
}

func renderReauth(r *accounts.Request, status int, f accounts.Form) error {
	f.Focus()
	return r.Render(status, "Confirm Access", accounts.FormPage("Confirm Access", reauthIntro, f))
}

// reauthPage is GET /accounts/reauthenticate/ (allauth's
// account_reauthenticate): the password again before a sensitive change.
func (p *Pages) reauthPage(r *accounts.Request) error {
	u, err := r.RequireUser()
	if u == nil || err != nil {
		return err
	}
	return renderReauth(r, fiber.StatusOK, reauthForm(r))
}

// reauthPost confirms the password as POST auth/reauthenticate does (its
// rate limit, then the check) and goes on to `next`.
func (p *Pages) reauthPost(r *accounts.Request) error {
	u, err := r.RequireUser()
	if u == nil || err != nil {
		return err
	}
	f := reauthForm(r)
	password := r.Form("password")
	if password == "" {
		f.AddError("password", "This field is required.")
		return renderReauth(r, fiber.StatusBadRequest, f)
	}
	acc := r.Pages.Accounts
	err = acc.SessionOps.Limit(r.Ctx(), r.Tenant, "reauthenticate", r.Domain(), r.Session, "")
	if err == nil {
		err = acc.Passwords.Reauthenticate(r.Ctx(), r.Tenant, r.Session, password)
	}
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		return renderReauth(r, fiber.StatusBadRequest, f)
	}
	return r.Redirect(r.Next(accounts.DefaultRedirect))
}

var reauthMFAIntro = []string{"Enter a code from your authenticator app, or a recovery code, to confirm it is you:"}

func renderReauthMFA(r *accounts.Request, status int, f accounts.Form) error {
	f.Focus()
	return r.Render(status, "Confirm Access", accounts.FormPage("Confirm Access", reauthMFAIntro, f))
}

// reauthMFAPage is GET /accounts/2fa/reauthenticate/ (allauth's
// mfa_reauthenticate).
func (p *Pages) reauthMFAPage(r *accounts.Request) error {
	u, err := r.RequireUser()
	if u == nil || err != nil {
		return err
	}
	return renderReauthMFA(r, fiber.StatusOK, codeForm(r, pathReauthMFA, "Confirm"))
}

// reauthMFAPost checks the code as POST auth/2fa/reauthenticate does and
// records the reauthentication.
func (p *Pages) reauthMFAPost(r *accounts.Request) error {
	u, err := r.RequireUser()
	if u == nil || err != nil {
		return err
	}
	f := codeForm(r, pathReauthMFA, "Confirm")
	a, ok, err := p.checkCode(r, &f, u.ID, true)
	if err != nil {
		return err
	}
	if !ok {
		return renderReauthMFA(r, fiber.StatusBadRequest, f)
	}
	rec := record(a)
	rec.Reauthenticated = true
	r.Pages.Accounts.Pipeline.RecordMethod(r.Session, rec)
	return r.Redirect(r.Next(accounts.DefaultRedirect))
}
