package account_test

import (
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	domain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/passwords"
)

// NIST SP 800-63B through the API: 8 is the floor even where a tenant
// would have allauth's 6 (the settings refuse it), 64 and 4096 characters
// sign up and log in, 4097 are refused with Django's max_length.
func TestPasswordLengths(t *testing.T) {
	env := apitest.New(t, with(noVerification, apitest.Settings{"ACCOUNT_RATE_LIMITS": false}))
	if env.Tenant.Settings.PasswordMinLength != 8 {
		t.Fatalf("default minimum %d, want 8", env.Tenant.Settings.PasswordMinLength)
	}
	fe := env.Client("app")
	res := fe.Do("POST", "auth/signup", `{"email":"seven@example.com","password":"tqxmwzr"}`).Status(400).Error("password", "password_too_short")
	if !strings.Contains(string(res.Body), "at least 8 characters") {
		t.Fatalf("%s", res.Body)
	}
	for i, pw := range []string{
		"tqxmwzrk",                            // 8
		strings.Repeat("horse ", 10) + "zzz",  // 63
		strings.Repeat("horse ", 10) + "zzzz", // 64
		strings.Repeat("é", 4096),             // 4096 characters, 8192 bytes
		"ünïcödé pässwörd ✓ 密码",
	} {
		email := fmt.Sprintf("len%d@example.com", i)
		env.Client("app").Do("POST", "auth/signup", `{"email":"`+email+`","password":"`+pw+`"}`).Status(200)
		env.Client("browser").Do("POST", "auth/login", `{"email":"`+email+`","password":"`+pw+`"}`).Status(200)
	}
	res = env.Client("app").Do("POST", "auth/signup", `{"email":"long@example.com","password":"`+strings.Repeat("é", 4097)+`"}`).Status(400).Error("password", "max_length")
	if !strings.Contains(string(res.Body), "at most 4096") {
		t.Fatalf("%s", res.Body)
	}
	// Verified exactly as received: no truncation, no case folding, no
	// trimming (ASVS 6.2.8).
	long := strings.Repeat("horse ", 20) + "tail" // 124 characters: past bcrypt's 72 bytes
	env.Client("app").Do("POST", "auth/signup", `{"email":"exact@example.com","password":"`+long+`"}`).Status(200)
	for _, near := range []string{long[:72], long[:len(long)-1] + "L", strings.ToUpper(long), long + " ", " " + long} {
		env.Client("app").Do("POST", "auth/login", `{"email":"exact@example.com","password":"`+near+`"}`).Status(400).Error("password", "email_password_mismatch")
	}
	env.Client("app").Do("POST", "auth/login", `{"email":"exact@example.com","password":"`+long+`"}`).Status(200)
}

// A password reset that logs in (ACCOUNT_LOGIN_ON_PASSWORD_RESET) still
// stops at the second factor of a user with TOTP (ASVS 6.4.3), and ends
// the user's other sessions.
func TestPasswordResetKeepsMFA(t *testing.T) {
	env := apitest.New(t, with(noVerification, apitest.Settings{
		"ACCOUNT_LOGIN_ON_PASSWORD_RESET": true,
		"ACCOUNT_RATE_LIMITS":             false,
		"MFA_SUPPORTED_TYPES":             []string{"totp"},
		"MFA_ALLOW_UNVERIFIED_EMAIL":      true,
		"HEADLESS_FRONTEND_URLS":          map[string]string{"account_reset_password_from_key": "https://app.example.com/reset/{key}"},
	}))
	fe := loggedIn(t, env, "app", "mia@example.com")
	res := fe.Do("GET", "account/authenticators/totp", "").Status(404)
	secret := res.Path("meta.secret").(string)
	fe.Do("POST", "account/authenticators/totp", `{"code":"`+domain.TOTPCode(secret, time.Now(), env.Tenant.Settings)+`"}`).Status(200)

	anon := env.Client("browser")
	anon.Do("POST", "auth/password/request", `{"email":"mia@example.com"}`).Status(200)
	key := resetKeyLink.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
	res = anon.Do("POST", "auth/password/reset", `{"key":"`+key+`","password":"brand new horse"}`).Status(401)
	if _, pending := flowIDs(res); pending != "mfa_authenticate" {
		t.Fatalf("the reset logged in past the second factor: %s", res.Body)
	}
	anon.Do("GET", "auth/session", "").Status(401)
	// The reset ended the sessions the user had (ASVS 7.4.3).
	fe.Do("GET", "auth/session", "").Status(410)
}

// pwned is a stand-in for api.pwnedpasswords.com listing some passwords
// (and padding); it counts the lookups it answers.
type pwned struct {
	*httptest.Server
	mu    sync.Mutex
	paths []string
}

func newPwned(t *testing.T, listed ...string) *pwned {
	p := &pwned{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.paths = append(p.paths, r.URL.Path)
		p.mu.Unlock()
		prefix := strings.TrimPrefix(r.URL.Path, "/range/")
		for _, pw := range listed {
			sum := sha1.Sum([]byte(pw))
			if d := strings.ToUpper(hex.EncodeToString(sum[:])); d[:5] == prefix {
				fmt.Fprintf(w, "%s:%d\r\n", d[5:], 37)
			}
		}
		fmt.Fprintf(w, "%s:0\r\n%s:0", strings.Repeat("0", 35), strings.Repeat("F", 35))
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *pwned) lookups() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.paths...)
}

var resetKeyLink = regexp.MustCompile(`https://app\.example\.com/reset/(\S+)`)

// HALLPASS_PASSWORD_BREACH_CHECK: signup, password change and password
// reset refuse a password the service lists (password_too_common) and
// accept one it does not; only a SHA-1 prefix is sent; the service down,
// passwords are accepted; a tenant without the setting never asks.
func TestPasswordBreachCheck(t *testing.T) {
	const breached, fresh = "breached horse battery", "unlisted horse battery"
	settings := with(noVerification, apitest.Settings{
		"ACCOUNT_RATE_LIMITS":            false,
		"HALLPASS_PASSWORD_BREACH_CHECK": true,
		"HEADLESS_FRONTEND_URLS":         map[string]string{"account_reset_password_from_key": "https://app.example.com/reset/{key}"},
	})
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			hibp := newPwned(t, breached)
			env := apitest.New(t, settings)
			env.Accounts.Breach = passwords.NewBreachChecker(hibp.URL, nil)

			// Signup.
			res := env.Client(client).Do("POST", "auth/signup", `{"email":"bea@example.com","password":"`+breached+`"}`).Status(400).Error("password", "password_too_common")
			if !strings.Contains(string(res.Body), "data breach") {
				t.Fatalf("the message gives no reason: %s", res.Body)
			}
			fe := env.Client(client)
			fe.Do("POST", "auth/signup", `{"email":"bea@example.com","password":"`+fresh+`"}`).Status(200)

			// Password change.
			fe.Do("POST", "account/password/change", `{"current_password":"`+fresh+`","new_password":"`+breached+`"}`).Status(400).Error("new_password", "password_too_common")
			fe.Do("POST", "account/password/change", `{"current_password":"`+fresh+`","new_password":"another unlisted horse"}`).Status(200)

			// Password reset.
			anon := env.Client(client)
			anon.Do("POST", "auth/password/request", `{"email":"bea@example.com"}`).Status(200)
			key := resetKeyLink.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
			anon.Do("POST", "auth/password/reset", `{"key":"`+key+`","password":"`+breached+`"}`).Status(400).Error("password", "password_too_common")
			anon.Do("POST", "auth/password/reset", `{"key":"`+key+`","password":"yet another unlisted horse"}`).Status(401)
			env.Client(client).Do("POST", "auth/login", `{"email":"bea@example.com","password":"yet another unlisted horse"}`).Status(200)

			// Six lookups, each of a five-digit prefix only; a password
			// the local rules refuse is not looked up.
			env.Client(client).Do("POST", "auth/signup", `{"email":"cy@example.com","password":"short"}`).Status(400).Error("password", "password_too_short")
			paths := hibp.lookups()
			if len(paths) != 6 {
				t.Fatalf("%d lookups, want 6: %v", len(paths), paths)
			}
			for _, p := range paths {
				if !regexp.MustCompile(`^/range/[0-9A-F]{5}$`).MatchString(p) {
					t.Fatalf("lookup %q sends more than a five-digit prefix", p)
				}
			}

			// The service down: fail-open, within the timeout.
			hibp.Close()
			env.Client(client).Do("POST", "auth/signup", `{"email":"dee@example.com","password":"`+breached+`"}`).Status(200)
		})
	}
	t.Run("off", func(t *testing.T) {
		hibp := newPwned(t, breached)
		env := apitest.New(t, with(noVerification, apitest.Settings{"ACCOUNT_RATE_LIMITS": false}))
		env.Accounts.Breach = passwords.NewBreachChecker(hibp.URL, nil)
		fe := env.Client("app")
		fe.Do("POST", "auth/signup", `{"email":"eve@example.com","password":"`+breached+`"}`).Status(200)
		fe.Do("POST", "account/password/change", `{"current_password":"`+breached+`","new_password":"`+breached+` 2"}`).Status(200)
		if n := len(hibp.lookups()); n != 0 {
			t.Fatalf("a tenant without the setting asked the service %d times", n)
		}
	})
}
