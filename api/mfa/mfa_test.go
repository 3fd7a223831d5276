package mfa_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	domain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/mfa/webauthntest"
)

const pw = "correct horse battery"

var base = apitest.Settings{
	"ACCOUNT_LOGIN_METHODS":              []string{"email"},
	"ACCOUNT_SIGNUP_FIELDS":              []string{"email*", "password1*"},
	"ACCOUNT_EMAIL_VERIFICATION":         "none",
	"MFA_SUPPORTED_TYPES":                []string{"totp", "recovery_codes", "webauthn"},
	"MFA_ALLOW_UNVERIFIED_EMAIL":         true,
	"MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN": true,
	"ACCOUNT_RATE_LIMITS":                false,
	// One step of tolerance lets a test use the previous period's code to
	// activate and the current one to log in, without waiting 30 s.
	"MFA_TOTP_TOLERANCE": 1,
}

func with(extra apitest.Settings) apitest.Settings {
	out := apitest.Settings{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func pending(r *apitest.Response) (string, []any) {
	flows, _ := r.Path("data.flows").([]any)
	for _, f := range flows {
		m := f.(map[string]any)
		if m["is_pending"] == true {
			types, _ := m["types"].([]any)
			return m["id"].(string), types
		}
	}
	return "", nil
}

// enableTOTP signs up and activates TOTP; it returns the logged-in client
// and the secret.
func enableTOTP(t *testing.T, env *apitest.Env, client, email string) (*apitest.Client, string) {
	t.Helper()
	fe := env.Client(client)
	fe.Do("POST", "auth/signup", `{"email":"`+email+`","password":"`+pw+`"}`).Status(200)
	res := fe.Do("GET", "account/authenticators/totp", "").Status(404)
	secret, _ := res.Path("meta.secret").(string)
	url, _ := res.Path("meta.totp_url").(string)
	if secret == "" || !strings.HasPrefix(url, "otpauth://totp/") || !strings.Contains(url, "secret="+secret) {
		t.Fatalf("setup: %s", res.Body)
	}
	fe.Do("POST", "account/authenticators/totp", `{"code":"000000"}`).Status(400).Error("code", "incorrect_code")
	code := domain.TOTPCode(secret, time.Now().Add(-30*time.Second), env.Tenant.Settings)
	res = fe.Do("POST", "account/authenticators/totp", `{"code":"`+code+`"}`).Status(200)
	if res.Path("data.type") != "totp" {
		t.Fatalf("activate: %s", res.Body)
	}
	return fe, secret
}

func TestTOTPAndRecoveryCodes(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, with(nil))
			fe, secret := enableTOTP(t, env, client, "amy@example.com")
			res := fe.Do("GET", "account/authenticators", "").Status(200)
			if n := len(res.Path("data").([]any)); n != 2 {
				t.Fatalf("totp and the recovery codes generated with it: %s", res.Body)
			}
			res = fe.Do("GET", "account/authenticators/recovery-codes", "").Status(200)
			codes := res.Path("data.unused_codes").([]any)
			if len(codes) != 10 || len(codes[0].(string)) != 8 || res.Path("data.total_code_count") != float64(10) {
				t.Fatalf("recovery codes: %s", res.Body)
			}
			fe.Do("DELETE", "auth/session", "").Status(401)

			// Logging in now asks for the second factor.
			login := env.Client(client)
			res = login.Do("POST", "auth/login", `{"email":"amy@example.com","password":"`+pw+`"}`).Status(401)
			stage, types := pending(res)
			if stage != "mfa_authenticate" || fmt.Sprint(types) != "[recovery_codes totp]" {
				t.Fatalf("stage: %s", res.Body)
			}
			login.Do("POST", "auth/2fa/authenticate", `{"code":"123"}`).Status(400).Error("code", "incorrect_code")
			code := domain.TOTPCode(secret, time.Now(), env.Tenant.Settings)
			res = login.Do("POST", "auth/2fa/authenticate", `{"code":"`+code+`"}`).Status(200)
			m := res.Path("data.methods").([]any)
			if last := m[len(m)-1].(map[string]any); last["method"] != "mfa" || last["type"] != "totp" {
				t.Fatalf("methods: %s", res.Body)
			}
			// The same code cannot open a second login.
			again := env.Client(client)
			again.Do("POST", "auth/login", `{"email":"amy@example.com","password":"`+pw+`"}`).Status(401)
			again.Do("POST", "auth/2fa/authenticate", `{"code":"`+code+`"}`).Status(400).Error("code", "incorrect_code")
			// A recovery code works once.
			rc := codes[0].(string)
			again.Do("POST", "auth/2fa/authenticate", `{"code":"`+rc+`"}`).Status(200)
			third := env.Client(client)
			third.Do("POST", "auth/login", `{"email":"amy@example.com","password":"`+pw+`"}`).Status(401)
			third.Do("POST", "auth/2fa/authenticate", `{"code":"`+rc+`"}`).Status(400)
			res = again.Do("GET", "account/authenticators/recovery-codes", "").Status(200)
			if res.Path("data.unused_code_count") != float64(9) {
				t.Fatalf("%s", res.Body)
			}
			// Without a pending stage the endpoint answers 401.
			env.Client(client).Do("POST", "auth/2fa/authenticate", `{"code":"`+rc+`"}`).Status(401)
		})
	}
}

func TestMFAReauthentication(t *testing.T) {
	env := apitest.New(t, with(nil))
	fe, secret := enableTOTP(t, env, "app", "bea@example.com")
	env.Accounts.Now = func() time.Time { return time.Now().Add(10 * time.Minute) }
	res := fe.Do("POST", "account/authenticators/recovery-codes", "").Status(401)
	if res.Path("meta.is_authenticated") != true || !strings.Contains(string(res.Body), `"mfa_reauthenticate"`) {
		t.Fatalf("reauthentication required: %s", res.Body)
	}
	code := domain.TOTPCode(secret, time.Now(), env.Tenant.Settings)
	fe.Do("POST", "auth/2fa/reauthenticate", `{"code":"`+code+`"}`).Status(200)
	env.Accounts.Now = func() time.Time { return time.Now().Add(10*time.Minute + time.Second) }
	res = fe.Do("POST", "account/authenticators/recovery-codes", "").Status(200)
	if len(res.Path("data.unused_codes").([]any)) != 10 {
		t.Fatalf("%s", res.Body)
	}
}

func TestUnverifiedEmailCannotAddMFA(t *testing.T) {
	env := apitest.New(t, with(apitest.Settings{"MFA_ALLOW_UNVERIFIED_EMAIL": false}))
	fe := env.Client("app")
	fe.Do("POST", "auth/signup", `{"email":"cal@example.com","password":"`+pw+`"}`).Status(200)
	fe.Do("GET", "account/authenticators/totp", "").Status(409).Error("", "unverified_email")
}

const origin = "http://" + apitest.PlatformHost

func addKey(t *testing.T, fe *apitest.Client, auth *webauthntest.Authenticator, passwordless bool) map[string]any {
	t.Helper()
	path := "account/authenticators/webauthn"
	if passwordless {
		path += "?passwordless"
	}
	res := fe.Do("GET", path, "").Status(200)
	opts, _ := json.Marshal(res.Path("data.creation_options"))
	cred, err := auth.Create(opts, true, passwordless)
	if err != nil {
		t.Fatal(err)
	}
	res = fe.Do("POST", "account/authenticators/webauthn", `{"name":"My key","credential":`+string(cred)+`}`).Status(200)
	return res.JSON
}

func TestWebAuthnSecurityKeyAndPasskeyLogin(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, with(apitest.Settings{"MFA_PASSKEY_LOGIN_ENABLED": true}))
			fe := env.Client(client)
			fe.Do("POST", "auth/signup", `{"email":"dee@example.com","password":"`+pw+`"}`).Status(200)
			auth := webauthntest.New(origin, apitest.PlatformHost)
			added := addKey(t, fe, auth, false)
			if added["meta"].(map[string]any)["recovery_codes_generated"] != true {
				t.Fatalf("add: %v", added)
			}
			id := added["data"].(map[string]any)["id"].(float64)
			res := fe.Do("PUT", "account/authenticators/webauthn", fmt.Sprintf(`{"id":%d,"name":"Yubikey"}`, int64(id))).Status(200)
			if res.Path("data.name") != "Yubikey" {
				t.Fatalf("rename: %s", res.Body)
			}
			fe.Do("DELETE", "auth/session", "").Status(401)

			// Second factor with the security key.
			login := env.Client(client)
			res = login.Do("POST", "auth/login", `{"email":"dee@example.com","password":"`+pw+`"}`).Status(401)
			if stage, types := pending(res); stage != "mfa_authenticate" || !strings.Contains(fmt.Sprint(types), "webauthn") {
				t.Fatalf("%s", res.Body)
			}
			res = login.Do("GET", "auth/webauthn/authenticate", "").Status(200)
			opts, _ := json.Marshal(res.Path("data.request_options"))
			// A wrong origin is refused, and spends the ceremony.
			bad, _ := auth.Get(opts, webauthntest.GetOptions{Origin: "http://evil.test", UserVerified: true})
			login.Do("POST", "auth/webauthn/authenticate", `{"credential":`+string(bad)+`}`).Status(400)
			res = login.Do("GET", "auth/webauthn/authenticate", "").Status(200)
			opts, _ = json.Marshal(res.Path("data.request_options"))
			good, err := auth.Get(opts, webauthntest.GetOptions{UserVerified: true})
			if err != nil {
				t.Fatal(err)
			}
			login.Do("POST", "auth/webauthn/authenticate", `{"credential":`+string(good)+`}`).Status(200)
			// The same assertion replayed in another login fails.
			replay := env.Client(client)
			replay.Do("POST", "auth/login", `{"email":"dee@example.com","password":"`+pw+`"}`).Status(401)
			replay.Do("GET", "auth/webauthn/authenticate", "").Status(200)
			replay.Do("POST", "auth/webauthn/authenticate", `{"credential":`+string(good)+`}`).Status(400)

			// A passkey (on another authenticator: the first one would refuse
			// to register twice) logs in without password and without an MFA stage.
			phone := webauthntest.New(origin, apitest.PlatformHost)
			addKey(t, login, phone, true)
			passkey := env.Client(client)
			res = passkey.Do("GET", "auth/webauthn/login", "").Status(200)
			opts, _ = json.Marshal(res.Path("data.request_options"))
			assertion, err := phone.Get(opts, webauthntest.GetOptions{UserVerified: true, CredentialID: phone.Credentials()[0].ID})
			if err != nil {
				t.Fatal(err)
			}
			res = passkey.Do("POST", "auth/webauthn/login", `{"credential":`+string(assertion)+`}`).Status(200)
			m := res.Path("data.methods").([]any)
			if rec := m[len(m)-1].(map[string]any); rec["method"] != "mfa" || rec["passwordless"] != true {
				t.Fatalf("passkey record: %s", res.Body)
			}
			// Deleting keys works.
			login.Do("DELETE", "account/authenticators/webauthn", fmt.Sprintf(`{"authenticators":[%d]}`, int64(id))).Status(200)
			res = login.Do("GET", "account/authenticators", "").Status(200)
			if strings.Contains(string(res.Body), "Yubikey") {
				t.Fatalf("%s", res.Body)
			}
		})
	}
}

func TestPasskeyOfAnotherTenantRefused(t *testing.T) {
	a := apitest.New(t, with(apitest.Settings{"MFA_PASSKEY_LOGIN_ENABLED": true}))
	b := apitest.New(t, with(apitest.Settings{"MFA_PASSKEY_LOGIN_ENABLED": true}))
	fe := a.Client("app")
	fe.Do("POST", "auth/signup", `{"email":"eve@example.com","password":"`+pw+`"}`).Status(200)
	auth := webauthntest.New(origin, apitest.PlatformHost)
	addKey(t, fe, auth, true)
	other := b.Client("app")
	res := other.Do("GET", "auth/webauthn/login", "").Status(200)
	opts, _ := json.Marshal(res.Path("data.request_options"))
	assertion, err := auth.Get(opts, webauthntest.GetOptions{UserVerified: true, CredentialID: auth.Credentials()[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	other.Do("POST", "auth/webauthn/login", `{"credential":`+string(assertion)+`}`).Status(400)
}

// Browser: login → MFA → trust; the trusted browser then skips MFA until
// the user's authenticators change.
func TestTrustBrowser(t *testing.T) {
	env := apitest.New(t, with(apitest.Settings{"MFA_TRUST_ENABLED": true}))
	fe, secret := enableTOTP(t, env, "browser", "fay@example.com")
	fe.Do("DELETE", "auth/session", "").Status(401)
	fe.Do("POST", "auth/login", `{"email":"fay@example.com","password":"`+pw+`"}`).Status(401)
	code := domain.TOTPCode(secret, time.Now(), env.Tenant.Settings)
	res := fe.Do("POST", "auth/2fa/authenticate", `{"code":"`+code+`"}`).Status(401)
	if stage, _ := pending(res); stage != "mfa_trust" {
		t.Fatalf("%s", res.Body)
	}
	res = fe.Do("POST", "auth/2fa/trust", `{"trust":true}`).Status(200)
	if fe.Cookie("mfa_trusted") == "" {
		t.Fatalf("no trust cookie: %v", res.Header)
	}
	fe.Do("DELETE", "auth/session", "").Status(401)
	fe.Do("POST", "auth/login", `{"email":"fay@example.com","password":"`+pw+`"}`).Status(200) // trusted: no MFA
	// Regenerating recovery codes changes the authenticators: trust ends.
	fe.Do("POST", "account/authenticators/recovery-codes", "").Status(200)
	fe.Do("DELETE", "auth/session", "").Status(401)
	res = fe.Do("POST", "auth/login", `{"email":"fay@example.com","password":"`+pw+`"}`).Status(401)
	if stage, _ := pending(res); stage != "mfa_authenticate" {
		t.Fatalf("trust must end when MFA changes: %s", res.Body)
	}
	// The cookie is bound to this tenant and user: another browser with it
	// for someone else gains nothing.
	other := env.Client("browser")
	other.Do("POST", "auth/signup", `{"email":"gus@example.com","password":"`+pw+`"}`).Status(200)
}

func TestPasskeySignup(t *testing.T) {
	env := apitest.New(t, with(apitest.Settings{
		"MFA_PASSKEY_SIGNUP_ENABLED":                 true,
		"ACCOUNT_EMAIL_VERIFICATION":                 "mandatory",
		"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true,
	}))
	fe := env.Client("app")
	res := fe.Do("POST", "auth/webauthn/signup", `{"email":"hal@example.com"}`).Status(401)
	if stage, _ := pending(res); stage != "verify_email" {
		t.Fatalf("%s", res.Body)
	}
	fe.Do("GET", "auth/webauthn/signup", "").Status(409) // not yet
	msg := env.WaitMail(t, 1)
	var code string
	for _, line := range strings.Split(msg.Text, "\n") {
		if l := strings.TrimSpace(line); len(l) == 9 && l[4] == '-' {
			code = l
		}
	}
	res = fe.Do("POST", "auth/email/verify", `{"key":"`+code+`"}`).Status(401)
	if stage, _ := pending(res); stage != "mfa_signup_webauthn" {
		t.Fatalf("%s", res.Body)
	}
	res = fe.Do("GET", "auth/webauthn/signup", "").Status(200)
	opts, _ := json.Marshal(res.Path("data.creation_options"))
	auth := webauthntest.New(origin, apitest.PlatformHost)
	cred, err := auth.Create(opts, true, true)
	if err != nil {
		t.Fatal(err)
	}
	res = fe.Do("PUT", "auth/webauthn/signup", `{"name":"Phone","credential":`+string(cred)+`}`).Status(200)
	if res.Path("data.user.email") != "hal@example.com" || res.Path("data.user.has_usable_password") != false {
		t.Fatalf("%s", res.Body)
	}
}

// A TOTP seed and recovery codes of one tenant open nothing at another,
// even for a user with the same address there, and even copied into the
// other tenant's database row (the seal is bound to tenant and user): each
// is refused with incorrect_code, never a server error.
func TestTOTPAndRecoveryCodesOfAnotherTenantRefused(t *testing.T) {
	a, b := apitest.New(t, with(nil)), apitest.New(t, with(nil))
	feA, secretA := enableTOTP(t, a, "app", "ivy@example.com")
	codesA := feA.Do("GET", "account/authenticators/recovery-codes", "").Status(200).Path("data.unused_codes").([]any)
	_, secretB := enableTOTP(t, b, "app", "ivy@example.com")
	login := func() *apitest.Client {
		c := b.Client("app")
		c.Do("POST", "auth/login", `{"email":"ivy@example.com","password":"`+pw+`"}`).Status(401)
		return c
	}
	c := login()
	c.Do("POST", "auth/2fa/authenticate", `{"code":"`+domain.TOTPCode(secretA, time.Now(), a.Tenant.Settings)+`"}`).Status(400).Error("code", "incorrect_code")
	c.Do("POST", "auth/2fa/authenticate", `{"code":"`+codesA[0].(string)+`"}`).Status(400).Error("code", "incorrect_code")

	// Transplant A's sealed TOTP seed into B's row.
	ctx := context.Background()
	pool := b.Accounts.Store.Pool()
	if _, err := pool.Exec(ctx, `UPDATE authenticators SET data = (SELECT data FROM authenticators WHERE tenant_id = $1 AND type = 'totp')
		WHERE tenant_id = $2 AND type = 'totp'`, a.Tenant.ID, b.Tenant.ID); err != nil {
		t.Fatal(err)
	}
	c = login()
	c.Do("POST", "auth/2fa/authenticate", `{"code":"`+domain.TOTPCode(secretA, time.Now(), a.Tenant.Settings)+`"}`).Status(400).Error("code", "incorrect_code")
	c.Do("POST", "auth/2fa/authenticate", `{"code":"`+domain.TOTPCode(secretB, time.Now(), b.Tenant.Settings)+`"}`).Status(400).Error("code", "incorrect_code")
	c.Do("GET", "auth/session", "").Status(401)
}
