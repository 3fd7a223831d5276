package isolation_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var (
	linkKey  = regexp.MustCompile(`https://app\.example\.com/(?:verify|reset)/(\S+)`)
	codeLine = regexp.MustCompile(`(?m)^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$`)
)

// Both tenants are configured identically, down to the shared HS256 secret:
// only the tenant boundary separates them.
var settings = apitest.Settings{
	"HEADLESS_TOKEN_STRATEGY":       "jwt",
	"HEADLESS_JWT_ALGORITHM":        "HS256",
	"HEADLESS_JWT_PRIVATE_KEY":      "isolation-shared-secret-isolation-shared-secret",
	"ACCOUNT_LOGIN_METHODS":         []string{"email"},
	"ACCOUNT_SIGNUP_FIELDS":         []string{"email*", "password1*"},
	"ACCOUNT_EMAIL_VERIFICATION":    "optional",
	"ACCOUNT_LOGIN_BY_CODE_ENABLED": true,
	"ACCOUNT_RATE_LIMITS":           false,
	"HEADLESS_FRONTEND_URLS": map[string]string{
		"account_confirm_email":           "https://app.example.com/verify/{key}",
		"account_reset_password_from_key": "https://app.example.com/reset/{key}",
	},
}

// credentials collects what tenant A hands out to one user.
type credentials struct {
	appToken, cookie, csrf, access, refresh, verifyKey, resetKey, loginCode, codeSession string
}

func issue(t *testing.T, a *apitest.Env, email string) credentials {
	t.Helper()
	var c credentials
	app := a.Client("app")
	res := app.Do("POST", "auth/signup", `{"email":"`+email+`","password":"correct horse battery"}`).Status(200)
	c.appToken = app.Token
	c.access, _ = res.Path("meta.access_token").(string)
	c.refresh, _ = res.Path("meta.refresh_token").(string)
	c.verifyKey = linkKey.FindStringSubmatch(a.WaitMail(t, 1).Text)[1]
	browser := a.Client("browser")
	browser.Do("POST", "auth/login", `{"email":"`+email+`","password":"correct horse battery"}`).Status(200)
	c.cookie, c.csrf = browser.Cookie("sessionid"), browser.Cookie("csrftoken")
	a.Client("app").Do("POST", "auth/password/request", `{"email":"`+email+`"}`).Status(200)
	c.resetKey = linkKey.FindStringSubmatch(a.WaitMail(t, 2).Text)[1]
	coder := a.Client("app")
	coder.Do("POST", "auth/code/request", `{"email":"`+email+`"}`).Status(401)
	c.codeSession = coder.Token
	c.loginCode = codeLine.FindStringSubmatch(a.WaitMail(t, 3).Text)[1]
	return c
}

// TestCredentialsDoNotCrossTenants presents every credential of tenant A
// to every routed endpoint of tenant B (same user email exists at both),
// and checks that none is honoured.
func TestCredentialsDoNotCrossTenants(t *testing.T) {
	a, b := apitest.New(t, settings), apitest.New(t, settings)
	const email = "shared@example.com"
	credA := issue(t, a, email)
	b.Client("app").Do("POST", "auth/signup", `{"email":"`+email+`","password":"correct horse battery"}`).Status(200)

	type attempt struct {
		kind    string
		client  string
		headers []string
		body    func(method, path string) string
	}
	empty := func(method, _ string) string {
		if method == "GET" {
			return ""
		}
		return "{}"
	}
	attempts := []attempt{
		{kind: "session token", client: "app", headers: []string{"X-Session-Token", credA.appToken}, body: empty},
		{kind: "session cookie", client: "browser", headers: []string{"Cookie", "sessionid=" + credA.cookie + "; csrftoken=" + credA.csrf, "X-CSRFToken", credA.csrf}, body: empty},
		{kind: "access token", client: "app", headers: []string{"Authorization", "Bearer " + credA.access}, body: empty},
		{kind: "code session", client: "app", headers: []string{"X-Session-Token", credA.codeSession}, body: func(m, p string) string {
			if p == "/auth/code/confirm" {
				return `{"code":"` + credA.loginCode + `"}`
			}
			return empty(m, p)
		}},
		{kind: "keys and codes", client: "app", headers: []string{"X-Email-Verification-Key", credA.verifyKey, "X-Password-Reset-Key", credA.resetKey},
			body: func(m, p string) string {
				switch p {
				case "/auth/email/verify":
					return `{"key":"` + credA.verifyKey + `"}`
				case "/auth/password/reset":
					return `{"key":"` + credA.resetKey + `","password":"hijacked horse battery"}`
				case "/tokens/refresh":
					return `{"refresh_token":"` + credA.refresh + `"}`
				case "/auth/code/confirm":
					return `{"code":"` + credA.loginCode + `"}`
				}
				return empty(m, p)
			}},
	}
	tried := 0
	for _, at := range attempts {
		for _, r := range b.Server.Catalog.Served(b.Tenant.Settings, at.client) {
			if r.Method == "DELETE" && r.Path == "/auth/session" {
				continue // logging out is harmless and tells nothing
			}
			path := strings.TrimPrefix(r.Path, "/")
			res := b.Do(at.client, r.Method, path, at.body(r.Method, r.Path), at.headers...)
			tried++
			if res.Code >= 500 {
				t.Errorf("%s at B %s %s: %d %s", at.kind, r.Method, r.Path, res.Code, res.Body)
			}
			if res.Path("meta.is_authenticated") == true || (res.Code == 200 && r.Path != "/config" && r.Path != "/auth/email/verify/resend") {
				t.Errorf("%s of tenant A honoured at B: %s %s → %d %s", at.kind, r.Method, r.Path, res.Code, res.Body)
			}
			if r.Path == "/config" {
				continue
			}
			if strings.Contains(string(res.Body), `"access_token"`) || strings.Contains(string(res.Body), `"user":`) {
				t.Errorf("%s at B %s %s leaked: %s", at.kind, r.Method, r.Path, res.Body)
			}
		}
	}
	t.Logf("%d credential × endpoint attempts at the other tenant, none honoured", tried)

	// Nothing at B changed: its user still logs in with its own password,
	// and A's credentials still work at A.
	b.Client("app").Do("POST", "auth/login", `{"email":"`+email+`","password":"correct horse battery"}`).Status(200)
	own := a.Client("app")
	own.Token = credA.appToken
	own.Do("GET", "auth/session", "").Status(200)
	a.Client("app").Do("GET", "auth/session", "", "Authorization", "Bearer "+credA.access).Status(200)
}
