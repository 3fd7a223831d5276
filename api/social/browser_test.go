package social_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/social/oidctest"
)

// frontend is the tenant's single-page app; the browser stops when sent
// there.
const (
	frontendHost = "app.example.test"
	frontend     = "http://" + frontendHost
	callbackURL  = frontend + "/account/provider/callback"
)

// browser is a web browser with a cookie jar, as a user's: it talks to a
// tenant served on loopback and follows redirects to providers and back,
// until it is sent to the frontend.
type browser struct {
	t      *testing.T
	base   string // the tenant's base URL, ending in "/"
	client *http.Client
}

func newBrowser(t *testing.T, env *apitest.Env) *browser {
	return newBrowserAt(t, env.Listen())
}

func newBrowserAt(t *testing.T, base string) *browser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{Jar: jar, Transport: apitest.Transport(), CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == frontendHost || len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	return &browser{t: t, base: base, client: c}
}

// cookie returns the jar's cookie of that name for the tenant.
func (b *browser) cookie(name string) string {
	u, _ := url.Parse(b.base)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// api calls the browser client of the headless API as an allauth SPA does
// (X-CSRFToken from the cookie) and checks the answer against the spec.
func (b *browser) api(method, path, body string) (int, map[string]any) {
	b.t.Helper()
	if b.cookie("csrftoken") == "" && method != http.MethodGet {
		b.api(http.MethodGet, "config", "")
	}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, b.base+"_allauth/browser/v1/"+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("X-CSRFToken", b.cookie("csrftoken"))
	res, err := b.client.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if err := apitest.Validate(method, req.URL.Path[strings.Index(req.URL.Path, "/_allauth/"):], res.StatusCode, res.Header, raw); err != nil &&
		!errors.Is(err, apitest.ErrNotInSpec) {
		b.t.Errorf("%s %s → %d does not match the spec: %v\n%s", method, path, res.StatusCode, err, raw)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return res.StatusCode, out
}

// redirect posts the provider redirect form as a frontend's <form> does
// and follows the redirects (to the provider, its consent, our callback)
// until the browser is sent to the frontend or stops elsewhere; it returns
// that last response.
func (b *browser) redirect(provider, process, callback string, csrf ...string) *http.Response {
	b.t.Helper()
	if b.cookie("csrftoken") == "" {
		b.api(http.MethodGet, "config", "")
	}
	token := b.cookie("csrftoken")
	if len(csrf) > 0 {
		token = csrf[0]
	}
	form := url.Values{"provider": {provider}, "process": {process}, "callback_url": {callback}, "csrfmiddlewaretoken": {token}}
	res, err := b.client.PostForm(b.base+"_allauth/browser/v1/auth/provider/redirect", form)
	if err != nil {
		b.t.Fatalf("redirect: %v", err)
	}
	res.Body.Close()
	return res
}

// get loads a URL in the browser (following redirects as above).
func (b *browser) get(u string) *http.Response {
	b.t.Helper()
	res, err := b.client.Get(u)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	res.Body.Close()
	return res
}

// landed asserts the browser was sent to the frontend callback and returns
// the query it carries.
func landed(t *testing.T, res *http.Response) url.Values {
	t.Helper()
	loc, err := res.Location()
	if err != nil || loc.Host != frontendHost {
		t.Fatalf("not sent to the frontend: %d %v %v", res.StatusCode, res.Header.Get("Location"), err)
	}
	return loc.Query()
}

// noRedirectClient sends one request without following redirects.
func noRedirectClient(jar http.CookieJar) *http.Client {
	return &http.Client{Jar: jar, Transport: apitest.Transport(), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// googleSettings configures a Google app whose endpoints tests move to srv.
func googleSettings(srv *oidctest.Server, extra apitest.Settings) apitest.Settings {
	s := apitest.Settings{
		"HEADLESS_FRONTEND_URLS": map[string]any{
			"account_confirm_email":           frontend + "/account/verify-email/{key}",
			"account_reset_password_from_key": frontend + "/account/password/reset/key/{key}",
			"account_signup":                  frontend + "/account/signup",
		},
		"SOCIALACCOUNT_REQUESTS_TIMEOUT": 2,
		"ACCOUNT_SIGNUP_FIELDS":          []string{"email*", "password1*"},
		"ACCOUNT_LOGIN_METHODS":          []string{"email"},
	}
	if srv != nil {
		s["SOCIALACCOUNT_PROVIDERS"] = map[string]any{
			"google": map[string]any{"APPS": []any{map[string]any{"client_id": srv.ClientID, "secret": srv.ClientSecret}},
				"OAUTH_PKCE_ENABLED": true},
		}
	}
	for k, v := range extra {
		if m, ok := v.(map[string]any); ok && k == "HEADLESS_FRONTEND_URLS" {
			merged := map[string]any{}
			for k2, v2 := range s[k].(map[string]any) {
				merged[k2] = v2
			}
			for k2, v2 := range m {
				merged[k2] = v2
			}
			v = merged
		}
		s[k] = v
	}
	return s
}

// googleEnv is a tenant with a Google app served by an OpenID provider
// inside the test.
func googleEnv(t *testing.T, extra apitest.Settings) (*apitest.Env, *oidctest.Server) {
	t.Helper()
	srv := oidctest.Start(t)
	env := apitest.New(t, googleSettings(srv, extra))
	env.Social.Endpoints["google"] = social.Endpoints{
		Authorize: srv.AuthorizeURL(), Token: srv.TokenURL(), Userinfo: srv.UserinfoURL(),
		TokenInfo: srv.TokenInfoURL(), JWKS: srv.JWKSURL(), Issuer: srv.Issuer(),
	}
	return env, srv
}

// users counts the tenant's users.
func users(t *testing.T, env *apitest.Env) int {
	t.Helper()
	var n int
	if err := env.Accounts.Store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM users WHERE tenant_id = $1`, env.Tenant.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// socialAccounts counts the tenant's connected provider accounts.
func socialAccounts(t *testing.T, env *apitest.Env) int {
	t.Helper()
	var n int
	if err := env.Accounts.Store.Pool().QueryRow(t.Context(), `SELECT count(*) FROM social_accounts WHERE tenant_id = $1`, env.Tenant.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
