package account_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"golang.org/x/crypto/pbkdf2"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/testenv"
)

func TestBrowserCSRFAndCookies(t *testing.T) {
	env := apitest.New(t, with(emailOnly, apitest.Settings{
		"ACCOUNT_EMAIL_VERIFICATION": "none",
		"HEADLESS_FRONTEND_URLS":     map[string]string{"account_signup": "https://app.example.com/signup"},
	}))
	body := `{"email":"ivy@example.com","password":"correct horse battery"}`
	// No CSRF cookie/header: refused, nothing created.
	env.Do("browser", "POST", "auth/signup", body).Status(403)
	fe := env.Client("browser")
	fe.Do("GET", "config", "").Status(200)
	csrf := fe.Cookie("csrftoken")
	if len(csrf) != 32 {
		t.Fatalf("csrftoken cookie %q", csrf)
	}
	// A wrong header, and a cross-site origin, are refused.
	env.Do("browser", "POST", "auth/signup", body, "Cookie", "csrftoken="+csrf, "X-CSRFToken", strings.Repeat("a", 32)).Status(403)
	env.Do("browser", "POST", "auth/signup", body, "Cookie", "csrftoken="+csrf, "X-CSRFToken", csrf, "Origin", "https://evil.example").Status(403)
	var n int
	_ = testenv.Pool(t).QueryRow(context.Background(), `SELECT count(*) FROM users WHERE tenant_id = $1`, env.Tenant.ID).Scan(&n)
	if n != 0 {
		t.Fatalf("a refused request created %d users", n)
	}
	// The tenant's frontend origin is allowed, with credentials (CORS).
	res := fe.Do("POST", "auth/signup", body, "Origin", "https://app.example.com").Status(200)
	if res.Header.Get("Access-Control-Allow-Origin") != "https://app.example.com" || res.Header.Get("Access-Control-Allow-Credentials") != "true" {
		t.Fatalf("CORS headers: %v", res.Header)
	}
	if fe.Cookie("csrftoken") == csrf {
		t.Fatal("login must rotate the CSRF token")
	}
	setCookie := strings.Join(res.Header.Values("Set-Cookie"), "\n")
	if !strings.Contains(setCookie, "sessionid=") || !strings.Contains(strings.ToLower(setCookie), "httponly") ||
		!strings.Contains(strings.ToLower(setCookie), "samesite=lax") || !strings.Contains(setCookie, "path=/t/"+env.Tenant.Slug+"/") {
		t.Fatalf("session cookie attributes: %s", setCookie)
	}
	pre := env.Raw("OPTIONS", "/t/"+env.Tenant.Slug+"/_allauth/browser/v1/auth/login", "", "Origin", "https://app.example.com",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "x-csrftoken,content-type")
	if pre.Code != 204 || !strings.Contains(pre.Header.Get("Access-Control-Allow-Headers"), "x-session-token") {
		t.Fatalf("preflight: %d %v", pre.Code, pre.Header)
	}
	fe.Do("GET", "auth/session", "").Status(200)
}

// Nothing issued by one tenant works at another: session tokens, session
// cookies, verification keys.
func TestCrossTenantCredentialsFail(t *testing.T) {
	settings := with(emailOnly, apitest.Settings{
		"ACCOUNT_EMAIL_VERIFICATION": "mandatory",
		"HEADLESS_FRONTEND_URLS":     map[string]string{"account_confirm_email": "https://app.example.com/verify/{key}"},
	})
	a, b := apitest.New(t, settings), apitest.New(t, settings)
	feA := a.Client("app")
	feA.Do("POST", "auth/signup", `{"email":"jo@example.com","password":"correct horse battery"}`).Status(401)
	key := linkKey.FindStringSubmatch(a.WaitMail(t, 1).Text)[1]
	// The same address signs up at B: its own user, its own key.
	b.Client("app").Do("POST", "auth/signup", `{"email":"jo@example.com","password":"correct horse battery"}`).Status(401)
	b.WaitMail(t, 1)
	b.Client("app").Do("GET", "auth/email/verify", "", "X-Email-Verification-Key", key).Status(400).Error("key", "invalid_or_expired_key")
	b.Client("app").Do("POST", "auth/email/verify", `{"key":"`+key+`"}`).Status(400).Error("key", "invalid_or_expired_key")
	feA.Do("POST", "auth/email/verify", `{"key":"`+key+`"}`).Status(401) // verified at A (no login on confirmation)
	res := feA.Do("POST", "auth/login", `{"email":"jo@example.com","password":"correct horse battery"}`).Status(200)
	token := res.Path("meta.session_token").(string)
	feB := b.Client("app")
	feB.Token = token
	feB.Do("GET", "auth/session", "").Status(410)

	browserA := a.Client("browser")
	browserA.Do("POST", "auth/login", `{"email":"jo@example.com","password":"correct horse battery"}`).Status(200)
	browserB := b.Client("browser")
	browserB.SetCookie("sessionid", browserA.Cookie("sessionid"))
	browserB.Do("GET", "auth/session", "").Status(401)
}

// Users imported from Django keep their passwords: a pbkdf2_sha256 hash
// verifies and is re-hashed to argon2id on login. An inactive user with the
// right password is not logged in.
func TestImportedHashRehashedAndInactiveRefused(t *testing.T) {
	env := apitest.New(t, apitest.Settings{"ACCOUNT_EMAIL_VERIFICATION": "none"})
	ctx := context.Background()
	pool := testenv.Pool(t)
	salt := "seasalt"
	digest := pbkdf2.Key([]byte("django password"), []byte(salt), 1000, 32, sha256.New)
	hash := "pbkdf2_sha256$1000$" + salt + "$" + base64.StdEncoding.EncodeToString(digest)
	var id int64
	if err := pool.QueryRow(ctx, `INSERT INTO users (tenant_id, id, username, username_folded, password_hash) VALUES ($1, next_user_id($1), 'kim', 'kim', $2) RETURNING id`,
		env.Tenant.ID, hash).Scan(&id); err != nil {
		t.Fatal(err)
	}
	env.Client("app").Do("POST", "auth/login", `{"username":"kim","password":"django password"}`).Status(200)
	var stored string
	_ = pool.QueryRow(ctx, `SELECT password_hash FROM users WHERE tenant_id = $1 AND id = $2`, env.Tenant.ID, id).Scan(&stored)
	if !strings.HasPrefix(stored, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("not re-hashed: %s", stored)
	}
	env.Client("app").Do("POST", "auth/login", `{"username":"kim","password":"django password"}`).Status(200)
	if _, err := pool.Exec(ctx, `UPDATE users SET is_active = false WHERE tenant_id = $1 AND id = $2`, env.Tenant.ID, id); err != nil {
		t.Fatal(err)
	}
	res := env.Client("app").Do("POST", "auth/login", `{"username":"kim","password":"django password"}`).Status(401)
	if _, pending := flowIDs(res); pending != "" {
		t.Fatalf("inactive: %s", res.Body)
	}
	env.Client("app").Do("POST", "auth/login", `{"username":"kim","password":"wrong"}`).Status(400).Error("password", "username_password_mismatch")
}
