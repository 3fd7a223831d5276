package conformance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	domain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/mfa/webauthntest"
)

// origin is the page origin the software authenticators sign for.
const origin = "http://" + apitest.PlatformHost

// options returns the WebAuthn options of a response (data.<key>).
func options(res *apitest.Response, key string) []byte {
	b, _ := json.Marshal(res.Path("data." + key))
	return b
}

// credential is a {name?, credential} body.
func credential(name string, cred []byte) string {
	if name == "" {
		return `{"credential":` + string(cred) + `}`
	}
	return `{"name":"` + name + `","credential":` + string(cred) + `}`
}

// must fails the walk on a software authenticator's error.
func (w *walker) must(b []byte, err error) []byte {
	w.t.Helper()
	if err != nil {
		w.t.Fatalf("%s/%s: authenticator: %v", w.config, w.client, err)
	}
	return b
}

// deactivate is the operator deactivating the account of an address.
func (w *walker) deactivate(email string) {
	w.t.Helper()
	ctx := context.Background()
	users, err := w.env.Accounts.Store.UsersByEmail(ctx, w.env.Tenant.ID, email)
	if err != nil || len(users) != 1 {
		w.t.Fatalf("%s/%s: user of %s: %v %v", w.config, w.client, email, users, err)
	}
	if err := w.env.Accounts.Store.SetActive(ctx, w.env.Tenant.ID, users[0].ID, false); err != nil {
		w.t.Fatal(err)
	}
}

// walkMFA takes a user through every authenticator type: TOTP, recovery
// codes, a security key and a passkey are added (and the key renamed);
// the user reauthenticates with each kind of factor, logs in with a
// password then the security key, by code then TOTP, and with the passkey
// alone; the key is removed; once the operator deactivates the account the
// passkey logs nobody in.
func (w *walker) walkMFA() {
	email := "mfa-" + w.client + "@example.com"
	box := w.inbox(email)
	f := w.frontend()
	f.want(200, "POST", "auth/signup", w.signupBody("", email, w.password))
	// MFA needs a verified address: a login by code proves it.
	f.logout()
	f.want(401, "POST", "auth/code/request", `{"email":"`+email+`"}`)
	f.want(200, "POST", "auth/code/confirm", `{"code":"`+box.next(codeLine)+`"}`)

	// TOTP (recovery codes come with it).
	res := f.want(404, "GET", "account/authenticators/totp", "")
	secret, _ := res.Path("meta.secret").(string)
	s := w.settings()
	f.want(400, "POST", "account/authenticators/totp", `{"code":"000000"}`)
	f.want(200, "POST", "account/authenticators/totp", `{"code":"`+domain.TOTPCode(secret, time.Now(), s)+`"}`)
	f.want(200, "GET", "account/authenticators/totp", "")
	f.want(200, "GET", "account/authenticators/recovery-codes", "")
	codes, _ := f.want(200, "POST", "account/authenticators/recovery-codes", "").Path("data.unused_codes").([]any)
	if len(codes) < 2 {
		w.t.Fatalf("%s/%s: recovery codes: %v", w.config, w.client, codes)
	}

	// A security key, renamed, and a passkey (on another authenticator:
	// the first would refuse to register twice).
	key := webauthntest.New(origin, apitest.PlatformHost)
	res = f.want(200, "GET", "account/authenticators/webauthn", "")
	res = f.want(200, "POST", "account/authenticators/webauthn", credential("Key", w.must(key.Create(options(res, "creation_options"), true, false))))
	keyID := int64(res.Path("data.id").(float64))
	f.want(200, "PUT", "account/authenticators/webauthn", fmt.Sprintf(`{"id":%d,"name":"Yubikey"}`, keyID))
	phone := webauthntest.New(origin, apitest.PlatformHost)
	res = f.want(200, "GET", "account/authenticators/webauthn?passwordless", "")
	f.want(200, "POST", "account/authenticators/webauthn", credential("Phone", w.must(phone.Create(options(res, "creation_options"), true, true))))
	passkey := webauthntest.GetOptions{UserVerified: true, CredentialID: phone.Credentials()[0].ID}

	// Reauthentication with the key, and with a recovery code.
	res = f.want(200, "GET", "auth/webauthn/reauthenticate", "")
	f.want(200, "POST", "auth/webauthn/reauthenticate", credential("", w.must(key.Get(options(res, "request_options"), webauthntest.GetOptions{UserVerified: true}))))
	f.want(400, "POST", "auth/2fa/reauthenticate", `{"code":"000000"}`)
	f.want(200, "POST", "auth/2fa/reauthenticate", `{"code":"`+codes[0].(string)+`"}`)
	f.logout()

	// Password, then the security key (a wrong origin first, which spends
	// the ceremony).
	g := w.frontend()
	if res := g.want(401, "POST", "auth/login", w.loginBody("", email, w.password)); pendingStage(res) != "mfa_authenticate" {
		w.t.Fatalf("%s/%s: %s", w.config, w.client, res.Body)
	}
	g.want(400, "POST", "auth/2fa/authenticate", `{"code":"000000"}`)
	res = g.want(200, "GET", "auth/webauthn/authenticate", "")
	g.want(400, "POST", "auth/webauthn/authenticate", credential("", w.must(key.Get(options(res, "request_options"),
		webauthntest.GetOptions{UserVerified: true, Origin: "http://evil.test"}))))
	res = g.want(200, "GET", "auth/webauthn/authenticate", "")
	w.afterMFA(g, g.do("POST", "auth/webauthn/authenticate", credential("", w.must(key.Get(options(res, "request_options"), webauthntest.GetOptions{UserVerified: true})))), true)
	g.logout()

	// By code, then TOTP (the next period's code: the current one
	// activated it).
	h := w.frontend()
	h.want(401, "POST", "auth/code/request", `{"email":"`+email+`"}`)
	h.want(401, "POST", "auth/code/confirm", `{"code":"`+box.next(codeLine)+`"}`)
	w.afterMFA(h, h.do("POST", "auth/2fa/authenticate", `{"code":"`+domain.TOTPCode(secret, time.Now().Add(30*time.Second), s)+`"}`), false)
	h.logout()

	// The passkey alone; the key is then removed.
	p := w.frontend()
	res = p.want(200, "GET", "auth/webauthn/login", "")
	p.want(200, "POST", "auth/webauthn/login", credential("", w.must(phone.Get(options(res, "request_options"), passkey))))
	p.want(200, "DELETE", "account/authenticators/webauthn", fmt.Sprintf(`{"authenticators":[%d]}`, keyID))
	p.logout()

	w.deactivate(email)
	q := w.frontend()
	res = q.want(200, "GET", "auth/webauthn/login", "")
	q.want(401, "POST", "auth/webauthn/login", credential("", w.must(phone.Get(options(res, "request_options"), passkey))))

}

// afterMFA finishes a login whose second factor was just accepted: the
// app is logged in; a browser is asked whether to trust it (a missing
// answer first).
func (w *walker) afterMFA(f *frontend, res *apitest.Response, trust bool) {
	w.t.Helper()
	if w.client == "app" || !w.settings().MFATrustEnabled {
		if res.Code != 200 {
			w.t.Fatalf("%s/%s: second factor answered %d: %s", w.config, w.client, res.Code, res.Body)
		}
		return
	}
	if res.Code != 401 || pendingStage(res) != "mfa_trust" {
		w.t.Fatalf("%s/%s: second factor answered %d: %s", w.config, w.client, res.Code, res.Body)
	}
	f.want(400, "POST", "auth/2fa/trust", `{}`)
	f.want(200, "POST", "auth/2fa/trust", fmt.Sprintf(`{"trust":%t}`, trust))
}

// walkPasskeySignup signs up with a passkey (a broken credential first,
// which spends the ceremony); a second signup is cut short by the operator
// deactivating the new account before its passkey is registered.
func (w *walker) walkPasskeySignup() {
	email := "passkey-" + w.client + "@example.com"
	phone := webauthntest.New(origin, apitest.PlatformHost)
	f := w.frontend()
	f.want(400, "POST", "auth/webauthn/signup", `{"email":"not an address"}`)
	w.startPasskeySignup(f, email)
	f.want(200, "GET", "auth/webauthn/signup", "")
	f.want(400, "PUT", "auth/webauthn/signup", `{"name":"Phone","credential":{}}`)
	res := f.want(200, "GET", "auth/webauthn/signup", "")
	f.want(200, "PUT", "auth/webauthn/signup", credential("Phone", w.must(phone.Create(options(res, "creation_options"), true, true))))

	cut := "passkey-cut-" + w.client + "@example.com"
	g := w.frontend()
	w.startPasskeySignup(g, cut)
	res = g.want(200, "GET", "auth/webauthn/signup", "")
	w.deactivate(cut)
	g.want(401, "PUT", "auth/webauthn/signup", credential("Phone", w.must(phone.Create(options(res, "creation_options"), true, true))))
}

// startPasskeySignup signs up without a password and verifies the address
// (by code, as passkey signup requires): mfa_signup_webauthn is then pending.
func (w *walker) startPasskeySignup(f *frontend, email string) {
	w.t.Helper()
	box := w.inbox(email)
	res := f.want(401, "POST", "auth/webauthn/signup", `{"email":"`+email+`"}`)
	if pendingStage(res) == "verify_email" {
		res = f.want(401, "POST", "auth/email/verify", `{"key":"`+box.next(codeLine)+`"}`)
	}
	if pendingStage(res) != "mfa_signup_webauthn" {
		w.t.Fatalf("%s/%s: passkey signup: %s", w.config, w.client, res.Body)
	}
}
