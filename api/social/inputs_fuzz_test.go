package social_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/social/oidctest"
)

// The provider endpoints' fuzz tests drive the real server in process (the
// parsers are unexported), against the test Postgres and Redis:
//
//	set -a && . .data/test.env && set +a
//	go test -run '^$' -fuzz '^FuzzProviderRedirect$' -fuzztime 60s ./api/social/

// fuzzEnv is a tenant with a Google app served by a stand-in provider, and
// a browser CSRF token.
func fuzzEnv(f *testing.F) (*apitest.Env, *oidctest.Server, string) {
	srv := oidctest.Start(f)
	srv.SetUser(oidctest.User{Sub: "fz-1", Email: "fz@example.com", EmailVerified: true})
	env := apitest.New(f, googleSettings(srv, apitest.Settings{"ACCOUNT_RATE_LIMITS": false}))
	env.Social.Endpoints["google"] = social.Endpoints{Authorize: srv.AuthorizeURL(), Token: srv.TokenURL(), Userinfo: srv.UserinfoURL(),
		TokenInfo: srv.TokenInfoURL(), JWKS: srv.JWKSURL(), Issuer: srv.Issuer()}
	b := env.Client("browser")
	b.Do("GET", "config", "").Status(200)
	return env, srv, b.Cookie("csrftoken")
}

// The redirect form never fails with a 5xx and never sends the browser
// anywhere but the provider, the tenant's frontend, or its own error page:
// whatever callback_url, provider and process say (no open redirect).
func FuzzProviderRedirect(f *testing.F) {
	env, srv, csrf := fuzzEnv(f)
	provider, _ := url.Parse(srv.URL)
	for _, seed := range [][3]string{
		{"google", callbackURL, "login"}, {"google", "https://evil.example/", "login"}, {"google", "//evil.example", "connect"},
		{"google", "/relative/path", "login"}, {"google", "javascript:alert(1)", "login"}, {"google", frontend + "@evil.example", "login"},
		{"google", "http://" + frontendHost + ".evil.example/", "login"}, {"google", "https:\\\\evil.example", "login"},
		{"nope", callbackURL, "login"}, {"", "", ""}, {"google", callbackURL, "signup"}, {"google", "http://app.example.test:80/x", "login"},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, providerID, callback, process string) {
		form := url.Values{"provider": {providerID}, "callback_url": {callback}, "process": {process}, "csrfmiddlewaretoken": {csrf}}
		e := *env
		e.T = t
		res := e.Do("browser", "POST", "auth/provider/redirect", form.Encode(),
			"Content-Type", "application/x-www-form-urlencoded", "Cookie", "csrftoken="+csrf)
		if res.Code >= 500 {
			t.Fatalf("→ %d for %q %q %q: %s", res.Code, providerID, callback, process, res.Body)
		}
		if res.Code != 302 {
			return
		}
		loc, err := url.Parse(res.Header.Get("Location"))
		if err != nil {
			t.Fatalf("unparsable Location %q", res.Header.Get("Location"))
		}
		switch {
		case loc.Host == provider.Host:
			if loc.Query().Get("redirect_uri") == "" || !strings.Contains(loc.Query().Get("redirect_uri"), "/accounts/google/login/callback/") {
				t.Fatalf("provider redirect without our callback: %s", loc)
			}
		case loc.Host == frontendHost && loc.Scheme == "http" && loc.User == nil:
		case loc.Host == "" && strings.HasPrefix(loc.Path, "/") && !strings.HasPrefix(loc.Path, "//"):
		default:
			t.Fatalf("sent to %q for callback_url %q", loc, callback)
		}
	})
}

// Token, signup and disconnect bodies: allauth's envelope for anything,
// never a 5xx, and no account out of a body that is not a valid login.
func FuzzProviderInputs(f *testing.F) {
	env, srv, _ := fuzzEnv(f)
	good := srv.IDToken(f, oidctest.TokenOptions{})
	for _, b := range []string{
		"", "{}", "[]", "null", `{"provider":"google","process":"login","token":{}}`,
		`{"provider":"google","process":"login","token":{"client_id":"` + srv.ClientID + `","id_token":"a.b.c"}}`,
		`{"provider":"google","process":"login","token":{"client_id":"` + srv.ClientID + `","id_token":"` + good[:len(good)-4] + `xxxx"}}`,
		`{"provider":"google","process":"connect","token":{"client_id":1,"id_token":[]}}`,
		`{"provider":["google"],"process":{"x":1},"token":"tok"}`, `{"email":"a@b.c","username":"\u0000"}`,
		`{"provider":"google","account":"` + strings.Repeat("x", 5000) + `"}`, `{"token":{"client_id":"x","nonce":5}}`,
	} {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) {
		e := *env
		e.T = t
		for _, ep := range []struct{ method, path string }{
			{"POST", "auth/provider/token"}, {"POST", "auth/provider/signup"}, {"DELETE", "account/providers"},
		} {
			res := e.Do("app", ep.method, ep.path, body)
			if res.Code >= 500 || res.JSON == nil {
				t.Fatalf("%s %s → %d for %q: %s", ep.method, ep.path, res.Code, body, res.Body)
			}
			if st, ok := res.JSON["status"].(float64); !ok || int(st) != res.Code {
				t.Fatalf("%s %s: envelope status %v, HTTP %d", ep.method, ep.path, res.JSON["status"], res.Code)
			}
			if res.Code == 400 {
				if errs, _ := res.JSON["errors"].([]any); len(errs) == 0 {
					t.Fatalf("%s %s → 400 without errors: %s", ep.method, ep.path, res.Body)
				}
			}
		}
	})
}
