package logscan_test

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	domain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/passwords"
)

var (
	linkKey  = regexp.MustCompile(`https://app\.example\.com/(?:verify|reset)/(\S+)`)
	codeLine = regexp.MustCompile(`(?m)^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$`)
)

// capture is the server's log output: JSON lines, every level.
type capture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *capture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *capture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// logged starts a tenant whose server logs into a capture, at debug level.
// The process default logger points there too for the test, so a component
// falling back to slog.Default is caught as well.
func logged(t *testing.T, settings apitest.Settings) (*apitest.Env, *capture, *slog.Logger) {
	t.Helper()
	c := &capture{}
	log := slog.New(slog.NewJSONHandler(c, &slog.HandlerOptions{Level: slog.LevelDebug}))
	prev := slog.Default()
	slog.SetDefault(log)
	t.Cleanup(func() { slog.SetDefault(prev) })
	return apitest.NewWithLog(t, settings, log), c, log
}

// secrets are the values the flows handled, by what they are.
type secrets map[string]string

func (s secrets) add(t *testing.T, what, v string) {
	t.Helper()
	if v == "" {
		t.Fatalf("secret %s is empty: the flow did not produce it", what)
	}
	s[v] = what
}

// addResponse keeps every token and cookie a response hands out.
func (s secrets) addResponse(t *testing.T, res *apitest.Response) {
	t.Helper()
	for _, p := range []string{"meta.session_token", "meta.access_token", "meta.refresh_token"} {
		if v, ok := res.Path(p).(string); ok && v != "" {
			s[v] = p
		}
	}
	for _, ck := range (&http.Response{Header: res.Header}).Cookies() {
		if ck.Value != "" {
			s[ck.Value] = "cookie " + ck.Name
		}
	}
}

var boundary = `(^|[^0-9A-Za-z])%s([^0-9A-Za-z]|$)`

// leaked reports where secret appears in log: as itself, URL-escaped or
// JSON-escaped; a long secret's first 16 characters count too (a
// "redacted" token prefix still narrows it), a short one (a code) must
// stand alone, so that digits inside a duration or hex id do not match.
func leaked(log, secret string) bool {
	forms := []string{secret, url.QueryEscape(secret), url.PathEscape(secret)}
	if b, err := json.Marshal(secret); err == nil {
		forms = append(forms, strings.Trim(string(b), `"`))
	}
	for _, f := range forms {
		if len(secret) < 12 {
			if regexp.MustCompile(strings.Replace(boundary, "%s", regexp.QuoteMeta(f), 1)).MatchString(log) {
				return true
			}
			continue
		}
		if strings.Contains(log, f) || (len(f) >= 32 && strings.Contains(log, f[:16])) {
			return true
		}
	}
	return false
}

func sha1Prefix(pw string) string {
	sum := sha1.Sum([]byte(pw))
	return strings.ToUpper(hex.EncodeToString(sum[:]))[:5]
}

// accountSettings turn on what the flows go through: mandatory verification
// by link, login by code, TOTP and recovery codes, the breach check.
var accountSettings = apitest.Settings{
	"ACCOUNT_LOGIN_METHODS":               []string{"email"},
	"ACCOUNT_SIGNUP_FIELDS":               []string{"email*", "password1*"},
	"ACCOUNT_EMAIL_VERIFICATION":          "mandatory",
	"ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION": true,
	"ACCOUNT_LOGIN_BY_CODE_ENABLED":       true,
	"ACCOUNT_RATE_LIMITS":                 false,
	"MFA_SUPPORTED_TYPES":                 []string{"totp", "recovery_codes"},
	"MFA_TOTP_TOLERANCE":                  1,
	"HALLPASS_PASSWORD_BREACH_CHECK":      true,
	"HEADLESS_FRONTEND_URLS": map[string]string{
		"account_confirm_email":           "https://app.example.com/verify/{key}",
		"account_reset_password_from_key": "https://app.example.com/reset/{key}",
	},
}

// TestNoSecretsInLogs runs signup, email verification, TOTP activation,
// MFA login, reauthentication, password change, password reset with the
// mailed key, login by code with a recovery code, failures of each kind and
// the JWT strategy's refresh and reuse, for both clients, and then finds
// none of the secrets those flows handled in what the server logged.
func TestNoSecretsInLogs(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env, logs, log := logged(t, accountSettings)
			// The breached-password service is down: its fail-open
			// warning is logged, and must not carry the password either.
			down := httptest.NewServer(http.NotFoundHandler())
			down.Close()
			env.Accounts.Breach = passwords.NewBreachChecker(down.URL, log)

			s := secrets{}
			const email = "leo@example.com"
			pw1, pw2, pw3 := "first horse battery staple", "second horse battery staple", "third horse battery staple"
			s.add(t, "password 1", pw1)
			s.add(t, "password 2", pw2)
			s.add(t, "password 3", pw3)
			for _, pw := range []string{pw1, pw2, pw3} {
				s.add(t, "SHA-1 prefix sent to the breach service", sha1Prefix(pw))
			}
			fe := env.Client(client)
			do := func(method, path, body string, status int, headers ...string) *apitest.Response {
				t.Helper()
				res := fe.Do(method, path, body, headers...).Status(status)
				s.addResponse(t, res)
				return res
			}
			logout := func() {
				do("DELETE", "auth/session", "", 401)
				fe = env.Client(client) // the app's token is dead now: start over, as a frontend does
			}

			// Signup, verification by the mailed link.
			do("POST", "auth/signup", `{"email":"`+email+`","password":"`+pw1+`"}`, 401)
			verifyKey := linkKey.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
			s.add(t, "email verification key", verifyKey)
			do("GET", "auth/email/verify", "", 200, "X-Email-Verification-Key", verifyKey)
			do("POST", "auth/email/verify", `{"key":"`+verifyKey+`"}`, 200)

			// TOTP activation and the recovery codes.
			res := do("GET", "account/authenticators/totp", "", 404)
			secret, _ := res.Path("meta.secret").(string)
			s.add(t, "TOTP secret", secret)
			totpURL, _ := res.Path("meta.totp_url").(string)
			s.add(t, "TOTP URL", totpURL)
			activation := domain.TOTPCode(secret, time.Now().Add(-30*time.Second), env.Tenant.Settings)
			s.add(t, "TOTP activation code", activation)
			do("POST", "account/authenticators/totp", `{"code":"`+activation+`"}`, 200)
			res = do("GET", "account/authenticators/recovery-codes", "", 200)
			codes, _ := res.Path("data.unused_codes").([]any)
			if len(codes) == 0 {
				t.Fatalf("no recovery codes: %s", res.Body)
			}
			for _, c := range codes {
				s.add(t, "recovery code", c.(string))
			}
			logout()

			// Login: a wrong password, then the right one and the TOTP code.
			do("POST", "auth/login", `{"email":"`+email+`","password":"wrong horse battery staple"}`, 400)
			s.add(t, "wrong password", "wrong horse battery staple")
			do("POST", "auth/login", `{"email":"`+email+`","password":"`+pw1+`"}`, 401)
			do("POST", "auth/2fa/authenticate", `{"code":"000000"}`, 400)
			totp := domain.TOTPCode(secret, time.Now(), env.Tenant.Settings)
			s.add(t, "TOTP code", totp)
			do("POST", "auth/2fa/authenticate", `{"code":"`+totp+`"}`, 200)

			// Reauthentication and a password change.
			do("POST", "auth/reauthenticate", `{"password":"`+pw1+`"}`, 200)
			do("POST", "account/password/change", `{"current_password":"`+pw1+`","new_password":"short"}`, 400)
			do("POST", "account/password/change", `{"current_password":"`+pw1+`","new_password":"`+pw2+`"}`, 200)
			logout()

			// Password reset with the mailed key.
			do("POST", "auth/password/request", `{"email":"`+email+`"}`, 200)
			resetKey := linkKey.FindStringSubmatch(env.WaitMail(t, 2).Text)[1]
			s.add(t, "password reset key", resetKey)
			do("GET", "auth/password/reset", "", 200, "X-Password-Reset-Key", resetKey)
			do("POST", "auth/password/reset", `{"key":"`+resetKey+`","password":"`+pw3+`"}`, 401)
			// The reset ended every session of the user; the key works once.
			fe = env.Client(client)
			do("POST", "auth/password/reset", `{"key":"`+resetKey+`","password":"`+pw3+`"}`, 400)

			// Login by code, the second factor by recovery code.
			do("POST", "auth/code/request", `{"email":"`+email+`"}`, 401)
			code := codeLine.FindStringSubmatch(env.WaitMail(t, 3).Text)[1]
			s.add(t, "login code", code)
			s.add(t, "login code, undashed", strings.ReplaceAll(code, "-", ""))
			do("POST", "auth/code/confirm", `{"code":"ZZZZ-ZZZZ"}`, 400)
			do("POST", "auth/code/confirm", `{"code":"`+code+`"}`, 401)
			do("POST", "auth/2fa/authenticate", `{"code":"`+codes[0].(string)+`"}`, 200)
			do("GET", "auth/session", "", 200)

			// Malformed input carrying a password, and dead credentials.
			anon := env.Client(client)
			anon.Do("POST", "auth/login", `{"email":"`+email+`","password":"`+pw3+`"`).Status(400)
			anon.Do("POST", "auth/login", `{"email":"`+email+`","password":["`+pw3+`"]}`).Status(400)
			bogus := "bogus-session-token-0123456789abcdefghijklmnop"
			s.add(t, "presented session token", bogus)
			if client == "app" {
				env.Do("app", "GET", "auth/session", "", "X-Session-Token", bogus).Status(410)
			} else {
				env.Do("browser", "GET", "auth/session", "", "Cookie", "sessionid="+bogus).Status(401)
			}

			if !strings.Contains(logs.String(), "password breach check skipped") {
				t.Fatal("the breach check's fail-open warning was not logged: the scan did not cover it")
			}
			scan(t, logs.String(), s, 25)
		})
	}
}

// TestNoTokensInLogs covers the JWT strategy: access tokens on requests,
// refresh with rotation, a spent refresh token presented again (which
// revokes the family), and the tenant's HS256 secret.
func TestNoTokensInLogs(t *testing.T) {
	const hsKey = "logscan-hs256-secret-logscan-hs256-secret-0123"
	env, logs, _ := logged(t, apitest.Settings{
		"HEADLESS_TOKEN_STRATEGY":    "jwt",
		"HEADLESS_JWT_ALGORITHM":     "HS256",
		"HEADLESS_JWT_PRIVATE_KEY":   hsKey,
		"ACCOUNT_LOGIN_METHODS":      []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":      []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "none",
		"ACCOUNT_RATE_LIMITS":        false,
	})
	s := secrets{}
	s.add(t, "HS256 key", hsKey)
	const pw = "jwt horse battery staple"
	s.add(t, "password", pw)
	fe := env.Client("app")
	res := fe.Do("POST", "auth/signup", `{"email":"jo@example.com","password":"`+pw+`"}`).Status(200)
	s.addResponse(t, res)
	access, _ := res.Path("meta.access_token").(string)
	refresh, _ := res.Path("meta.refresh_token").(string)
	s.add(t, "access token", access)
	s.add(t, "refresh token", refresh)
	env.Client("app").Do("GET", "auth/session", "", "Authorization", "Bearer "+access).Status(200)
	env.Client("app").Do("GET", "auth/session", "", "Authorization", "Bearer "+access+"x").Status(401)
	refreshURL := "/t/" + env.Tenant.Slug + "/_allauth/app/v1/tokens/refresh"
	res = env.Raw("POST", refreshURL, `{"refresh_token":"`+refresh+`"}`).Status(200)
	s.addResponse(t, res)
	next, _ := res.Path("data.refresh_token").(string)
	if next == "" {
		next, _ = res.Path("meta.refresh_token").(string)
	}
	s.add(t, "rotated refresh token", next)
	if a, ok := res.Path("data.access_token").(string); ok {
		s.add(t, "refreshed access token", a)
	}
	env.Raw("POST", refreshURL, `{"refresh_token":"`+refresh+`"}`) // spent: revokes the family
	env.Raw("POST", refreshURL, `{"refresh_token":"`+next+`"}`)
	fe.Do("POST", "auth/login", `{"email":"jo@example.com","password":"`+pw+`"}`)
	scan(t, logs.String(), s, 6)
}

// scan fails for every secret found in the log. It first checks that the
// log is the server's, with at least minRequests access-log lines, so that
// an empty capture cannot pass.
func scan(t *testing.T, log string, s secrets, minRequests int) {
	t.Helper()
	n := strings.Count(log, `"msg":"request"`)
	if n < minRequests || !strings.Contains(log, `auth/login`) {
		t.Fatalf("captured %d access-log lines (want at least %d); is the server's logger captured?\n%s", n, minRequests, log)
	}
	for secret, what := range s {
		if leaked(log, secret) {
			t.Errorf("the log holds a secret: %s (%q)", what, secret)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", log)
	}
}

// The scanner finds what it looks for: a token, its prefix, a code
// standing alone, escaped forms; and not a code inside a longer run.
func TestLeakedFinds(t *testing.T) {
	tok := "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZmdoaWprbG1u"
	for _, tc := range []struct {
		log, secret string
		want        bool
	}{
		{`{"path":"/x?t=` + tok + `"}`, tok, true},
		{`{"token":"` + tok[:16] + `…"}`, tok, true},
		{`{"err":"incorrect code 123456"}`, "123456", true},
		{`{"duration":91234567,"request_id":"ab123456cd"}`, "123456", false},
		{`{"p":"correct%20horse%20battery"}`, "correct horse battery", true},
		{`{"k":"a\u003cb-key-long-enough"}`, "a<b-key-long-enough", true},
		{`{"msg":"request","path":"/auth/login"}`, tok, false},
	} {
		if got := leaked(tc.log, tc.secret); got != tc.want {
			t.Errorf("leaked(%s, %s) = %v, want %v", tc.log, tc.secret, got, tc.want)
		}
	}
}

// A provider's callback carries the authorization code and state in its
// query: the access log keeps the parameter names, never their values.
func TestProviderCallbackQueryRedacted(t *testing.T) {
	env, logs, _ := logged(t, apitest.Settings{"SOCIALACCOUNT_PROVIDERS": map[string]any{
		"google": map[string]any{"APPS": []any{map[string]any{"client_id": "g-1", "secret": "g-secret"}}}}})
	const code, state = "SECRET-AUTH-CODE-4711", "SECRET-STATE-0815"
	env.Raw("GET", "/t/"+env.Tenant.Slug+"/accounts/google/login/callback/?code="+code+"&state="+state+"&scope=email", "")
	out := logs.String()
	if !strings.Contains(out, "/accounts/google/login/callback/?code=REDACTED&state=REDACTED&scope=email") {
		t.Fatalf("callback not logged as expected:\n%s", out)
	}
	if strings.Contains(out, code) || strings.Contains(out, state) {
		t.Fatalf("callback secrets in the log:\n%s", out)
	}
}
