package mfa_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/audit"
	domain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/mfa/webauthntest"
	"github.com/hallpass/hallpass/internal/testenv"
)

// limited is base with allauth's default rate limits (login_failed is
// "10/m/ip,5/300s/key"; the second factor counts against the key
// "mfa-auth-user-<id>").
func limited(extra apitest.Settings) apitest.Settings {
	s := with(extra)
	if _, ok := extra["ACCOUNT_RATE_LIMITS"]; !ok {
		delete(s, "ACCOUNT_RATE_LIMITS")
	}
	return s
}

// mfaFailures returns the tenant's user.mfa.failed audit events.
func mfaFailures(t *testing.T, env *apitest.Env) []audit.Event {
	t.Helper()
	events, err := audit.List(context.Background(), testenv.Pool(t), env.Tenant.ID, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []audit.Event
	for _, e := range events {
		if e.Action == "user.mfa.failed" {
			out = append(out, e)
		}
	}
	return out
}

// TestSecondFactorGuessingLimited replays the attack of issue #16 item 3:
// after the right password, a burst of wrong TOTP or recovery codes. As
// allauth, each try consumes login_failed for the key
// "mfa-auth-user-<id>" before the code is checked, so exactly five wrong
// codes are checked (5/300s/key), every other try answers
// too_many_login_attempts, and then even the right code is refused. The
// burst leaves two audit rows (its first wrong code, and the limit
// tripping), not one per guess.
func TestSecondFactorGuessingLimited(t *testing.T) {
	const guesses = 40
	cases := []struct {
		name     string
		path     string
		recovery bool
	}{
		{"TOTP at sign-in", "auth/2fa/authenticate", false},
		{"recovery code at sign-in", "auth/2fa/authenticate", true},
		{"TOTP at reauthentication", "auth/2fa/reauthenticate", false},
		{"recovery code at reauthentication", "auth/2fa/reauthenticate", true},
	}
	for _, client := range apitest.Clients {
		for _, tc := range cases {
			t.Run(client+"/"+tc.name, func(t *testing.T) {
				env := apitest.New(t, limited(nil))
				fe, secret := enableTOTP(t, env, client, "guess@example.com")
				res := fe.Do("GET", "account/authenticators/recovery-codes", "").Status(200)
				var rcs []string
				for _, c := range res.Path("data.unused_codes").([]any) {
					rcs = append(rcs, c.(string))
				}
				attacker := fe
				if tc.path == "auth/2fa/authenticate" {
					fe.Do("DELETE", "auth/session", "").Status(401)
					attacker = env.Client(client)
					res = attacker.Do("POST", "auth/login", `{"email":"guess@example.com","password":"`+pw+`"}`).Status(401)
					if stage, _ := pending(res); stage != "mfa_authenticate" {
						t.Fatalf("stage: %s", res.Body)
					}
				}
				now := time.Now()
				valid := []string{
					domain.TOTPCode(secret, now.Add(-30*time.Second), env.Tenant.Settings),
					domain.TOTPCode(secret, now, env.Tenant.Settings),
					domain.TOTPCode(secret, now.Add(30*time.Second), env.Tenant.Settings),
					domain.TOTPCode(secret, now.Add(60*time.Second), env.Tenant.Settings),
				}
				got := apitest.Burst(attacker, guesses, func(c *apitest.Client, i int) *apitest.Response {
					code := fmt.Sprintf("%06d", 100000+i*7919)
					if tc.recovery {
						code = fmt.Sprintf("%08d", 10000000+i*7919)
					}
					if slices.Contains(valid, code) || slices.Contains(rcs, code) {
						code = "nope"
					}
					return c.Do("POST", tc.path, `{"code":"`+code+`"}`)
				})
				checked, refused, unavailable := got["400 incorrect_code"], got["400 too_many_login_attempts"], got["503 unavailable"]
				if checked+refused+unavailable != guesses || checked > 5 || (unavailable == 0 && checked != 5) {
					t.Fatalf("%d parallel wrong codes: %v; want 5 checked (400 incorrect_code), %d refused (400 too_many_login_attempts)",
						guesses, got, guesses-5)
				}
				// A busy machine may answer a few 503s (a store timed out);
				// the guesses they stood for are sent again, one by one,
				// until the limit answers.
				for tries := 0; unavailable > 0; tries++ {
					res := attacker.Do("POST", tc.path, `{"code":"nope"}`)
					if res.ErrorCode() == "too_many_login_attempts" {
						break
					}
					if res.ErrorCode() == "incorrect_code" {
						checked++
					}
					if checked > 5 || tries > 10 {
						t.Fatalf("%d wrong codes checked in all (%v in parallel)", checked, got)
					}
				}
				right := domain.TOTPCode(secret, time.Now(), env.Tenant.Settings)
				if tc.recovery {
					right = rcs[0]
				}
				attacker.Do("POST", tc.path, `{"code":"`+right+`"}`).Status(400).Error("code", "too_many_login_attempts")
				if rows := mfaFailures(t, env); len(rows) != 2 && (unavailable == 0 || len(rows) > 2) {
					t.Fatalf("%d user.mfa.failed audit rows for one burst, want 2 (the first wrong code, the limit tripping): %v", len(rows), rows)
				}
			})
		}
	}
}

// TestSecondFactorLimitWindow shows the rest of allauth's rule: a right
// code clears the user's count, and once the window has passed the right
// code works again.
func TestSecondFactorLimitWindow(t *testing.T) {
	env := apitest.New(t, limited(apitest.Settings{"ACCOUNT_RATE_LIMITS": map[string]any{"login_failed": "3/2s/key"}}))
	fe, secret := enableTOTP(t, env, "app", "win@example.com")
	fe.Do("DELETE", "auth/session", "").Status(401)
	login := env.Client("app")
	login.Do("POST", "auth/login", `{"email":"win@example.com","password":"`+pw+`"}`).Status(401)
	for i := 0; i < 3; i++ {
		login.Do("POST", "auth/2fa/authenticate", `{"code":"99999`+fmt.Sprint(i)+`"}`).Status(400).Error("code", "incorrect_code")
	}
	code := domain.TOTPCode(secret, time.Now(), env.Tenant.Settings)
	login.Do("POST", "auth/2fa/authenticate", `{"code":"`+code+`"}`).Status(400).Error("code", "too_many_login_attempts")
	deadline := time.Now().Add(30 * time.Second)
	for {
		code = domain.TOTPCode(secret, time.Now(), env.Tenant.Settings)
		res := login.Do("POST", "auth/2fa/authenticate", `{"code":"`+code+`"}`)
		if res.Code == 200 {
			break
		}
		res.Status(400).Error("code", "too_many_login_attempts")
		if time.Now().After(deadline) {
			t.Fatal("the right code is still refused 30 s after a 2 s window")
		}
		time.Sleep(250 * time.Millisecond)
	}
	// The success cleared the count: the next sign-in has all its tries.
	fe = env.Client("app")
	fe.Do("POST", "auth/login", `{"email":"win@example.com","password":"`+pw+`"}`).Status(401)
	for i := 0; i < 3; i++ {
		fe.Do("POST", "auth/2fa/authenticate", `{"code":"88888`+fmt.Sprint(i)+`"}`).Status(400).Error("code", "incorrect_code")
	}
}

// TestWebAuthnSharesSecondFactorLimit: a security key answers to the same
// per-user count as codes (allauth's AuthenticateWebAuthnForm calls the
// same check_rate_limit), with the error on "credential".
func TestWebAuthnSharesSecondFactorLimit(t *testing.T) {
	env := apitest.New(t, limited(nil))
	fe := env.Client("app")
	fe.Do("POST", "auth/signup", `{"email":"key@example.com","password":"`+pw+`"}`).Status(200)
	auth := webauthntest.New(origin, apitest.PlatformHost)
	addKey(t, fe, auth, false)
	fe.Do("DELETE", "auth/session", "").Status(401)
	login := env.Client("app")
	login.Do("POST", "auth/login", `{"email":"key@example.com","password":"`+pw+`"}`).Status(401)
	got := apitest.Burst(login, 20, func(c *apitest.Client, i int) *apitest.Response {
		return c.Do("POST", "auth/2fa/authenticate", `{"code":"`+fmt.Sprintf("%08d", i)+`"}`)
	})
	if got["400 incorrect_code"] != 5 || got["400 too_many_login_attempts"] != 15 {
		if got["400 incorrect_code"] > 5 || got["503 unavailable"] == 0 {
			t.Fatalf("20 parallel wrong codes: %v", got)
		}
		// A busy machine answered some 503s: spend the rest one by one.
		for i := 0; i < 5; i++ {
			if login.Do("POST", "auth/2fa/authenticate", `{"code":"nope"}`).ErrorCode() == "too_many_login_attempts" {
				break
			}
		}
	}
	res := login.Do("GET", "auth/webauthn/authenticate", "").Status(200)
	opts, _ := json.Marshal(res.Path("data.request_options"))
	good, err := auth.Get(opts, webauthntest.GetOptions{UserVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	login.Do("POST", "auth/webauthn/authenticate", `{"credential":`+string(good)+`}`).Status(400).Error("credential", "too_many_login_attempts")
}
