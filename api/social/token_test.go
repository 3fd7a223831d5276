package social_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/social/oidctest"
)

// tokenBody is POST auth/provider/token's body.
func tokenBody(provider, process string, token map[string]any) string {
	b, _ := json.Marshal(map[string]any{"provider": provider, "process": process, "token": token})
	return string(b)
}

// An app logs in with an ID token it got from Google's SDK; the first time
// signs up, the second finds the same user.
func TestTokenFlowLogin(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env, srv := googleEnv(t, nil)
			srv.SetUser(oidctest.User{Sub: "g-7", Email: "cy@example.com", EmailVerified: true, Name: "Cy"})
			idToken := srv.IDToken(t, oidctest.TokenOptions{})
			c := env.Client(client)
			res := c.Do("POST", "auth/provider/token", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": idToken})).Status(200)
			if res.Path("data.user.email") != "cy@example.com" {
				t.Fatalf("user %v", res.Path("data.user"))
			}
			methods := res.Path("data.methods").([]any)
			if m := methods[len(methods)-1].(map[string]any); m["method"] != "socialaccount" || m["uid"] != "g-7" {
				t.Fatalf("methods %v", methods)
			}
			id := res.Path("data.user.id")
			c.Do("DELETE", "auth/session", "").Status(401)
			c = env.Client(client)
			res = c.Do("POST", "auth/provider/token", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": idToken})).Status(200)
			if res.Path("data.user.id") != id || users(t, env) != 1 {
				t.Fatalf("second login: user %v (first %v), %d users", res.Path("data.user.id"), id, users(t, env))
			}
		})
	}
}

// The token flow's input and verification errors, with allauth's codes;
// none creates an account.
func TestTokenFlowErrors(t *testing.T) {
	env, srv := googleEnv(t, nil)
	srv.SetUser(oidctest.User{Sub: "g-1", Email: "ana@example.com", EmailVerified: true})
	good := srv.IDToken(t, oidctest.TokenOptions{})
	nonce := "abc"
	cases := []struct {
		name, body, param, code string
		status                  int
	}{
		{"token not an object", `{"provider":"google","process":"login","token":"x"}`, "token", "invalid_token", 400},
		{"no client_id", tokenBody("google", "login", map[string]any{"id_token": good}), "token", "client_id_required", 400},
		{"unknown client_id", tokenBody("google", "login", map[string]any{"client_id": "other", "id_token": good}), "token", "invalid_token", 400},
		{"no tokens", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID}), "token", "token_required", 400},
		{"id_token not a string", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": 5}), "token", "token_required", 400},
		{"access token alone proves nothing", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "access_token": srv.AccessToken()}), "token", "invalid_token", 400},
		{"expired", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{Expired: true})}), "token", "invalid_token", 400},
		{"foreign audience", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{Audience: []string{"other-app"}})}), "token", "invalid_token", 400},
		{"wrong issuer", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{Issuer: "https://evil.example"})}), "token", "invalid_token", 400},
		{"signed by another key", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{ForeignKey: true})}), "token", "invalid_token", 400},
		{"alg none", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{Alg: "none"})}), "token", "invalid_token", 400},
		{"garbage token", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": "a.b.c"}), "token", "invalid_token", 400},
		{"unknown provider", tokenBody("facebook", "login", map[string]any{"client_id": "x", "id_token": good}), "token", "invalid_token", 400},
		{"bad process", tokenBody("google", "signup", map[string]any{"client_id": srv.ClientID, "id_token": good}), "process", "invalid_choice", 400},
		{"no provider", `{"process":"login","token":{"client_id":"x"}}`, "provider", "required", 400},
		{"not JSON", `{"provider":`, "", "invalid", 400},
		{"nonce given, token without it", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": good, "nonce": "n-1"}), "token", "invalid_token", 400},
		{"nonce given, token with another", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{Nonce: &nonce}), "nonce": "n-1"}), "token", "invalid_token", 400},
		{"nonce not a string", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": good, "nonce": 7}), "token", "invalid_token", 400},
		// Last: they succeed.
		{"nonce given and matching", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{Nonce: &nonce}), "nonce": nonce}), "", "", 200},
		{"token with a nonce nobody asked for", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{Nonce: &nonce})}), "", "", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := env.Do("app", "POST", "auth/provider/token", tc.body).Status(tc.status)
			if tc.status == 400 {
				res.Error(tc.param, tc.code)
				if users(t, env) != 0 {
					t.Fatal("an account was created")
				}
			}
		})
	}
}

// Providers without a token flow (GitHub) refuse it on `provider`.
func TestTokenFlowNotSupported(t *testing.T) {
	s := googleSettings(nil, nil)
	s["SOCIALACCOUNT_PROVIDERS"] = map[string]any{"github": map[string]any{"APP": map[string]any{"client_id": "gh", "secret": "s"}}}
	env := apitest.New(t, s)
	env.Do("app", "POST", "auth/provider/token", tokenBody("github", "login", map[string]any{"client_id": "gh", "access_token": "x"})).
		Status(400).Error("provider", "token_authentication_not_supported")
}

// SOCIALACCOUNT_AUTO_SIGNUP off: the provider login stops at the signup
// form (flow provider_signup), which GET describes and POST completes.
func TestProviderSignup(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env, srv := googleEnv(t, apitest.Settings{"SOCIALACCOUNT_AUTO_SIGNUP": false})
			srv.SetUser(oidctest.User{Sub: "g-9", Email: "di@example.com", EmailVerified: true, Name: "Di"})
			c := env.Client(client)
			c.Do("GET", "auth/provider/signup", "").Status(409)
			c.Do("POST", "auth/provider/signup", `{"email":"di@example.com"}`).Status(409)
			res := c.Do("POST", "auth/provider/token", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{})})).Status(401)
			if !hasFlow(res, "provider_signup", true) {
				t.Fatalf("no pending provider_signup flow: %s", res.Body)
			}
			if users(t, env) != 0 {
				t.Fatal("signed up before the form")
			}
			res = c.Do("GET", "auth/provider/signup", "").Status(200)
			if res.Path("data.account.uid") != "g-9" || res.Path("data.user.email") != "di@example.com" ||
				fmt.Sprint(res.Path("data.email")) != "[map[email:di@example.com primary:true verified:true]]" {
				t.Fatalf("signup data %s", res.Body)
			}
			c.Do("POST", "auth/provider/signup", `{"email":"not an address"}`).Status(400).Error("email", "invalid")
			res = c.Do("POST", "auth/provider/signup", `{"email":"di@example.com"}`).Status(200)
			if res.Path("data.user.email") != "di@example.com" || users(t, env) != 1 || socialAccounts(t, env) != 1 {
				t.Fatalf("after signup: %s", res.Body)
			}
			c.Do("GET", "auth/provider/signup", "").Status(409)
		})
	}
}

// hasFlow reports whether a 401 lists flow id (pending, if asked).
func hasFlow(res *apitest.Response, id string, pending bool) bool {
	flows, _ := res.Path("data.flows").([]any)
	for _, f := range flows {
		m := f.(map[string]any)
		if m["id"] == id && (!pending || m["is_pending"] == true) {
			return true
		}
	}
	return false
}

// A provider address another account holds does not sign up automatically
// (it could be anyone's): the form asks for another one.
func TestProviderSignupEmailTaken(t *testing.T) {
	env, srv := googleEnv(t, apitest.Settings{"ACCOUNT_PREVENT_ENUMERATION": false})
	env.Client("app").Do("POST", "auth/signup", `{"email":"ed@example.com","password":"a long password 1"}`).Status(200)
	srv.SetUser(oidctest.User{Sub: "g-2", Email: "ed@example.com", EmailVerified: true})
	c := env.Client("app")
	res := c.Do("POST", "auth/provider/token", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{})})).Status(401)
	if !hasFlow(res, "provider_signup", true) {
		t.Fatalf("taken address signed up automatically: %s", res.Body)
	}
	c.Do("POST", "auth/provider/signup", `{"email":"ed@example.com"}`).Status(400).Error("email", "email_taken")
	res = c.Do("POST", "auth/provider/signup", `{"email":"ed2@example.com"}`).Status(200)
	if res.Path("data.user.email") != "ed2@example.com" {
		t.Fatalf("user %v", res.Path("data.user"))
	}
	// The address the user typed was not vouched for by the provider.
	res = c.Do("GET", "account/email", "").Status(200)
	for _, e := range res.Path("data").([]any) {
		if m := e.(map[string]any); m["email"] == "ed2@example.com" && m["verified"] != false {
			t.Fatalf("typed address verified: %v", m)
		}
	}
}

// SOCIALACCOUNT_EMAIL_AUTHENTICATION: a provider login with a verified
// address logs into the local account holding it; with _AUTO_CONNECT the
// provider account is connected to it.
func TestEmailAuthentication(t *testing.T) {
	env, srv := googleEnv(t, apitest.Settings{"SOCIALACCOUNT_EMAIL_AUTHENTICATION": true, "SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT": true,
		"ACCOUNT_EMAIL_VERIFICATION": "none"})
	c := env.Client("app")
	local := c.Do("POST", "auth/signup", `{"email":"fa@example.com","password":"a long password 1"}`).Status(200)
	c.Do("DELETE", "auth/session", "").Status(401)
	c = env.Client("app")
	srv.SetUser(oidctest.User{Sub: "g-3", Email: "fa@example.com", EmailVerified: true})
	res := c.Do("POST", "auth/provider/token", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{})})).Status(200)
	if res.Path("data.user.id") != local.Path("data.user.id") {
		t.Fatalf("logged into %v, want the local account %v", res.Path("data.user.id"), local.Path("data.user.id"))
	}
	// The local address was never verified: whoever set the password may
	// not own it, so the password is gone.
	if res.Path("data.user.has_usable_password") != false {
		t.Fatal("password kept on an unverified address")
	}
	if socialAccounts(t, env) != 1 || users(t, env) != 1 {
		t.Fatal("provider account not connected to the local one")
	}
}

// Connecting a provider account to a logged-in user, listing and
// disconnecting it, with allauth's refusals.
func TestConnectAndDisconnect(t *testing.T) {
	env, srv := googleEnv(t, apitest.Settings{"ACCOUNT_EMAIL_VERIFICATION": "none", "ACCOUNT_EMAIL_NOTIFICATIONS": true})
	c := env.Client("app")
	c.Do("POST", "auth/signup", `{"email":"gu@example.com","password":"a long password 1"}`).Status(200)
	srv.SetUser(oidctest.User{Sub: "g-4", Email: "gu.other@example.com", EmailVerified: true})
	token := map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{})}
	c.Do("POST", "auth/provider/token", tokenBody("google", "connect", token)).Status(200)
	res := c.Do("GET", "account/providers", "").Status(200)
	if list := res.Path("data").([]any); len(list) != 1 || list[0].(map[string]any)["uid"] != "g-4" {
		t.Fatalf("providers %s", res.Body)
	}
	waitNotice(t, env, "gu@example.com", "Third-Party Account Connected", "Google")
	// Someone else cannot connect the same provider account.
	other := env.Client("app")
	other.Do("POST", "auth/signup", `{"email":"ha@example.com","password":"a long password 1"}`).Status(200)
	other.Do("POST", "auth/provider/token", tokenBody("google", "connect", token)).Status(400).Error("", "connected_other")
	other.Do("DELETE", "account/providers", `{"provider":"google","account":"g-4"}`).Status(400).Error("", "account_not_found")
	// Anonymous callers get nothing.
	env.Client("app").Do("GET", "account/providers", "").Status(401)
	env.Client("app").Do("POST", "auth/provider/token", tokenBody("google", "connect", token)).Status(403)

	c.Do("DELETE", "account/providers", `{"provider":"google"}`).Status(400).Error("account", "required")
	c.Do("DELETE", "account/providers", `{"provider":"google","account":"nope"}`).Status(400).Error("", "account_not_found")
	res = c.Do("DELETE", "account/providers", `{"provider":"google","account":"g-4"}`).Status(200)
	if len(res.Path("data").([]any)) != 0 || socialAccounts(t, env) != 0 {
		t.Fatalf("not disconnected: %s", res.Body)
	}
	waitNotice(t, env, "gu@example.com", "Third-Party Account Disconnected", "Google")
	for _, action := range []string{"user.social.connect", "user.social.disconnect"} {
		var n int
		if err := env.Accounts.Store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = $2
			AND target = 'provider google' AND details->>'uid' = 'g-4'`, env.Tenant.ID, action).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Errorf("%d %s events, want 1", n, action)
		}
	}
}

// waitNotice waits for a security notice to an address whose subject and
// text part say what happened.
func waitNotice(t *testing.T, env *apitest.Env, to, subject, text string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range env.Mails() {
			if len(m.To) == 1 && m.To[0] == to && strings.Contains(m.Subject, subject) && strings.Contains(m.Text, text) {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, m := range env.Mails() {
		t.Logf("mail to %v: %q", m.To, m.Subject)
	}
	t.Fatalf("no %q notice to %s", subject, to)
}

// The last provider account of a user without a password cannot be
// disconnected (no_password), nor any last one under SOCIALACCOUNT_ONLY
// (disconnect_last).
func TestDisconnectLast(t *testing.T) {
	cases := []struct {
		name     string
		settings apitest.Settings
		code     string
	}{
		{"no password", nil, "no_password"},
		{"social only", apitest.Settings{"SOCIALACCOUNT_ONLY": true, "ACCOUNT_EMAIL_VERIFICATION": "none", "HALLPASS_APPS": []string{"socialaccount"}}, "disconnect_last"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, srv := googleEnv(t, tc.settings)
			srv.SetUser(oidctest.User{Sub: "g-5", Email: "io@example.com", EmailVerified: true})
			c := env.Client("app")
			c.Do("POST", "auth/provider/token", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{})})).Status(200)
			c.Do("DELETE", "account/providers", `{"provider":"google","account":"g-5"}`).Status(400).Error("", tc.code)
			if socialAccounts(t, env) != 1 {
				t.Fatal("disconnected anyway")
			}
		})
	}
}

// SOCIALACCOUNT_EMAIL_VERIFICATION mandatory: an address the provider did
// not verify must be verified here before the login completes.
func TestSocialEmailVerificationMandatory(t *testing.T) {
	env, srv := googleEnv(t, apitest.Settings{"SOCIALACCOUNT_EMAIL_VERIFICATION": "mandatory"})
	srv.SetUser(oidctest.User{Sub: "g-6", Email: "jo@example.com", EmailVerified: false})
	c := env.Client("app")
	res := c.Do("POST", "auth/provider/token", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{})})).Status(401)
	if !hasFlow(res, "verify_email", true) {
		t.Fatalf("no verify_email stage: %s", res.Body)
	}
	env.WaitMailTo(t, "jo@example.com", 1)
}

// A provider that does not answer in time (its signing keys cannot be
// fetched) is a clear invalid_token, not a hang or a 5xx.
func TestTokenFlowProviderTimeout(t *testing.T) {
	env, srv := googleEnv(t, apitest.Settings{"SOCIALACCOUNT_REQUESTS_TIMEOUT": 1})
	srv.SetUser(oidctest.User{Sub: "g-8", Email: "lu@example.com", EmailVerified: true})
	idToken := srv.IDToken(t, oidctest.TokenOptions{})
	srv.SetDelay(3 * time.Second)
	res := env.Do("app", "POST", "auth/provider/token", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": idToken}))
	res.Status(400).Error("token", "invalid_token")
	if users(t, env) != 0 {
		t.Fatal("an account was created")
	}
}

// With mandatory verification, the last provider account of a user with a
// password but no verified address cannot go: the password could not be
// reset (no_verified_email).
func TestDisconnectNoVerifiedEmail(t *testing.T) {
	env, srv := googleEnv(t, apitest.Settings{"ACCOUNT_EMAIL_VERIFICATION": "mandatory", "SOCIALACCOUNT_EMAIL_VERIFICATION": "none"})
	srv.SetUser(oidctest.User{Sub: "g-10", Email: "mo@example.com", EmailVerified: false})
	c := env.Client("app")
	c.Do("POST", "auth/provider/token", tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{})})).Status(200)
	c.Do("POST", "account/password/change", `{"new_password":"a long password 1"}`).Status(200)
	c.Do("DELETE", "account/providers", `{"provider":"google","account":"g-10"}`).Status(400).Error("", "no_verified_email")
	if socialAccounts(t, env) != 1 {
		t.Fatal("disconnected anyway")
	}
}

// Several OpenID Connect apps in one tenant, each with its own provider_id
// and server: a flow goes to its own server and the account is recorded
// under its own id.
func TestSeveralOpenIDConnectApps(t *testing.T) {
	one, two := oidctest.Start(t), oidctest.Start(t)
	one.SetUser(oidctest.User{Sub: "u-1", Email: "no@one.example", EmailVerified: true})
	two.SetUser(oidctest.User{Sub: "u-2", Email: "no@two.example", EmailVerified: true})
	app := func(id string, srv *oidctest.Server) map[string]any {
		return map[string]any{"provider_id": id, "name": strings.ToUpper(id), "client_id": srv.ClientID, "secret": srv.ClientSecret,
			"settings": map[string]any{"server_url": srv.URL}}
	}
	s := googleSettings(nil, nil)
	s["SOCIALACCOUNT_PROVIDERS"] = map[string]any{"openid_connect": map[string]any{"APPS": []any{app("corp-one", one), app("corp-two", two)}}}
	env := apitest.New(t, s)
	cfg := env.Do("browser", "GET", "config", "").Status(200)
	if ids := fmt.Sprint(cfg.Path("data.socialaccount.providers")); !strings.Contains(ids, "corp-one") || !strings.Contains(ids, "corp-two") {
		t.Fatalf("config providers %s", ids)
	}
	b := newBrowser(t, env)
	if q := landed(t, b.redirect("corp-two", "login", callbackURL)); q.Get("error") != "" {
		t.Fatalf("flow failed: %v", q)
	}
	if one.Hits("/authorize") != 0 || two.Hits("/authorize") != 1 {
		t.Fatalf("authorize hits: one %d, two %d", one.Hits("/authorize"), two.Hits("/authorize"))
	}
	_, body := b.api("GET", "account/providers", "")
	acc := body["data"].([]any)[0].(map[string]any)
	if acc["uid"] != "u-2" || acc["provider"].(map[string]any)["id"] != "corp-two" {
		t.Fatalf("account %v", acc)
	}
}
