package mfapages

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/identity"
	domain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/tenants"
	"github.com/hallpass/hallpass/web"
	"github.com/hallpass/hallpass/web/accounts"
)

// WebAuthn on the pages: a page's form carries a "credential" field that
// the one same-origin script (static/mfa-webauthn.js) fills after asking
// the page's options endpoint (POST …/options/, with the form's CSRF
// token) and running navigator.credentials.create/get; the form then posts
// as any other, and the server verifies it with the API's ceremony code
// (internal/mfa BeginRegistration/FinishRegistration, BeginLogin/
// FinishLogin), keeping the ceremony in the session under the API's own
// purposes, so a ceremony is spent once whichever face finishes it.

// Ceremony purposes kept in the session (the API's).
const (
	ceremonyAdd          = "add"
	ceremonyAuthenticate = "authenticate"
	ceremonyLogin        = "login"
)

// More paths (allauth's mfa/urls.py).
const (
	pathKeys        = accounts.Prefix + "2fa/webauthn/"
	pathKeyAdd      = accounts.Prefix + "2fa/webauthn/add/"
	pathKeyAddOpts  = accounts.Prefix + "2fa/webauthn/add/options/"
	pathAuthOpts    = accounts.Prefix + "2fa/authenticate/webauthn/options/"
	pathPasskey     = accounts.Prefix + "2fa/webauthn/login/"
	pathPasskeyOpts = accounts.Prefix + "2fa/webauthn/login/options/"
)

// webAuthnGate: webauthn in MFA_SUPPORTED_TYPES.
var webAuthnGate accounts.Gate = func(s *tenants.Settings) bool { return mfaType(s, domain.TypeWebAuthn) }

// passkeyGate: MFA_PASSKEY_LOGIN_ENABLED (which needs webauthn).
var passkeyGate accounts.Gate = func(s *tenants.Settings) bool {
	return mfaType(s, domain.TypeWebAuthn) && s.MFAPasskeyLoginEnabled
}

func (p keyPages) registerWebAuthn(rt accounts.Router) {
	rt.Get(pathKeys, p.keysPage, webAuthnGate)
	rt.Page(pathKeyAdd, p.addKeyPage, p.addKeyPost, webAuthnGate)
	rt.Post(pathKeyAddOpts, p.addKeyOptions, webAuthnGate)
	rt.Post(pathKeys+":id/edit/", p.renameKey, webAuthnGate)
	rt.Page(pathKeys+":id/remove/", p.removeKeyPage, p.removeKeyPost, webAuthnGate)
	rt.Post(pathAuthOpts, p.authenticateOptions, webAuthnGate)
	rt.Page(pathPasskey, p.passkeyPage, p.passkeyPost, passkeyGate)
	rt.Post(pathPasskeyOpts, p.passkeyOptions, passkeyGate)
}

// ceremonyJSON answers an options endpoint: {"publicKey": …} as the
// script reads it, or {"error": …} with a status.
func ceremonyJSON(r *accounts.Request, status int, opts []byte, msg string) error {
	if err := r.Save(); err != nil {
		return err
	}
	c := r.C
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	if msg != "" {
		b, _ := json.Marshal(map[string]string{"error": msg})
		return c.Status(status).Send(b)
	}
	return c.Status(status).Send(append(append([]byte(`{"publicKey":`), opts...), '}'))
}

// relyingParty is the tenant's WebAuthn relying party for the request (the
// API's); a tenant whose pages cannot run WebAuthn gets its reason.
func relyingParty(r *accounts.Request) (*webauthn.Config, error) {
	return r.Tenant.Settings.WebAuthnConfig(r.Tenant.Name, r.BaseURL())
}

// webUser is the user as the ceremony code names them (the API's user()).
func (p keyPages) webUser(r *accounts.Request, u *identity.User) (*domain.WebAuthnUser, error) {
	name := u.Username
	if name == "" {
		name = u.PrimaryEmail
	}
	return p.Store.WebAuthnUser(r.Ctx(), r.Tenant.ID, u.ID, name, u.Display())
}

// keysView is the security keys page.
type keysView struct {
	Keys  []*domain.Authenticator
	CSRF  string
	Add   string
	Base  string
	Flash string
}

// keysPage is GET /accounts/2fa/webauthn/ (allauth's mfa_list_webauthn):
// each key with rename and remove.
func (p keyPages) keysPage(r *accounts.Request) error {
	u, err := r.RequireUser()
	if u == nil || err != nil {
		return err
	}
	list, err := p.Store.List(r.Ctx(), r.Tenant.ID, u.ID)
	if err != nil {
		return err
	}
	v := keysView{CSRF: r.CSRF(), Add: r.Path(pathKeyAdd), Base: r.Path(pathKeys)}
	for _, a := range list {
		if a.Type == domain.TypeWebAuthn {
			v.Keys = append(v.Keys, a)
		}
	}
	return r.Render(fiber.StatusOK, "Security Keys", keysPageView(v))
}

// addKeyView is the add-a-key page.
type addKeyView struct {
	Form     accounts.Form
	Options  string
	Script   scripts
	Passkeys bool
}

func (p keyPages) addKeyForm(r *accounts.Request) accounts.Form {
	return accounts.Form{Action: r.Path(pathKeyAdd), Submit: "Add key", CSRF: r.CSRF(),
		Fields: []accounts.Field{
			{Name: "name", Label: "Name", Type: "text", Help: "A name to tell this key from your others, e.g. \"YubiKey\" (optional)."},
			{Name: "passwordless", Label: "Passkey: sign in with this key alone, without a password", Type: "checkbox"},
			{Name: "credential", Type: "hidden"},
		}}
}

func (p keyPages) renderAddKey(r *accounts.Request, status int, f accounts.Form) error {
	f.Focus()
	return r.Render(status, "Add Security Key", addKeyPageView(addKeyView{Form: f, Options: r.Path(pathKeyAddOpts),
		Script: scriptURL(r), Passkeys: r.Tenant.Settings.MFAPasskeyLoginEnabled}))
}

// addKeyGate is activateGate for keys: recent authentication and
// MFA_ALLOW_UNVERIFIED_EMAIL.
func (p keyPages) addKeyGate(r *accounts.Request) (*identity.User, bool, error) {
	u, err := recentUser(r)
	if u == nil || err != nil {
		return nil, true, err
	}
	if err := canAdd(r, u.ID); err != nil {
		return nil, true, err
	}
	return u, false, nil
}

// addKeyPage is GET /accounts/2fa/webauthn/add/ (allauth's mfa_add_webauthn).
func (p keyPages) addKeyPage(r *accounts.Request) error {
	if _, done, err := p.addKeyGate(r); done {
		return err
	}
	return p.renderAddKey(r, fiber.StatusOK, p.addKeyForm(r))
}

// addKeyOptions is POST …/add/options/: creation options, the ceremony
// kept in the session (GET account/authenticators/webauthn's).
func (p keyPages) addKeyOptions(r *accounts.Request) error {
	u, err := r.User()
	if err != nil {
		return err
	}
	if u == nil || !r.Pages.Accounts.SessionOps.RecentlyAuthenticated(r.Tenant, r.Session) {
		return ceremonyJSON(r, fiber.StatusForbidden, nil, "Please reload the page and confirm your password again.")
	}
	if err := canAdd(r, u.ID); err != nil {
		return ceremonyJSON(r, fiber.StatusConflict, nil, err.Error())
	}
	cfg, err := relyingParty(r)
	if err != nil {
		return ceremonyJSON(r, fiber.StatusConflict, nil, "Security keys cannot be used on this site's address.")
	}
	wu, err := p.webUser(r, u)
	if err != nil {
		return err
	}
	opts, state, err := domain.BeginRegistration(cfg, wu, r.Form("passwordless") != "")
	if err != nil {
		return err
	}
	r.Session.KeepCeremony(ceremonyAdd, state)
	return ceremonyJSON(r, fiber.StatusOK, opts, "")
}

// addKeyPost finishes the registration (POST account/authenticators/webauthn):
// recovery codes come with the first authenticator.
func (p keyPages) addKeyPost(r *accounts.Request) error {
	u, done, err := p.addKeyGate(r)
	if done {
		return err
	}
	f := p.addKeyForm(r)
	f.Fill(r)
	cred := strings.TrimSpace(r.Form("credential"))
	if cred == "" {
		f.Errors = append(f.Errors, "Your browser did not give a key. Security keys need JavaScript: enable it and try again.")
		return p.renderAddKey(r, fiber.StatusBadRequest, f)
	}
	cfg, err := relyingParty(r)
	if err != nil {
		f.Errors = append(f.Errors, "Security keys cannot be used on this site's address.")
		return p.renderAddKey(r, fiber.StatusConflict, f)
	}
	wu, err := p.webUser(r, u)
	if err != nil {
		return err
	}
	s := r.Tenant.Settings
	_, err = p.Store.FinishRegistration(r.Ctx(), r.Tenant.ID, cfg, wu, r.Session.CeremonyState(ceremonyAdd), []byte(cred), f.Value("name"))
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		f.Field("credential").Value = ""
		return p.renderAddKey(r, fiber.StatusBadRequest, f)
	}
	next := pathKeys
	if recovery(s) {
		codes, err := p.Store.EnsureRecoveryCodes(r.Ctx(), r.Tenant.ID, u.ID, s)
		if err != nil {
			return err
		}
		if codes != nil {
			next = pathRecovery
		}
	}
	userChanged(r, u.ID)
	return r.Redirect(r.Path(next))
}

// keyID is the :id of a key's path.
func keyID(r *accounts.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.C.Params("id"), 10, 64)
	return id, err == nil && id > 0
}

// renameKey is POST /accounts/2fa/webauthn/{id}/edit/ ({name}), as PUT
// account/authenticators/webauthn.
func (p keyPages) renameKey(r *accounts.Request) error {
	u, err := recentUser(r)
	if u == nil || err != nil {
		return err
	}
	id, ok := keyID(r)
	if !ok {
		return r.C.Next()
	}
	if _, err := p.Store.RenameWebAuthn(r.Ctx(), r.Tenant.ID, u.ID, id, r.Form("name")); err != nil {
		return err
	}
	return r.Redirect(r.Path(pathKeys))
}

// removeKeyPage is GET /accounts/2fa/webauthn/{id}/remove/: a confirmation.
func (p keyPages) removeKeyPage(r *accounts.Request) error {
	u, err := recentUser(r)
	if u == nil || err != nil {
		return err
	}
	id, ok := keyID(r)
	if !ok {
		return r.C.Next()
	}
	list, err := p.Store.List(r.Ctx(), r.Tenant.ID, u.ID)
	if err != nil {
		return err
	}
	for _, a := range list {
		if a.Type == domain.TypeWebAuthn && a.ID == id {
			f := accounts.Form{Action: r.Path(pathKeys + strconv.FormatInt(id, 10) + "/remove/"), Submit: "Remove", CSRF: r.CSRF()}
			return r.Render(fiber.StatusOK, "Remove Security Key", accounts.FormPage("Remove Security Key",
				[]string{"Are you sure you want to remove the security key \u201c" + a.Name + "\u201d?"}, f))
		}
	}
	return r.Redirect(r.Path(pathKeys))
}

// removeKeyPost removes the key, as DELETE account/authenticators/webauthn.
func (p keyPages) removeKeyPost(r *accounts.Request) error {
	u, err := recentUser(r)
	if u == nil || err != nil {
		return err
	}
	id, ok := keyID(r)
	if !ok {
		return r.C.Next()
	}
	if _, err := p.Store.DeleteWebAuthn(r.Ctx(), r.Tenant.ID, u.ID, []int64{id}); err != nil && !errors.Is(err, domain.ErrNotFound) {
		return err
	}
	userChanged(r, u.ID)
	return r.Redirect(r.Path(pathKeys))
}

// beginAssertion keeps an assertion ceremony for purpose (userID 0: a
// passkey, discoverable) and answers its options.
func (p keyPages) beginAssertion(r *accounts.Request, purpose string, u *identity.User) error {
	cfg, err := relyingParty(r)
	if err != nil {
		return ceremonyJSON(r, fiber.StatusConflict, nil, "Security keys cannot be used on this site's address.")
	}
	var wu *domain.WebAuthnUser
	if u != nil {
		if wu, err = p.webUser(r, u); err != nil {
			return err
		}
	}
	opts, state, err := domain.BeginLogin(cfg, wu)
	if err != nil {
		return err
	}
	r.Session.KeepCeremony(purpose, state)
	return ceremonyJSON(r, fiber.StatusOK, opts, "")
}

// finishAssertion verifies the posted credential against the session's
// ceremony, counting a named user's try against their second-factor limit
// (the API's finishAssertion). The ceremony is spent either way.
func (p keyPages) finishAssertion(r *accounts.Request, purpose string, userID int64, cred string) (*domain.Authenticator, error) {
	cfg, err := relyingParty(r)
	if err != nil {
		return nil, domain.NewError("credential", domain.CodeIncorrectCode)
	}
	var try *identity.SecondFactorTry
	if userID != 0 {
		if try, err = r.Pages.Accounts.Pipeline.TrySecondFactor(r.Ctx(), r.Tenant, userID, r.Domain(), identity.FactorWebAuthn, false); err != nil {
			return nil, err
		}
	}
	a, err := p.Store.FinishLogin(r.Ctx(), r.Tenant.ID, cfg, r.Session.CeremonyState(purpose), []byte(cred), userID)
	return a, endFactor(r, try, err)
}

// authenticateOptions is POST /accounts/2fa/authenticate/webauthn/options/:
// request options for the pending sign-in's user.
func (p keyPages) authenticateOptions(r *accounts.Request) error {
	pl := r.Pages.Accounts.Pipeline.PendingStage(r.Tenant, r.Session)
	if pl == nil || pl.Stage != identity.StageMFAAuthenticate {
		return ceremonyJSON(r, fiber.StatusConflict, nil, "The sign-in has expired. Please sign in again.")
	}
	u, err := r.Pages.Accounts.Store.User(r.Ctx(), r.Tenant.ID, pl.UserID)
	if err != nil {
		return err
	}
	return p.beginAssertion(r, ceremonyAuthenticate, u)
}

// hasKey reports whether the user has a WebAuthn authenticator (the MFA
// stage then offers it).
func (p keyPages) hasKey(r *accounts.Request, userID int64) (bool, error) {
	if !mfaType(r.Tenant.Settings, domain.TypeWebAuthn) {
		return false, nil
	}
	list, err := p.Store.List(r.Ctx(), r.Tenant.ID, userID)
	if err != nil {
		return false, err
	}
	for _, a := range list {
		if a.Type == domain.TypeWebAuthn {
			return true, nil
		}
	}
	return false, nil
}

// passkeyForm is the passkey sign-in form: the credential only.
func passkeyForm(r *accounts.Request) accounts.Form {
	return accounts.Form{Action: r.Path(pathPasskey), Submit: "Sign in with a passkey", CSRF: r.CSRF(), Next: r.NextParam(),
		Fields: []accounts.Field{{Name: "credential", Type: "hidden"}}}
}

func renderPasskey(r *accounts.Request, status int, f accounts.Form) error {
	return r.Render(status, "Sign In", passkeyPageView(webAuthnForm{Form: f, Options: r.Path(pathPasskeyOpts), Script: scriptURL(r), Kind: "get"}))
}

// passkeyPage is GET /accounts/2fa/webauthn/login/ (allauth's
// mfa_login_webauthn, MFA_PASSKEY_LOGIN_ENABLED).
func (p keyPages) passkeyPage(r *accounts.Request) error {
	if r.Session.Authenticated() {
		return r.Redirect(r.Next(accounts.DefaultRedirect))
	}
	return renderPasskey(r, fiber.StatusOK, passkeyForm(r))
}

// passkeyOptions is POST …/login/options/: options for a discoverable
// credential (GET auth/webauthn/login's).
func (p keyPages) passkeyOptions(r *accounts.Request) error {
	if r.Session.Authenticated() {
		return ceremonyJSON(r, fiber.StatusConflict, nil, "You are signed in already.")
	}
	return p.beginAssertion(r, ceremonyLogin, nil)
}

// passkeyPost signs in with the passkey (POST auth/webauthn/login): it
// names the user, and no MFA stage follows.
func (p keyPages) passkeyPost(r *accounts.Request) error {
	if r.Session.Authenticated() {
		return r.Redirect(r.Next(accounts.DefaultRedirect))
	}
	f := passkeyForm(r)
	cred := strings.TrimSpace(r.Form("credential"))
	if cred == "" {
		f.Errors = append(f.Errors, "Your browser did not give a passkey. Passkeys need JavaScript: enable it and try again.")
		return renderPasskey(r, fiber.StatusBadRequest, f)
	}
	a, err := p.finishAssertion(r, ceremonyLogin, 0, cred)
	if err == nil {
		rec := record(a)
		rec.Passwordless = true
		err = r.Pages.Accounts.Pipeline.LoginWithPasskey(r.Ctx(), r.Tenant, r.Session, a.UserID, rec, r.Domain())
	}
	if err != nil {
		if !f.Fail(err) {
			return err
		}
		return renderPasskey(r, fiber.StatusBadRequest, f)
	}
	return r.Continue()
}

// webAuthnForm is a form the script completes with a ceremony.
type webAuthnForm struct {
	Form accounts.Form
	// Options is the ceremony's options endpoint; Kind "create" or "get".
	Options, Kind string
	// Script is the scripts' fingerprinted URLs.
	Script scripts
}

// scripts are the WebAuthn scripts a page loads, in order: the shared
// codec (web/static/webauthn-codec.js, the console's too) and the pages'
// ceremony script.
type scripts struct{ Codec, Ceremony string }

// mfaType reports whether typ is in MFA_SUPPORTED_TYPES with the mfa app on.
func mfaType(s *tenants.Settings, typ string) bool {
	return mfaApp(s) && containsType(s.MFASupportedTypes, typ)
}

// scriptURL is the WebAuthn scripts' fingerprinted addresses on the tenant's base.
func scriptURL(r *accounts.Request) scripts {
	static := accounts.Prefix + "static/"
	return scripts{Codec: r.Path(static + web.Fingerprinted("webauthn-codec.js")),
		Ceremony: r.Path(static + web.Fingerprinted("mfa-webauthn.js"))}
}
