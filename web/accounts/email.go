package accounts

import (
	"errors"

	"github.com/hallpass/hallpass/internal/identity"
)

// emailPages serves the email addresses page.
type emailPages struct{ *Pages }

// emailNotices are the messages the email page shows after an action
// (its ?done= parameter): fixed texts, never anything the request brings.
var emailNotices = map[string]string{
	"added":   "Confirmation email sent. Follow the link in it to verify the address.",
	"sent":    "Confirmation email sent.",
	"primary": "Primary email address set.",
	"removed": "Email address removed.",
}

// emailView is what the email page shows.
type emailView struct {
	Addresses []identity.EmailAddress
	// Selected is the address the radio group has checked.
	Selected string
	// Manage is the list form (its CSRF, errors); Add the add form.
	Manage Form
	Add    Form
	Notice string
}

func addEmailForm(r *Request) Form {
	return Form{Action: r.Path(Prefix + "email/"), Submit: "Add Email", CSRF: r.CSRF(),
		Hidden: [][2]string{{"action_add", "1"}},
		Fields: []Field{{Name: "email", Label: "Email", Type: "email", Autocomplete: "email", Required: true}}}
}

func (p emailPages) renderEmail(r *Request, status int, v emailView) error {
	addrs, err := p.Accounts.Addresses.Emails(r.Ctx(), r.Tenant, r.Session)
	if err != nil {
		return err
	}
	v.Addresses = addrs
	if v.Selected == "" {
		for _, a := range addrs {
			if a.Primary {
				v.Selected = a.Email
			}
		}
	}
	v.Manage.Action, v.Manage.CSRF = r.Path(Prefix+"email/"), r.CSRF()
	if v.Add.Action == "" {
		v.Add = addEmailForm(r)
	}
	v.Add.CSRF = r.CSRF()
	if v.Add.Invalid() {
		v.Add.Focus()
	}
	return r.Render(status, "Email Addresses", emailPage(v))
}

// emailPage is GET /accounts/email/: the user's addresses, to make one
// primary, send its verification again or remove it, and a form to add one.
func (p emailPages) emailPage(r *Request) error {
	u, err := r.RequireUser()
	if u == nil {
		return err
	}
	return p.renderEmail(r, 200, emailView{Notice: emailNotices[r.C.Query("done")]})
}

// emailPost runs the action the pressed button names, through the same
// domain calls as account/email's POST, PUT, PATCH and DELETE.
func (p emailPages) emailPost(r *Request) error {
	u, err := r.RequireUser()
	if u == nil {
		return err
	}
	ctx, t, sess, req := r.Ctx(), r.Tenant, r.Session, r.Domain()
	addrs := p.Accounts.Addresses
	if r.Form("action_add") != "" {
		f := addEmailForm(r)
		f.Fill(r)
		if f.Value("email") == "" {
			f.AddError("email", "This field is required.")
			return p.renderEmail(r, 400, emailView{Add: f})
		}
		if err := addrs.AddEmail(ctx, t, sess, f.Value("email"), req); err != nil {
			return p.emailFailed(r, err, emailView{Add: f})
		}
		return r.Redirect(r.Path(Prefix + "email/?done=added"))
	}
	email := r.Form("email")
	v := emailView{Selected: email}
	action := ""
	for _, a := range []string{"primary", "send", "remove"} {
		if r.Form("action_"+a) != "" {
			action = a
			break
		}
	}
	switch {
	case action == "":
		v.Manage.Errors = []string{"Choose an action."}
		return p.renderEmail(r, 400, v)
	case email == "":
		v.Manage.Errors = []string{"Choose an email address."}
		return p.renderEmail(r, 400, v)
	}
	var done string
	switch action {
	case "primary":
		err, done = addrs.MarkPrimaryEmail(ctx, t, sess, email, req), "primary"
	case "send":
		err, done = addrs.ResendEmailVerification(ctx, t, sess, email, req), "sent"
	default:
		err, done = addrs.DeleteEmail(ctx, t, sess, email, req), "removed"
	}
	if err != nil {
		return p.emailFailed(r, err, v)
	}
	return r.Redirect(r.Path(Prefix + "email/?done=" + done))
}

// emailFailed shows a refused email action on its form; a change that
// needs a recent sign-in goes to reauthentication first.
func (p emailPages) emailFailed(r *Request, err error, v emailView) error {
	if errors.Is(err, identity.ErrReauthenticationRequired) {
		return r.Redirect(r.Path(Prefix+"reauthenticate/") + query("next", r.Path(Prefix+"email/")))
	}
	target := &v.Manage
	if v.Add.Action != "" {
		target = &v.Add
	}
	if errors.Is(err, identity.ErrNotSent) {
		target.Errors = append(target.Errors, "No confirmation email was sent: the address is verified already, or one was sent a moment ago.")
		return p.renderEmail(r, 400, v)
	}
	if !target.Fail(err) {
		return err
	}
	if target == &v.Manage {
		// The list form has no email field of its own to tie errors to.
		for _, fl := range target.Fields {
			target.Errors = append(target.Errors, fl.Errors...)
		}
	}
	return p.renderEmail(r, 400, v)
}
