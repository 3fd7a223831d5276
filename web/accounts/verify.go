package accounts

import (
	"errors"
	"net/url"

	"github.com/hallpass/hallpass/internal/identity"
)

// verifyPages serves the email confirmation pages.
type verifyPages struct{ *Pages }

// invalidConfirmation is allauth's page for a confirmation link that is
// tampered, used or expired (account/email_confirm.html).
func invalidConfirmation(r *Request) error {
	return r.Render(404, "Confirm Email Address", invalidLink("Confirm Email Address",
		"This email confirmation link expired or is invalid. Please ", "issue a new email confirmation request", ".",
		r.Path(Prefix+"email/")))
}

// verificationSent is GET /accounts/confirm-email/: allauth's
// "Verify Your Email Address" page, where a sign-up or sign-in waiting for
// the address lands; in code mode, the form for the mailed code.
func (p verifyPages) verificationSent(r *Request) error {
	if r.Tenant.Settings.EmailVerificationByCodeEnabled && r.Session.State.EmailCode != nil {
		return p.renderCodeForm(r, 200, verifyCodeForm(r))
	}
	return r.Render(200, "Verify Your Email Address", Message("Verify Your Email Address",
		[]string{"We have sent an email to you for verification. Follow the link provided to finalize the signup process.",
			"If you do not see the verification email in your main inbox, check your spam folder. Please contact us if you do not receive the verification email within a few minutes."},
		nil))
}

func verifyCodeForm(r *Request) Form {
	return Form{Action: r.Path(Prefix + "confirm-email/"), Submit: "Confirm", CSRF: r.CSRF(), Next: r.NextParam(),
		Params: map[string]string{"key": "code"},
		Fields: []Field{{Name: "code", Label: "Code", Type: "text", Autocomplete: "one-time-code", Required: true}}}
}

func (p verifyPages) renderCodeForm(r *Request, status int, f Form) error {
	f.Focus()
	return r.Render(status, "Email Verification", FormPage("Enter Email Verification Code",
		[]string{"We've sent a code to your email address. Enter it below."}, f))
}

// verifyCodePost confirms the address with the mailed code (code mode),
// as POST auth/email/verify does.
func (p verifyPages) verifyCodePost(r *Request) error {
	if !r.Tenant.Settings.EmailVerificationByCodeEnabled {
		return r.Redirect(r.Path(Prefix + "confirm-email/"))
	}
	f := verifyCodeForm(r)
	f.Fill(r)
	err := p.Accounts.Addresses.ConfirmVerification(r.Ctx(), r.Tenant, r.Session, f.Value("code"), r.Domain())
	if err == nil {
		return p.confirmed(r)
	}
	if errors.Is(err, identity.ErrConflict) {
		// The process is gone (expired, or its attempts spent).
		if err := r.Save(); err != nil {
			return err
		}
		return r.Redirect(r.Path(Prefix + "login/"))
	}
	if !f.Fail(err) {
		return err
	}
	if err := r.Save(); err != nil { // a wrong code counts
		return err
	}
	return p.renderCodeForm(r, 400, f)
}

// confirmKey reads the key of /accounts/confirm-email/{key}/.
func confirmKey(r *Request) string {
	key, err := url.PathUnescape(r.C.Params("key"))
	if err != nil {
		return ""
	}
	return key
}

// confirmPage is GET /accounts/confirm-email/{key}/: allauth's
// confirmation page, asking to confirm the address the key names (the POST
// confirms), or the invalid-link page.
func (p verifyPages) confirmPage(r *Request) error {
	v, err := p.Accounts.Addresses.InspectVerification(r.Ctx(), r.Tenant, r.Session, confirmKey(r))
	if err != nil {
		if _, ok := asRefusal(err); ok {
			return invalidConfirmation(r)
		}
		return err
	}
	who := v.User.Username
	if who == "" {
		who = v.User.PrimaryEmail
	}
	f := Form{Action: r.Path(Prefix + "confirm-email/" + url.PathEscape(confirmKey(r)) + "/"), Submit: "Confirm", CSRF: r.CSRF()}
	return r.Render(200, "Confirm Email Address", confirmEmail(v.Address.Email, who, f))
}

// confirmPost is POST /accounts/confirm-email/{key}/: the address becomes
// verified (as POST auth/email/verify), and a sign-in waiting for it goes on.
func (p verifyPages) confirmPost(r *Request) error {
	err := p.Accounts.Addresses.ConfirmVerification(r.Ctx(), r.Tenant, r.Session, confirmKey(r), r.Domain())
	if err != nil {
		var errs identity.Errors
		if errors.As(err, &errs) && len(errs) == 1 && errs[0].Code == "email_taken" {
			return r.Render(409, "Confirm Email Address", Message("Confirm Email Address",
				[]string{"Unable to confirm this email address because it is already confirmed by a different account."}, nil))
		}
		if _, ok := asRefusal(err); ok {
			return invalidConfirmation(r)
		}
		return err
	}
	return p.confirmed(r)
}

// confirmed answers a confirmation: the sign-in it completed goes on;
// otherwise a signed-in user sees their addresses and anyone else the
// sign-in page (allauth's EMAIL_CONFIRMATION_*_REDIRECT_URL defaults).
func (p verifyPages) confirmed(r *Request) error {
	if r.Session.Authenticated() && r.startUser == 0 {
		return r.Continue()
	}
	if r.Session.Authenticated() {
		return r.Redirect(r.Path(Prefix + "email/"))
	}
	if pl := p.Accounts.Pipeline.PendingStage(r.Tenant, r.Session); pl != nil {
		return r.Continue()
	}
	return r.Redirect(r.Path(Prefix + "login/"))
}
