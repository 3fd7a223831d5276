package accounts

import (
	"net/url"

	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/login"
	"github.com/hallpass/hallpass/tenants"
)

// Gates: the headless API's own route rules, so a feature off in settings
// is absent from both faces.
var (
	// localAccounts: local accounts exist (not SOCIALACCOUNT_ONLY).
	localAccounts Gate = login.LocalAccounts.When
	// loginByCode: ACCOUNT_LOGIN_BY_CODE_ENABLED.
	loginByCode Gate = func(s *tenants.Settings) bool { return s.LoginByCodeEnabled && login.LocalAccounts.When(s) }
	// userSessions: usersessions in HALLPASS_APPS.
	userSessions Gate = login.AppEnabled(tenants.AppUserSessions).When
)

// StagePages are the pages that serve each stage a sign-in can be left
// pending at, by stage key, relative to the tenant's base. The MFA module
// serves the 2fa ones.
var StagePages = map[string]string{
	login.StageVerifyEmail:       Prefix + "confirm-email/",
	identity.StageLoginByCode:    Prefix + "login/code/confirm/",
	login.StageMFAAuthenticate:   Prefix + "2fa/authenticate/",
	login.StageMFATrust:          Prefix + "2fa/trust/",
	login.StageMFASignupWebAuthn: Prefix + "2fa/webauthn/signup/",
}

// registerCore adds the core account pages.
func (p *Pages) registerCore(rt Router) {
	rt.Page(Prefix+"login/", loginPages{p}.loginPage, loginPages{p}.loginPost, localAccounts)
	rt.Page(Prefix+"logout/", logoutPages{p}.logoutPage, logoutPages{p}.logoutPost)
	rt.Page(Prefix+"signup/", signupPages{p}.signupPage, signupPages{p}.signupPost, localAccounts)
	rt.Page(Prefix+"confirm-email/", verifyPages{p}.verificationSent, verifyPages{p}.verifyCodePost, localAccounts)
	rt.Page(Prefix+"confirm-email/:key/", verifyPages{p}.confirmPage, verifyPages{p}.confirmPost, localAccounts)
	rt.Page(Prefix+"password/reset/", resetPages{p}.resetPage, resetPages{p}.resetPost, localAccounts)
	rt.Get(Prefix+"password/reset/done/", resetPages{p}.resetDone, localAccounts)
	rt.Get(Prefix+"password/reset/key/done/", resetPages{p}.resetKeyDone, localAccounts)
	rt.Page(Prefix+"password/reset/key/:key/", resetPages{p}.resetKeyPage, resetPages{p}.resetKeyPost, localAccounts)
	rt.Page(Prefix+"password/reset/code/confirm/", resetCodePages{p}.resetCodePage, resetCodePages{p}.resetCodePost, resetByCode)
	rt.Post(Prefix+"password/reset/code/complete/", resetCodePages{p}.resetCodeComplete, resetByCode)
	rt.Page(Prefix+"login/code/", codePages{p}.codeRequestPage, codePages{p}.codeRequestPost, loginByCode)
	rt.Page(Prefix+"login/code/confirm/", codePages{p}.codeConfirmPage, codePages{p}.codeConfirmPost, localAccounts)
	rt.Page(Prefix+"email/", emailPages{p}.emailPage, emailPages{p}.emailPost, localAccounts)
	rt.Page(Prefix+"password/change/", passwordPages{p}.passwordPage(false), passwordPages{p}.passwordPost(false), localAccounts)
	rt.Page(Prefix+"password/set/", passwordPages{p}.passwordPage(true), passwordPages{p}.passwordPost(true), localAccounts)
	rt.Page(Prefix+"sessions/", sessionPages{p}.sessionsPage, sessionPages{p}.sessionsPost, userSessions)
}

// Continue answers a step that may have signed the user in: to `next` (or
// the default) when it did, with a new CSRF token as Django issues at
// login; to the page of the stage the sign-in waits at when one is
// pending; else back to the sign-in page.
func (r *Request) Continue() error {
	if r.Session.Authenticated() {
		r.RotateCSRF()
		return r.Redirect(r.Next(DefaultRedirect))
	}
	if pl := r.Pages.Accounts.Pipeline.PendingStage(r.Tenant, r.Session); pl != nil {
		if page, ok := StagePages[pl.Stage]; ok {
			return r.Redirect(r.WithNext(page))
		}
	}
	return r.Redirect(r.WithNext(Prefix + "login/"))
}

// logoutPages serves the sign-out page.
type logoutPages struct{ *Pages }

// logoutPage is allauth's sign-out confirmation (GET shows it; only the
// POST signs out).
func (p logoutPages) logoutPage(r *Request) error {
	if !r.Session.Authenticated() {
		return r.Redirect(r.Path(Prefix + "login/"))
	}
	f := Form{Action: r.Path(Prefix + "logout/"), Submit: "Sign Out", CSRF: r.CSRF(), Next: r.NextParam()}
	return r.Render(200, "Sign Out", FormPage("Sign Out", []string{"Are you sure you want to sign out?"}, f))
}

// logoutPost signs out and goes to `next`, or to the sign-in page.
func (p logoutPages) logoutPost(r *Request) error {
	if r.Session.Authenticated() {
		if err := p.Accounts.Pipeline.Logout(r.Ctx(), r.Tenant, r.Session); err != nil {
			return err
		}
		r.RotateCSRF()
	}
	return r.Redirect(r.Next(Prefix + "login/"))
}

// query builds "?k=v&…" from pairs, skipping empty values.
func query(pairs ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			v.Set(pairs[i], pairs[i+1])
		}
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}
