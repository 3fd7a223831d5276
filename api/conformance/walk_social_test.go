package conformance_test

import (
	"encoding/json"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/social/oidctest"
)

// providerStandIn marks a configuration whose Google app the test serves.
const providerStandIn = "stand-in"

// providerToken is an auth/provider/token body.
func providerToken(process string, token map[string]any) string {
	b, _ := json.Marshal(map[string]any{"provider": "google", "process": process, "token": token})
	return string(b)
}

// providerLogin has the provider vouch for sub (address sub@example.com,
// verified) and hands its ID token over, as a mobile app's SDK would.
func (w *walker) providerLogin(f *frontend, sub, process string) *apitest.Response {
	w.idp.SetUser(oidctest.User{Sub: sub, Email: sub + "@example.com", EmailVerified: true})
	idToken := w.idp.IDToken(w.t, oidctest.TokenOptions{})
	return f.do("POST", "auth/provider/token", providerToken(process, map[string]any{"client_id": w.idp.ClientID, "id_token": idToken}))
}

// walkSocial drives the provider endpoints through their successes and
// documented errors: the redirect form, a token login that stops at the
// signup form, the form's GET and POST, the connected accounts (which
// can be disconnected once the user has a password), a connect without a
// user, and a signup with an address the provider did not vouch for.
func (w *walker) walkSocial() {
	f := w.frontend()
	f.do("GET", "config", "")
	form := "Content-Type"
	f.want(302, "POST", "auth/provider/redirect", "provider=google&process=login&callback_url=https%3A%2F%2Fapp.example.com%2Fcb", form, "application/x-www-form-urlencoded")
	f.do("POST", "auth/provider/redirect", "provider=nope&process=login&callback_url=https%3A%2F%2Fapp.example.com%2Fcb", form, "application/x-www-form-urlencoded")
	sub := "conf-social-" + w.client
	w.idp.SetUser(oidctest.User{Sub: sub, Email: sub + "@example.com", EmailVerified: true})
	idToken := w.idp.IDToken(w.t, oidctest.TokenOptions{})
	f.want(400, "POST", "auth/provider/token", providerToken("login", map[string]any{"client_id": "other", "id_token": idToken}))
	f.want(400, "POST", "auth/provider/token", providerToken("login", map[string]any{"client_id": w.idp.ClientID}))
	f.want(409, "GET", "auth/provider/signup", "")
	if res := w.providerLogin(f, sub, "login"); res.Code != 401 || pendingStage(res) != "provider_signup" {
		w.t.Fatalf("%s/%s: token login without auto signup answered %d: %s", w.config, w.client, res.Code, res.Body)
	}
	f.do("GET", "auth/session", "")
	f.want(200, "GET", "auth/provider/signup", "")
	f.want(400, "POST", "auth/provider/signup", `{"email":"not an address"}`)
	f.want(200, "POST", "auth/provider/signup", `{"email":"`+sub+`@example.com"}`)
	f.want(200, "GET", "account/providers", "")
	f.want(400, "DELETE", "account/providers", `{"provider":"google","account":"nope"}`)
	f.want(400, "DELETE", "account/providers", `{"provider":"google","account":"`+sub+`"}`) // no password yet
	f.want(200, "POST", "account/password/change", `{"new_password":"social horse battery"}`)
	f.want(200, "DELETE", "account/providers", `{"provider":"google","account":"`+sub+`"}`)
	f.want(200, "GET", "account/providers", "")
	f.want(200, "POST", "auth/provider/token", providerToken("connect", map[string]any{"client_id": w.idp.ClientID, "id_token": idToken}))
	f.logout()
	f.do("GET", "account/providers", "")

	// Connecting needs a user.
	w.frontend().want(403, "POST", "auth/provider/token", providerToken("connect", map[string]any{"client_id": w.idp.ClientID, "id_token": idToken}))

	// An address of the user's choosing must be verified
	// (SOCIALACCOUNT_EMAIL_VERIFICATION mandatory).
	g := w.frontend()
	if res := w.providerLogin(g, "conf-social-elsewhere-"+w.client, "login"); pendingStage(res) != "provider_signup" {
		w.t.Fatalf("%s/%s: %s", w.config, w.client, res.Body)
	}
	if res := g.want(401, "POST", "auth/provider/signup", `{"email":"elsewhere-`+w.client+`@example.com"}`); pendingStage(res) != "verify_email" {
		w.t.Fatalf("%s/%s: %s", w.config, w.client, res.Body)
	}
}
