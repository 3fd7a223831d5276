// Package mfapages serves allauth's MFA pages (allauth/mfa/urls.py) and
// the account's reauthentication pages on the hosted account pages: the
// MFA stage of sign-in, browser trust, TOTP activation with a server-side
// QR code, recovery codes, and reauthentication by password or code. Each
// page runs the same domain calls as the headless API's MFA slice
// (internal/mfa's Store, internal/identity's pipeline and its
// second-factor limit) and is gated by the same settings: a type missing
// from MFA_SUPPORTED_TYPES, or the mfa app off, is absent here as there.
package mfapages

import (
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/login"
	domain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
	"github.com/hallpass/hallpass/web/accounts"
)

// Pages are the MFA and reauthentication pages, an accounts.Module.
type Pages struct {
	// Store holds the users' authenticators (the API's MFA slice's store).
	Store *domain.Store
	// Sealer seals the pending TOTP secret kept in the session.
	Sealer *seal.Sealer
}

// Paths of the pages, under the tenant's base (allauth's).
const (
	pathIndex          = accounts.Prefix + "2fa/"
	pathAuthenticate   = accounts.Prefix + "2fa/authenticate/"
	pathTrust          = accounts.Prefix + "2fa/trust/"
	pathReauthMFA      = accounts.Prefix + "2fa/reauthenticate/"
	pathTOTPActivate   = accounts.Prefix + "2fa/totp/activate/"
	pathTOTPDeactive   = accounts.Prefix + "2fa/totp/deactivate/"
	pathRecovery       = accounts.Prefix + "2fa/recovery-codes/"
	pathRecoveryGen    = accounts.Prefix + "2fa/recovery-codes/generate/"
	pathRecoveryDown   = accounts.Prefix + "2fa/recovery-codes/download/"
	pathReauthenticate = accounts.Prefix + "reauthenticate/"
)

// Gates: the API's own route rules.
var (
	mfaApp   accounts.Gate = login.AppEnabled(tenants.AppMFA).When
	totp     accounts.Gate = login.MFAType(domain.TypeTOTP).When
	recovery accounts.Gate = login.MFAType(domain.TypeRecoveryCodes).When
	trust    accounts.Gate = func(s *tenants.Settings) bool { return mfaApp(s) && s.MFATrustEnabled }
)

// Register adds the pages (accounts.Module).
func (p *Pages) Register(rt accounts.Router) {
	rt.Page(pathAuthenticate, p.authenticatePage, p.authenticatePost, mfaApp)
	rt.Page(pathTrust, p.trustPage, p.trustPost, trust)
	rt.Page(pathReauthMFA, p.reauthMFAPage, p.reauthMFAPost, mfaApp)
	rt.Page(pathReauthenticate, p.reauthPage, p.reauthPost)
	codes, app := recoveryPages{p}, totpPages{p}
	rt.Get(pathIndex, codes.indexPage, mfaApp)
	rt.Page(pathTOTPActivate, app.activatePage, app.activatePost, totp)
	rt.Page(pathTOTPDeactive, app.deactivatePage, app.deactivatePost, totp)
	rt.Get(pathRecovery, codes.recoveryPage, recovery)
	rt.Page(pathRecoveryGen, codes.generatePage, codes.generatePost, recovery)
	rt.Get(pathRecoveryDown, codes.downloadCodes, recovery)
	keyPages{p}.registerWebAuthn(rt)
}

// recentUser returns the signed-in user when they authenticated recently
// (ACCOUNT_REAUTHENTICATION_TIMEOUT), as every MFA management call of the
// API requires. Otherwise it answers — sign-in, or reauthentication by
// password (or by code for a user without one) with this page as `next` —
// and returns a nil user: the handler returns the error it is given.
func recentUser(r *accounts.Request) (*identity.User, error) {
	u, err := r.RequireUser()
	if u == nil || err != nil {
		return nil, err
	}
	if r.Pages.Accounts.SessionOps.RecentlyAuthenticated(r.Tenant, r.Session) {
		return u, nil
	}
	to := pathReauthenticate
	if !u.HasUsablePassword() {
		to = pathReauthMFA
	}
	here := r.Path(strings.TrimPrefix(r.C.Path(), r.Target.Prefix))
	return nil, r.Redirect(r.Path(to) + "?next=" + url.QueryEscape(here))
}

// canAdd is the API's check before an authenticator is added
// (MFA_ALLOW_UNVERIFIED_EMAIL): nil, or the refusal to show.
func canAdd(r *accounts.Request, userID int64) error {
	addrs, err := r.Pages.Accounts.Store.EmailAddresses(r.Ctx(), r.Tenant.ID, userID)
	if err != nil {
		return err
	}
	unverified := slices.ContainsFunc(addrs, func(e identity.EmailAddress) bool { return !e.Verified })
	return domain.CheckCanAdd(r.Tenant.Settings, unverified)
}

// userChanged drops the cached summaries of the user's sessions after a
// change to their authenticators, as the API does. Best effort: the
// change has committed.
func userChanged(r *accounts.Request, userID int64) {
	_ = r.Pages.Accounts.Sessions.UserChanged(r.Ctx(), r.Tenant.ID, userID)
}

// record is how an authenticator that passed is recorded in the session's
// methods (the API's record).
func record(a *domain.Authenticator) sessions.AuthRecord {
	rec := sessions.AuthRecord{Method: "mfa", Type: a.Type}
	if a.Type != domain.TypeTOTP {
		rec.ID = a.ID
	}
	return rec
}

// endFactor ends a second-factor try with the check's outcome, as the
// API's endFactor: passed, wrong (counted), or not checked (given back).
func endFactor(r *accounts.Request, try *identity.SecondFactorTry, err error) error {
	switch {
	case err == nil:
		return try.Passed(r.Ctx())
	case errors.Is(err, domain.ErrIncorrectCode):
		if ferr := try.Failed(r.Ctx()); ferr != nil {
			return ferr
		}
	default:
		try.Abort(r.Ctx())
	}
	return err
}

// codeForm is allauth's AuthenticateForm: one "code" field.
func codeForm(r *accounts.Request, action, submit string) accounts.Form {
	return accounts.Form{Action: r.Path(action), Submit: submit, CSRF: r.CSRF(), Next: r.NextParam(),
		Fields: []accounts.Field{{Name: "code", Label: "Code", Type: "text", Autocomplete: "one-time-code",
			Inputmode: "numeric", Required: true}}}
}

// checkCode passes the posted code through the API's steps: the user's
// second-factor limit, then the authenticators (TOTP or a recovery code).
// A refusal lands on the form (true); other errors are returned.
func (p *Pages) checkCode(r *accounts.Request, f *accounts.Form, userID int64, reauth bool) (*domain.Authenticator, bool, error) {
	f.Fill(r)
	code := strings.TrimSpace(f.Value("code"))
	if code == "" {
		f.AddError("code", "This field is required.")
		return nil, false, nil
	}
	try, err := r.Pages.Accounts.Pipeline.TrySecondFactor(r.Ctx(), r.Tenant, userID, r.Domain(), identity.FactorCode, reauth)
	if err == nil {
		var a *domain.Authenticator
		a, err = p.Store.Authenticate(r.Ctx(), r.Tenant.ID, userID, code, r.Tenant.Settings)
		if err = endFactor(r, try, err); err == nil {
			return a, true, nil
		}
	}
	if f.Fail(err) {
		return nil, false, nil
	}
	return nil, false, err
}

// keyPages are the security key and passkey pages (webauthn.go).
type keyPages struct{ *Pages }

// totpPages are the authenticator app pages (totp.go).
type totpPages struct{ *Pages }

// recoveryPages are the overview and recovery code pages (recovery.go).
type recoveryPages struct{ *Pages }
