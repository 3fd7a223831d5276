package social_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/social/oidctest"
)

// The browser redirect flow end to end with Google: sign up, log out, log
// in again as the same user; PKCE, nonce and state on the way.
func TestRedirectFlowGoogle(t *testing.T) {
	env, srv := googleEnv(t, nil)
	srv.SetUser(oidctest.User{Sub: "g-100", Email: "ana@example.com", EmailVerified: true, Name: "Ana Lima"})
	b := newBrowser(t, env)

	q := landed(t, b.redirect("google", "login", callbackURL))
	if q.Get("error") != "" {
		t.Fatalf("flow failed: %v", q)
	}
	auth := srv.LastAuthorize()
	if auth.Get("state") == "" || auth.Get("nonce") == "" || auth.Get("code_challenge") == "" || auth.Get("code_challenge_method") != "S256" {
		t.Fatalf("authorize request lacks state, nonce or PKCE: %v", auth)
	}
	if want := strings.TrimSuffix(b.base, "/") + "/accounts/google/login/callback/"; auth.Get("redirect_uri") != want {
		t.Fatalf("redirect_uri %q, want %q", auth.Get("redirect_uri"), want)
	}
	status, body := b.api("GET", "auth/session", "")
	if status != 200 {
		t.Fatalf("session after the flow: %d %v", status, body)
	}
	user := body["data"].(map[string]any)["user"].(map[string]any)
	if user["email"] != "ana@example.com" || user["has_usable_password"] != false {
		t.Fatalf("user %v", user)
	}
	methods := body["data"].(map[string]any)["methods"].([]any)
	last := methods[len(methods)-1].(map[string]any)
	if last["method"] != "socialaccount" || last["provider"] != "google" || last["uid"] != "g-100" {
		t.Fatalf("methods %v", methods)
	}
	// The provider's verified address is verified here too.
	status, body = b.api("GET", "account/email", "")
	if status != 200 || fmt.Sprint(body["data"]) != "[map[email:ana@example.com primary:true verified:true]]" {
		t.Fatalf("emails %d %v", status, body["data"])
	}
	status, body = b.api("GET", "account/providers", "")
	accounts, _ := body["data"].([]any)
	if status != 200 || len(accounts) != 1 {
		t.Fatalf("providers %d %v", status, body)
	}
	acc := accounts[0].(map[string]any)
	if acc["uid"] != "g-100" || acc["display"] != "ana@example.com" || acc["provider"].(map[string]any)["id"] != "google" {
		t.Fatalf("account %v", acc)
	}

	// Log out, log in again: the same user, no second account.
	if status, _ := b.api("DELETE", "auth/session", ""); status != 401 {
		t.Fatalf("logout %d", status)
	}
	q = landed(t, b.redirect("google", "login", callbackURL))
	if q.Get("error") != "" {
		t.Fatalf("second login failed: %v", q)
	}
	status, body = b.api("GET", "auth/session", "")
	if status != 200 || body["data"].(map[string]any)["user"].(map[string]any)["id"] != user["id"] {
		t.Fatalf("second login: %d %v", status, body)
	}
	if n := users(t, env); n != 1 {
		t.Fatalf("%d users, want 1", n)
	}
}

// A generic OpenID Connect app, found by discovery from its server_url,
// with its callback under /accounts/oidc/{provider_id}/.
func TestRedirectFlowOpenIDConnect(t *testing.T) {
	srv := oidctest.Start(t)
	srv.SetUser(oidctest.User{Sub: "emp-7", Email: "bo@corp.example", EmailVerified: true, PreferredUsername: "bo"})
	s := googleSettings(srv, nil)
	s["SOCIALACCOUNT_PROVIDERS"] = map[string]any{"openid_connect": map[string]any{"APPS": []any{map[string]any{
		"provider_id": "corp-sso", "name": "Corp SSO", "client_id": srv.ClientID, "secret": srv.ClientSecret,
		"settings": map[string]any{"server_url": srv.URL},
	}}}}
	env := apitest.New(t, s)
	b := newBrowser(t, env)
	if q := landed(t, b.redirect("corp-sso", "login", callbackURL)); q.Get("error") != "" {
		t.Fatalf("flow failed: %v", q)
	}
	if got, want := srv.LastAuthorize().Get("redirect_uri"), strings.TrimSuffix(b.base, "/")+"/accounts/oidc/corp-sso/login/callback/"; got != want {
		t.Fatalf("redirect_uri %q, want %q", got, want)
	}
	status, body := b.api("GET", "auth/session", "")
	if status != 200 {
		t.Fatalf("session %d %v", status, body)
	}
	_, body = b.api("GET", "account/providers", "")
	acc := body["data"].([]any)[0].(map[string]any)
	if acc["display"] != "bo@corp.example" || acc["provider"].(map[string]any)["name"] != "Corp SSO" {
		t.Fatalf("account %v", acc)
	}
}

// A GitHub-style OAuth2 server: no ID token, the user and addresses from
// its API.
func TestRedirectFlowGitHub(t *testing.T) {
	gh := oidctest.StartGitHub(t)
	gh.SetUser(oidctest.GitHubUser{ID: 4242, Login: "octo", Name: "Octo Cat",
		Emails: []oidctest.GitHubEmail{{Email: "octo@example.com", Primary: true, Verified: true}}})
	s := googleSettings(nil, nil)
	s["SOCIALACCOUNT_PROVIDERS"] = map[string]any{"github": map[string]any{"APP": map[string]any{"client_id": gh.ClientID, "secret": gh.ClientSecret}}}
	s["ACCOUNT_SIGNUP_FIELDS"] = []string{"email*", "username*", "password1*"}
	s["ACCOUNT_LOGIN_METHODS"] = []string{"email", "username"}
	env := apitest.New(t, s)
	env.Social.Endpoints["github"] = social.Endpoints{Authorize: gh.AuthorizeURL(), Token: gh.TokenURL(), API: gh.APIURL()}
	b := newBrowser(t, env)
	if q := landed(t, b.redirect("github", "login", callbackURL)); q.Get("error") != "" {
		t.Fatalf("flow failed: %v", q)
	}
	status, body := b.api("GET", "auth/session", "")
	if status != 200 {
		t.Fatalf("session %d %v", status, body)
	}
	user := body["data"].(map[string]any)["user"].(map[string]any)
	if user["username"] != "octo" || user["email"] != "octo@example.com" {
		t.Fatalf("user %v", user)
	}
	_, body = b.api("GET", "account/providers", "")
	if acc := body["data"].([]any)[0].(map[string]any); acc["uid"] != "4242" || acc["display"] != "octo" {
		t.Fatalf("account %v", acc)
	}
}

// What goes wrong in a redirect flow ends with allauth's error parameters
// on the frontend callback (or on the login error page when the callback is
// not trusted), and creates no account.
func TestRedirectFlowErrors(t *testing.T) {
	loginError := frontend + "/account/provider/error"
	cases := []struct {
		name     string
		settings apitest.Settings
		setup    func(srv *oidctest.Server)
		provider string
		callback string
		csrf     string
		// wantError is the error on the frontend; wantAt the page it lands on.
		wantError string
		wantAt    string
		wantCode  int
	}{
		{name: "user declines at the provider", setup: func(srv *oidctest.Server) { srv.FailAuthorize("access_denied", "no") },
			wantError: "cancelled", wantAt: callbackURL},
		{name: "provider error at authorize", setup: func(srv *oidctest.Server) { srv.FailAuthorize("server_error", "") },
			wantError: "unknown", wantAt: callbackURL},
		{name: "token endpoint fails", setup: func(srv *oidctest.Server) { srv.FailToken(400, "invalid_grant") },
			wantError: "unknown", wantAt: callbackURL},
		{name: "provider times out", setup: func(srv *oidctest.Server) { srv.SetDelay(3 * time.Second) },
			settings: apitest.Settings{"SOCIALACCOUNT_REQUESTS_TIMEOUT": 1}, wantError: "unknown", wantAt: callbackURL},
		{name: "wrong nonce in the ID token", setup: func(srv *oidctest.Server) { n := "forged"; srv.SetTokenOptions(oidctest.TokenOptions{Nonce: &n}) },
			wantError: "unknown", wantAt: callbackURL},
		{name: "ID token for another audience", setup: func(srv *oidctest.Server) {
			srv.SetTokenOptions(oidctest.TokenOptions{Audience: []string{"other-app"}})
		}, wantError: "unknown", wantAt: callbackURL},
		{name: "expired ID token", setup: func(srv *oidctest.Server) { srv.SetTokenOptions(oidctest.TokenOptions{Expired: true}) },
			wantError: "unknown", wantAt: callbackURL},
		{name: "signup closed", settings: apitest.Settings{"HALLPASS_SIGNUP_OPEN": false}, wantError: "signup_closed", wantAt: callbackURL},
		{name: "callback on another origin (open redirect)", callback: "https://evil.example/steal",
			settings:  apitest.Settings{"HEADLESS_FRONTEND_URLS": map[string]any{"socialaccount_login_error": loginError}},
			wantError: "invalid_url", wantAt: loginError},
		{name: "callback on another origin, no error page configured", callback: "https://evil.example/steal", wantCode: 400},
		{name: "scheme-relative callback", callback: "//evil.example/x", wantCode: 400},
		{name: "unknown provider", provider: "facebook",
			settings:  apitest.Settings{"HEADLESS_FRONTEND_URLS": map[string]any{"socialaccount_login_error": loginError}},
			wantError: "unknown_provider", wantAt: loginError},
		{name: "form without the CSRF token", csrf: "x", wantCode: 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env, srv := googleEnv(t, tc.settings)
			srv.SetUser(oidctest.User{Sub: "g-1", Email: "ana@example.com", EmailVerified: true})
			if tc.setup != nil {
				tc.setup(srv)
			}
			b := newBrowser(t, env)
			provider, callback := "google", callbackURL
			if tc.provider != "" {
				provider = tc.provider
			}
			if tc.callback != "" {
				callback = tc.callback
			}
			var csrf []string
			if tc.csrf != "" {
				csrf = []string{tc.csrf}
			}
			res := b.redirect(provider, "login", callback, csrf...)
			if tc.wantCode != 0 {
				if res.StatusCode != tc.wantCode {
					t.Fatalf("status %d, want %d (Location %q)", res.StatusCode, tc.wantCode, res.Header.Get("Location"))
				}
				if strings.Contains(res.Header.Get("Location"), "evil.example") {
					t.Fatal("sent to the foreign callback")
				}
			} else {
				loc, err := res.Location()
				if err != nil {
					t.Fatalf("no redirect: %d", res.StatusCode)
				}
				at := loc.Scheme + "://" + loc.Host + loc.Path
				if at != tc.wantAt || loc.Query().Get("error") != tc.wantError || loc.Query().Get("error_process") != "login" {
					t.Fatalf("landed on %s, want %s?error=%s&error_process=login", loc, tc.wantAt, tc.wantError)
				}
			}
			if status, _ := b.api("GET", "auth/session", ""); status != 401 {
				t.Fatalf("logged in after a failed flow: %d", status)
			}
			if users(t, env) != 0 || socialAccounts(t, env) != 0 {
				t.Fatal("an account was created by a failed flow")
			}
		})
	}
}

// The state binds a flow to the browser that started it: it is used once,
// cannot be tampered with, and cannot be completed by another browser
// (login CSRF).
func TestRedirectFlowState(t *testing.T) {
	loginError := frontend + "/account/provider/error"
	env, srv := googleEnv(t, apitest.Settings{"HEADLESS_FRONTEND_URLS": map[string]any{
		"socialaccount_login_error": loginError, "account_confirm_email": frontend + "/v/{key}"}})
	srv.SetUser(oidctest.User{Sub: "g-1", Email: "ana@example.com", EmailVerified: true})
	base := env.Listen()

	// The victim's browser starts a flow and stops at the provider's redirect
	// back (its callback URL is what an attacker would want to use).
	victim := newBrowserAt(t, base)
	victim.api("GET", "config", "")
	form := url.Values{"provider": {"google"}, "process": {"login"}, "callback_url": {callbackURL}, "csrfmiddlewaretoken": {victim.cookie("csrftoken")}}
	res, err := noRedirectClient(victim.client.Jar).PostForm(base+"_allauth/browser/v1/auth/provider/redirect", form)
	if err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("redirect: %v %v", res, err)
	}
	res.Body.Close()
	authorize := res.Header.Get("Location")
	res, err = noRedirectClient(nil).Get(authorize)
	if err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("authorize: %v %v", res, err)
	}
	res.Body.Close()
	callback := res.Header.Get("Location")

	landsOnError := func(b *browser, u string) {
		t.Helper()
		res := b.get(u)
		loc, err := res.Location()
		if err != nil || loc.Scheme+"://"+loc.Host+loc.Path != loginError || loc.Query().Get("error") != "unknown" {
			t.Fatalf("landed on %v, want the login error page", res.Header.Get("Location"))
		}
	}
	// Another browser (the attacker's) cannot complete it.
	attacker := newBrowserAt(t, base)
	landsOnError(attacker, callback)
	// A tampered state is unknown.
	cu, _ := url.Parse(callback)
	q := cu.Query()
	q.Set("state", strings.Repeat("A", 43))
	cu.RawQuery = q.Encode()
	landsOnError(victim, cu.String())
	// The attacker's attempt consumed the state: single use, even for the
	// browser that started it.
	landsOnError(victim, callback)
	if status, _ := attacker.api("GET", "auth/session", ""); status != 401 {
		t.Fatal("the attacker is logged in")
	}
	if status, _ := victim.api("GET", "auth/session", ""); status != 401 {
		t.Fatal("a consumed state logged in")
	}

	// A fresh flow works, and its callback replayed afterwards is refused.
	ok := newBrowserAt(t, base)
	ok.api("GET", "config", "")
	form.Set("csrfmiddlewaretoken", ok.cookie("csrftoken"))
	res, _ = noRedirectClient(ok.client.Jar).PostForm(base+"_allauth/browser/v1/auth/provider/redirect", form)
	res.Body.Close()
	res, _ = noRedirectClient(nil).Get(res.Header.Get("Location"))
	res.Body.Close()
	callback = res.Header.Get("Location")
	if q := landed(t, ok.get(callback)); q.Get("error") != "" {
		t.Fatalf("flow failed: %v", q)
	}
	if status, _ := ok.api("GET", "auth/session", ""); status != 200 {
		t.Fatal("not logged in")
	}
	landsOnError(ok, callback)
}

// Apple posts its answer cross-site (response_mode=form_post); the callback
// turns it into a top-level GET so that the browser's SameSite=Lax session
// cookie comes along.
func TestAppleFormPostCallback(t *testing.T) {
	env, _ := googleEnv(t, nil)
	base := env.Listen()
	form := url.Values{"code": {"c-1"}, "state": {"s-1"}, "user": {`{"name":{"firstName":"Tim"}}`}}
	res, err := noRedirectClient(nil).PostForm(base+"accounts/apple/login/callback/", form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d, want 303", res.StatusCode)
	}
	loc, _ := url.Parse(res.Header.Get("Location"))
	u, _ := url.Parse(base)
	if loc.Path != u.Path+"accounts/apple/login/callback/" || loc.Query().Get("code") != "c-1" || loc.Query().Get("user") == "" {
		t.Fatalf("Location %s", loc)
	}
}

// Without the socialaccount app there are no provider routes or callbacks.
func TestSocialAppOff(t *testing.T) {
	env := apitest.New(t, apitest.Settings{"HALLPASS_APPS": []string{"mfa"}})
	res := env.Raw("GET", "/t/"+env.Tenant.Slug+"/accounts/google/login/callback/?state=x&code=y", "")
	if res.Code != 404 {
		t.Fatalf("callback %d, want 404", res.Code)
	}
	env.Do("app", "POST", "auth/provider/token", `{"provider":"google","process":"login","token":{"client_id":"x","id_token":"y"}}`).Status(404)
}

// A tenant cannot point an app at the platform's own network (SSRF): with
// private networks not allowed, a provider on loopback is never contacted
// and the flow fails cleanly, in both flows.
func TestPrivateNetworksRefused(t *testing.T) {
	srv := oidctest.Start(t)
	srv.SetUser(oidctest.User{Sub: "x-1", Email: "x@corp.example", EmailVerified: true})
	s := googleSettings(nil, nil)
	s["SOCIALACCOUNT_PROVIDERS"] = map[string]any{"openid_connect": map[string]any{"APPS": []any{map[string]any{
		"provider_id": "inside", "client_id": srv.ClientID, "secret": srv.ClientSecret, "settings": map[string]any{"server_url": srv.URL},
	}}}}
	env := apitest.New(t, s)
	env.Social.AllowPrivateNetworks = false
	b := newBrowser(t, env)
	if q := landed(t, b.redirect("inside", "login", callbackURL)); q.Get("error") != "unknown" {
		t.Fatalf("flow against a loopback provider: %v", q)
	}
	body := tokenBody("inside", "login", map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{})})
	env.Do("app", "POST", "auth/provider/token", body).Status(400).Error("token", "invalid_token")
	if n := srv.Hits("/.well-known/openid-configuration") + srv.Hits("/jwks") + srv.Hits("/authorize"); n != 0 {
		t.Fatalf("the loopback provider was contacted %d times", n)
	}
	if users(t, env) != 0 {
		t.Fatal("an account was created")
	}
}

// The connect process through the redirect flow: a logged-in browser gains
// the provider account; an anonymous one is refused (permission_denied)
// and nothing is connected.
func TestRedirectFlowConnect(t *testing.T) {
	env, srv := googleEnv(t, apitest.Settings{"ACCOUNT_EMAIL_VERIFICATION": "none"})
	srv.SetUser(oidctest.User{Sub: "g-77", Email: "other@example.com", EmailVerified: true})

	anon := newBrowser(t, env)
	if q := landed(t, anon.redirect("google", "connect", callbackURL)); q.Get("error") != "permission_denied" || q.Get("error_process") != "connect" {
		t.Fatalf("anonymous connect: %v", q)
	}
	if socialAccounts(t, env) != 0 {
		t.Fatal("connected without a user")
	}

	b := newBrowserAt(t, anon.base)
	if status, body := b.api("POST", "auth/signup", `{"email":"owner@example.com","password":"a long password 1"}`); status != 200 {
		t.Fatalf("signup %d %v", status, body)
	}
	if q := landed(t, b.redirect("google", "connect", callbackURL)); q.Get("error") != "" {
		t.Fatalf("connect: %v", q)
	}
	status, body := b.api("GET", "auth/session", "")
	if status != 200 || body["data"].(map[string]any)["user"].(map[string]any)["email"] != "owner@example.com" {
		t.Fatalf("the connect changed who is logged in: %d %v", status, body)
	}
	_, body = b.api("GET", "account/providers", "")
	if list := body["data"].([]any); len(list) != 1 || list[0].(map[string]any)["uid"] != "g-77" {
		t.Fatalf("providers after connect: %v", body["data"])
	}
}
