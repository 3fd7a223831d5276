package mfa_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	domain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/testenv"
)

// Issue #16 item 6: every anonymous GET of passkey login options stored a
// WebAuthn challenge in a new session, unlimited. From one IP they are now
// rate limited (allauth's 429), and the tenant's sessions stay few.
func TestAnonymousPasskeyOptionsRateLimited(t *testing.T) {
	env := apitest.New(t, with(apitest.Settings{"MFA_PASSKEY_LOGIN_ENABLED": true}))
	const n = 120
	counts := map[int]int{}
	for i := 0; i < n; i++ {
		// A client without a session token each time: a new session each time.
		res := env.Do("app", "GET", "auth/webauthn/login", "")
		counts[res.Code]++
		if res.Code == 429 {
			res.Status(429)
		}
	}
	if counts[429] == 0 || counts[200]+counts[429] != n {
		t.Fatalf("%d anonymous passkey login options from one IP answered %v; want 200s, then 429s", n, counts)
	}
	if sessions := countKeys(t, env, "sess"); sessions > 30 {
		t.Fatalf("after %d anonymous passkey login options the tenant holds %d sessions in Redis", n, sessions)
	}
}

func countKeys(t *testing.T, env *apitest.Env, kind string) int {
	t.Helper()
	rdb := testenv.Redis(t)
	n := 0
	iter := rdb.Scan(context.Background(), 0, "hp:{"+env.Tenant.ID.String()+"}:"+kind+":*", 1000).Iterator()
	for iter.Next(context.Background()) {
		n++
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// Issue #16 item 7: a trust cookie named like the console's session, on the
// base domain, for /console/, was set as the tenant's settings said. Even
// with such settings stored (written before they were refused), the cookie
// set after MFA has the default name, no Domain, and the tenant's own path.
func TestTrustCookieStaysInTenant(t *testing.T) {
	env := apitest.New(t, with(apitest.Settings{"MFA_TRUST_ENABLED": true}))
	// As an older version stored them, which accepted them.
	if _, err := testenv.Pool(t).Exec(context.Background(), `UPDATE tenants SET settings = settings || $2::jsonb WHERE id = $1`,
		env.Tenant.ID, `{"MFA_TRUST_COOKIE_NAME": "hp_console", "MFA_TRUST_COOKIE_DOMAIN": "hallpass.test", "MFA_TRUST_COOKIE_PATH": "/console/"}`); err != nil {
		t.Fatal(err)
	}
	fe, secret := enableTOTP(t, env, "browser", "fay@example.com")
	fe.Do("DELETE", "auth/session", "").Status(401)
	fe.Do("POST", "auth/login", `{"email":"fay@example.com","password":"`+pw+`"}`).Status(401)
	code := domain.TOTPCode(secret, time.Now(), env.Tenant.Settings)
	fe.Do("POST", "auth/2fa/authenticate", `{"code":"`+code+`"}`).Status(401)
	res := fe.Do("POST", "auth/2fa/trust", `{"trust":true}`).Status(200)
	var trust *http.Cookie
	for _, c := range (&http.Response{Header: res.Header}).Cookies() {
		if c.Name != "sessionid" && c.Name != "csrftoken" {
			if trust != nil {
				t.Fatalf("two trust cookies: %v", res.Header.Values("Set-Cookie"))
			}
			trust = c
		}
	}
	if trust == nil {
		t.Fatalf("no trust cookie: %v", res.Header.Values("Set-Cookie"))
	}
	base := "/t/" + env.Tenant.Slug + "/"
	if strings.HasPrefix(strings.ToLower(trust.Name), "hp_") || trust.Name != "mfa_trusted" || trust.Domain != "" || trust.Path != base {
		t.Fatalf("trust cookie %q domain %q path %q; want mfa_trusted, host-only, %s (Set-Cookie: %v)",
			trust.Name, trust.Domain, trust.Path, base, res.Header.Values("Set-Cookie"))
	}
	// And the cookie it set is the one it reads: the browser is trusted.
	fe.Do("DELETE", "auth/session", "").Status(401)
	fe.Do("POST", "auth/login", `{"email":"fay@example.com","password":"`+pw+`"}`).Status(200)
}
