package mfapages

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/identity"
	domain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/web/accounts"
)

// pending is the sign-in waiting at stage, or nil (the page then sends
// the browser back to sign in).
func pending(r *accounts.Request, stage string) bool {
	pl := r.Pages.Accounts.Pipeline.PendingStage(r.Tenant, r.Session)
	return pl != nil && pl.Stage == stage
}

func authenticateForm(r *accounts.Request) accounts.Form {
	return codeForm(r, pathAuthenticate, "Sign In")
}

// renderAuthenticate shows the code form and, for a user with a security
// key, the key's form (completed by the script).
func (p *Pages) renderAuthenticate(r *accounts.Request, status int, userID int64, f accounts.Form, keyErrors ...string) error {
	f.Focus()
	v := authenticateView{Form: f}
	key, err := keyPages{p}.hasKey(r, userID)
	if err != nil {
		return err
	}
	if key {
		kf := accounts.Form{Action: r.Path(pathAuthenticate), Submit: "Use a security key", CSRF: r.CSRF(), Next: r.NextParam(),
			Fields: []accounts.Field{{Name: "credential", Type: "hidden"}}, Errors: keyErrors}
		v.Key = &webAuthnForm{Form: kf, Options: r.Path(pathAuthOpts), Kind: "get", Script: scriptURL(r)}
	}
	return r.Render(status, "Two-Factor Authentication", authenticatePageView(v))
}

// authenticateView is the MFA stage's page.
type authenticateView struct {
	Form accounts.Form
	Key  *webAuthnForm
}

// authenticatePage is GET /accounts/2fa/authenticate/: the MFA stage of
// sign-in (allauth's mfa_authenticate).
func (p *Pages) authenticatePage(r *accounts.Request) error {
	pl := r.Pages.Accounts.Pipeline.PendingStage(r.Tenant, r.Session)
	if pl == nil || pl.Stage != identity.StageMFAAuthenticate {
		return r.Continue()
	}
	return p.renderAuthenticate(r, fiber.StatusOK, pl.UserID, authenticateForm(r))
}

// authenticatePost checks a TOTP or recovery code as POST auth/2fa/authenticate
// does, and continues the sign-in.
func (p *Pages) authenticatePost(r *accounts.Request) error {
	pl := r.Pages.Accounts.Pipeline.PendingStage(r.Tenant, r.Session)
	if pl == nil || pl.Stage != identity.StageMFAAuthenticate {
		return r.Continue()
	}
	f := authenticateForm(r)
	var a *domain.Authenticator
	if cred := strings.TrimSpace(r.Form("credential")); cred != "" {
		// The security key's form (POST auth/webauthn/authenticate).
		var err error
		if a, err = (keyPages{p}).finishAssertion(r, ceremonyAuthenticate, pl.UserID, cred); err != nil {
			kf := accounts.Form{}
			if !kf.Fail(err) {
				return err
			}
			return p.renderAuthenticate(r, fiber.StatusBadRequest, pl.UserID, f, kf.Errors...)
		}
	} else {
		var ok bool
		var err error
		if a, ok, err = p.checkCode(r, &f, pl.UserID, false); err != nil {
			return err
		}
		if !ok {
			return p.renderAuthenticate(r, fiber.StatusBadRequest, pl.UserID, f)
		}
	}
	r.Pages.Accounts.Pipeline.RecordMethod(r.Session, record(a))
	if err := r.Pages.Accounts.Pipeline.Continue(r.Ctx(), r.Tenant, r.Session, identity.StageMFAAuthenticate, r.Domain()); err != nil {
		return err
	}
	return r.Continue()
}

func trustForm(r *accounts.Request) accounts.Form {
	return accounts.Form{Action: r.Path(pathTrust), Submit: "Trust this browser", CSRF: r.CSRF(), Next: r.NextParam(),
		Hidden: [][2]string{{"trust", "true"}}}
}

// trustPage is GET /accounts/2fa/trust/ (MFA_TRUST_ENABLED): whether to
// skip the second factor on this browser for MFA_TRUST_COOKIE_AGE.
func (p *Pages) trustPage(r *accounts.Request) error {
	if !pending(r, identity.StageMFATrust) {
		return r.Continue()
	}
	days := int(time.Duration(r.Tenant.Settings.MFATrustCookieAge) * time.Second / (24 * time.Hour))
	return r.Render(fiber.StatusOK, "Trust this browser?", trustView(trustForm(r), days,
		accounts.Form{Action: r.Path(pathTrust), Submit: "Don't trust", CSRF: r.CSRF(), Next: r.NextParam(),
			Hidden: [][2]string{{"trust", "false"}}}))
}

// trustPost is POST auth/2fa/trust as a form: trusting sets the signed
// trust cookie (in the tenant's cookie space, as the API sets it), then the
// sign-in continues either way.
func (p *Pages) trustPost(r *accounts.Request) error {
	pl := r.Pages.Accounts.Pipeline.PendingStage(r.Tenant, r.Session)
	if pl == nil || pl.Stage != identity.StageMFATrust {
		return r.Continue()
	}
	if r.Form("trust") == "true" {
		value, until, err := r.Pages.Accounts.Pipeline.TrustCookie(r.Ctx(), r.Tenant, pl.UserID)
		if err != nil {
			return err
		}
		s := r.Tenant.Settings
		r.C.Cookie(&fiber.Cookie{Name: s.TrustCookieName(), Value: value, Path: s.TrustCookiePath(r.Path("/")),
			Expires: until, MaxAge: int(time.Until(until).Seconds()), HTTPOnly: s.MFATrustCookieHTTPOnly,
			Secure: s.MFATrustCookieSecure || r.C.Protocol() == "https", SameSite: s.MFATrustCookieSameSite})
	}
	if err := r.Pages.Accounts.Pipeline.Continue(r.Ctx(), r.Tenant, r.Session, identity.StageMFATrust, r.Domain()); err != nil {
		return err
	}
	return r.Continue()
}
