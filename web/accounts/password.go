package accounts

import (
	"errors"

	"github.com/hallpass/hallpass/internal/identity"
)

// passwordPages serves the password change and set pages.
type passwordPages struct{ *Pages }

// passwordForm is allauth's ChangePasswordForm (with the current password)
// or SetPasswordForm (for a user without a usable one).
func passwordForm(r *Request, set bool) Form {
	f := Form{CSRF: r.CSRF(), Params: map[string]string{"current_password": "oldpassword", "new_password": "password1"}}
	if set {
		f.Action, f.Submit = r.Path(Prefix+"password/set/"), "Set Password"
	} else {
		f.Action, f.Submit = r.Path(Prefix+"password/change/"), "Change Password"
		f.Fields = append(f.Fields, Field{Name: "oldpassword", Label: "Current Password", Type: "password", Autocomplete: "current-password", Required: true})
		f.Secondary = []Link{{Href: r.Path(Prefix + "password/reset/"), Label: "Forgot your password?"}}
	}
	f.Fields = append(f.Fields,
		Field{Name: "password1", Label: "New Password", Type: "password", Autocomplete: "new-password", Required: true},
		Field{Name: "password2", Label: "New Password (again)", Type: "password", Autocomplete: "new-password", Required: true})
	return f
}

func (p passwordPages) renderPassword(r *Request, status int, set bool, f Form) error {
	title := "Change Password"
	if set {
		title = "Set Password"
	}
	f.Focus()
	return r.Render(status, title, FormPage(title, nil, f))
}

// passwordPage serves GET /accounts/password/change/ and …/set/: a user
// without a usable password is sent to set one, a user with one to change
// it, as allauth does.
func (p passwordPages) passwordPage(set bool) Handler {
	return func(r *Request) error {
		u, err := r.RequireUser()
		if u == nil {
			return err
		}
		if u.HasUsablePassword() == set {
			return r.Redirect(r.Path(Prefix + map[bool]string{true: "password/change/", false: "password/set/"}[u.HasUsablePassword()]))
		}
		return p.renderPassword(r, 200, set, passwordForm(r, set))
	}
}

// passwordPost changes (or sets) the password through the same limit and
// domain call as POST account/password/change.
func (p passwordPages) passwordPost(set bool) Handler {
	return func(r *Request) error {
		u, err := r.RequireUser()
		if u == nil {
			return err
		}
		if u.HasUsablePassword() == set {
			return r.Redirect(r.Path(Prefix + map[bool]string{true: "password/change/", false: "password/set/"}[u.HasUsablePassword()]))
		}
		f := passwordForm(r, set)
		current, next := r.Form("oldpassword"), r.Form("password1")
		if next != "" && r.Form("password2") != next {
			f.AddError("password2", "You must type the same password each time.")
			return p.renderPassword(r, 400, set, f)
		}
		err = p.Accounts.SessionOps.Limit(r.Ctx(), r.Tenant, "change_password", r.Domain(), r.Session, "")
		if err == nil {
			err = p.Accounts.Passwords.ChangePassword(r.Ctx(), r.Tenant, r.Session, current, next, !set)
		}
		if err != nil {
			if errors.Is(err, identity.ErrReauthenticationRequired) {
				return r.Redirect(r.Path(Prefix+"reauthenticate/") + query("next", r.Path(Prefix+"password/change/")))
			}
			if !f.Fail(err) {
				return err
			}
			return p.renderPassword(r, 400, set, f)
		}
		if !r.Session.Authenticated() {
			// ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE
			return r.Redirect(r.Path(Prefix + "login/"))
		}
		return r.Render(200, "Password changed", Message(map[bool]string{true: "Password Set", false: "Password Changed"}[set],
			[]string{map[bool]string{true: "Password successfully set.", false: "Password successfully changed."}[set]},
			[]Link{{Href: r.Path(DefaultRedirect), Label: "Back to your account"}}))
	}
}
