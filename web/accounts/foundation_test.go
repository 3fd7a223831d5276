package accounts_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/web"
)

// emailLogin is a tenant that signs users in by email with a password.
var emailLogin = apitest.Settings{
	"ACCOUNT_LOGIN_METHODS":      []string{"email"},
	"ACCOUNT_SIGNUP_FIELDS":      []string{"email*", "password1*"},
	"ACCOUNT_EMAIL_VERIFICATION": "optional",
}

// signupByAPI creates a user through the headless browser client of b's
// jar's own session, then signs that session out.
func signupByAPI(t *testing.T, b *browser, email, password string) {
	t.Helper()
	b.api("GET", "config", "")
	code, body := b.api("POST", "auth/signup", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
	if code != 200 {
		t.Fatalf("signup: %d %v", code, body)
	}
	if code, _ := b.api("DELETE", "auth/session", ""); code != 401 {
		t.Fatalf("logout: %d", code)
	}
}

// With HEADLESS_ONLY every page and asset is absent, as the API's 404.
func TestPagesAbsentWhenHeadlessOnly(t *testing.T) {
	env := apitest.New(t, apitest.Settings{
		"HEADLESS_ONLY": true,
		"HEADLESS_FRONTEND_URLS": map[string]string{
			"account_confirm_email":           "https://app.example.com/verify/{key}",
			"account_reset_password":          "https://app.example.com/reset",
			"account_reset_password_from_key": "https://app.example.com/reset/{key}",
			"account_signup":                  "https://app.example.com/signup",
		},
	})
	b := newBrowser(t, env)
	for _, p := range []string{"/accounts/login/", "/accounts/logout/", "/accounts/signup/", "/accounts/email/",
		"/accounts/static/" + web.Fingerprinted("accounts.css"), "/accounts/brand.css"} {
		res := b.get(p).status(404)
		if !strings.Contains(res.header.Get("Content-Type"), "json") {
			t.Errorf("%s: %s, want the API's JSON 404", p, res.header.Get("Content-Type"))
		}
	}
	b.post("/accounts/login/", url.Values{"login": {"a@example.com"}}).status(404)
}

// A form post needs the CSRF token of the csrftoken cookie; without it, or
// from another origin, Django's 403 page.
func TestPagesCSRF(t *testing.T) {
	env := apitest.New(t, emailLogin)
	b := newBrowser(t, env)
	login := b.get("/accounts/login/").status(200)
	if b.cookie("csrftoken") == "" {
		t.Fatal("no csrftoken cookie handed out")
	}
	good := login.form().values.Get("csrfmiddlewaretoken")
	if len(good) != 64 {
		t.Fatalf("form token %q: want Django's masked 64 characters", good)
	}
	for name, v := range map[string]url.Values{
		"no token":    {"login": {"a@example.com"}, "password": {"x"}},
		"wrong token": {"login": {"a@example.com"}, "password": {"x"}, "csrfmiddlewaretoken": {strings.Repeat("a", 64)}},
		"bad format":  {"login": {"a@example.com"}, "password": {"x"}, "csrfmiddlewaretoken": {"<script>"}},
	} {
		res := b.post("/accounts/login/", v).status(403).contains("CSRF verification failed")
		if !strings.HasPrefix(res.header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %s, want a page", name, res.header.Get("Content-Type"))
		}
	}
	ok := url.Values{"login": {"a@example.com"}, "password": {"x"}, "csrfmiddlewaretoken": {good}}
	b.post("/accounts/login/", ok, "Origin", "https://evil.example").status(403)
	// The same token from the page's own origin is let through to the form.
	b.post("/accounts/login/", ok, "Origin", apitest.PublicURL).status(400)
	// The raw secret (as X-CSRFToken, as a script sends it) counts too.
	b.post("/accounts/login/", url.Values{"login": {"a@example.com"}, "password": {"x"}}, "X-CSRFToken", b.cookie("csrftoken")).status(400)
	// Another browser's token is not this one's.
	other := newBrowser(t, env)
	other.get("/accounts/login/")
	b.post("/accounts/login/", url.Values{"login": {"a"}, "password": {"x"}, "csrfmiddlewaretoken": {other.cookie("csrftoken")}}).status(403)
}

// Pages carry a strict CSP, no caching, and fingerprinted assets cached
// for good.
func TestPagesHeadersAndAssets(t *testing.T) {
	env := apitest.New(t, emailLogin)
	b := newBrowser(t, env)
	p := b.get("/accounts/login/").status(200)
	csp := p.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(p.body, "<script") || strings.Contains(p.body, "style=") {
		t.Errorf("inline script or style: CSP %q\n%s", csp, p.body)
	}
	if p.header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", p.header.Get("Cache-Control"))
	}
	css := "/accounts/static/" + web.Fingerprinted("accounts.css")
	if !strings.Contains(p.body, `href="/t/`+env.Tenant.Slug+css+`"`) {
		t.Fatalf("page does not link %s:\n%s", css, p.body)
	}
	a := b.get(css).status(200)
	if a.header.Get("Cache-Control") != "public, max-age=31536000, immutable" || !strings.HasPrefix(a.header.Get("Content-Type"), "text/css") {
		t.Errorf("asset headers: %v", a.header)
	}
	b.get("/accounts/static/accounts.css").status(404)
	b.get("/accounts/static/accounts.0000000000000000.css").status(404)
}

// Every field has a label; errors are tied to their field and focus the
// first field in error; the form keeps what was typed (never a password).
func TestPagesFormAccessibility(t *testing.T) {
	env := apitest.New(t, emailLogin)
	b := newBrowser(t, env)
	p := b.get("/accounts/login/").status(200)
	p.contains(`<label for="id_login">`, `<label for="id_password">`, `id="id_login"`, "autofocus")
	res := b.submit(p, map[string]string{"login": "nobody@example.com", "password": "wrong password"}).status(400)
	res.contains(`value="nobody@example.com"`)
	if strings.Contains(res.body, "wrong password") {
		t.Error("the password was sent back")
	}
	res = b.submit(p, map[string]string{"login": "", "password": ""}).status(400)
	res.contains(`aria-describedby="id_login_error"`, `id="id_login_error"`, `aria-invalid="true"`, "This field is required.")
	// autofocus sits on the first field in error.
	i := strings.Index(res.body, "autofocus")
	if i < 0 || !strings.Contains(res.body[:i], `id="id_login"`) || strings.Contains(res.body[:i], `id="id_password"`) {
		t.Errorf("autofocus not on the first field in error:\n%s", res.body)
	}
}

// A sign-in on the page is the browser client's session, and the reverse.
func TestPagesShareTheBrowserSession(t *testing.T) {
	env := apitest.New(t, emailLogin)
	b := newBrowser(t, env)
	signupByAPI(t, b, "ana@example.com", "correct horse battery")
	if code, _ := b.api("GET", "auth/session", ""); code != 401 {
		t.Fatalf("session before login: %d", code)
	}
	p := b.get("/accounts/login/").status(200)
	res := b.submit(p, map[string]string{"login": "ana@example.com", "password": "correct horse battery"})
	res.redirects("/t/" + env.Tenant.Slug + "/accounts/email/")
	code, body := b.api("GET", "auth/session", "")
	if code != 200 {
		t.Fatalf("API session after page login: %d %v", code, body)
	}
	// The page sees the API's sign-out.
	if code, _ := b.api("DELETE", "auth/session", ""); code != 401 {
		t.Fatalf("API logout: %d", code)
	}
	b.get("/accounts/logout/").redirects("/accounts/login/")
	// And the API's sign-in.
	b.api("POST", "auth/login", `{"email":"ana@example.com","password":"correct horse battery"}`)
	b.get("/accounts/login/").redirects("/accounts/email/")
	lo := b.get("/accounts/logout/").status(200).contains("Are you sure you want to sign out?")
	b.submit(lo, nil).redirects("/accounts/login/")
	if code, _ := b.api("GET", "auth/session", ""); code != 401 {
		t.Fatalf("API session after page logout: %d", code)
	}
}
