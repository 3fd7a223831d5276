package account_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
)

// TestCodeAttemptsHoldUnderParallelGuesses replays issue #16 item 8: 30
// wrong codes sent at once for one pending code. Each attempt takes one of
// the process's attempts atomically before the code is compared, so
// exactly MAX_ATTEMPTS (3) wrong codes are compared (400 incorrect_code),
// every other answer is the one allauth gives once the attempts are spent
// (409: the process is gone), and the right code fails afterwards.
func TestCodeAttemptsHoldUnderParallelGuesses(t *testing.T) {
	const guesses = 30
	wrong := func(i int) string { return fmt.Sprintf("WRNG-%04d", i) }
	// check asserts the burst's answers. A busy machine may answer a few
	// 503s (a store timed out): then at most 3 codes may have been
	// compared, and the test goes on with the process spent or not.
	check := func(t *testing.T, what string, got map[string]int) {
		t.Helper()
		compared, gone, unavailable := got["400 incorrect_code"], got["409 "], got["503 unavailable"]
		if compared+gone+unavailable != guesses || compared > 3 || (unavailable == 0 && compared != 3) {
			t.Fatalf("%d parallel wrong %s: %v; want exactly 3 compared (400 incorrect_code) and %d answered 409",
				guesses, what, got, guesses-3)
		}
	}
	// spend sends wrong codes one by one until the process is gone (after
	// a burst with 503s), failing if more than three were compared in all.
	spend := func(t *testing.T, got map[string]int, send func(code string) *apitest.Response) {
		t.Helper()
		compared := got["400 incorrect_code"]
		for i := 0; got["503 unavailable"] > 0; i++ {
			res := send(wrong(100 + i))
			if res.Code == 409 {
				return
			}
			if res.ErrorCode() == "incorrect_code" {
				compared++
			}
			if compared > 3 || i > 10 {
				t.Fatalf("%d codes compared in all (%v in parallel)", compared, got)
			}
		}
	}
	for _, client := range apitest.Clients {
		t.Run(client+"/login by code", func(t *testing.T) {
			env := apitest.New(t, with(noVerification, apitest.Settings{"ACCOUNT_LOGIN_BY_CODE_ENABLED": true, "ACCOUNT_RATE_LIMITS": false}))
			loggedIn(t, env, "app", "lia@example.com")
			fe := env.Client(client)
			fe.Do("POST", "auth/code/request", `{"email":"lia@example.com"}`).Status(401)
			code := codeLine.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
			send := func(code string) *apitest.Response {
				return fe.Clone().Do("POST", "auth/code/confirm", `{"code":"`+code+`"}`)
			}
			got := apitest.Burst(fe, guesses, func(c *apitest.Client, i int) *apitest.Response {
				return c.Do("POST", "auth/code/confirm", `{"code":"`+wrong(i)+`"}`)
			})
			check(t, "login codes", got)
			spend(t, got, send)
			send(code).Status(409)
			var rows int
			if err := env.Accounts.Store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM audit_events
				WHERE tenant_id = $1 AND action = 'user.login.failed' AND details->>'method' = 'code'`, env.Tenant.ID).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if rows > 3 || (got["503 unavailable"] == 0 && rows != 3) {
				t.Fatalf("%d failed-code audit rows, want one per compared code (3)", rows)
			}
		})
		t.Run(client+"/password reset by code", func(t *testing.T) {
			env := apitest.New(t, with(noVerification, apitest.Settings{"ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED": true, "ACCOUNT_RATE_LIMITS": false}))
			loggedIn(t, env, "app", "max@example.com")
			fe := env.Client(client)
			fe.Do("POST", "auth/password/request", `{"email":"max@example.com"}`).Status(401)
			code := codeLine.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
			send := func(code string) *apitest.Response {
				return fe.Clone().Do("POST", "auth/password/reset", `{"key":"`+code+`","password":"brand new horse"}`)
			}
			got := apitest.Burst(fe, guesses, func(c *apitest.Client, i int) *apitest.Response {
				if i%2 == 0 {
					return c.Do("GET", "auth/password/reset", "", "X-Password-Reset-Key", wrong(i))
				}
				return c.Do("POST", "auth/password/reset", `{"key":"`+wrong(i)+`","password":"brand new horse"}`)
			})
			check(t, "reset codes", got)
			spend(t, got, send)
			send(code).Status(409)
			env.Client("app").Do("POST", "auth/login", `{"email":"max@example.com","password":"`+pw+`"}`).Status(200)
		})
		t.Run(client+"/email verification by code", func(t *testing.T) {
			env := apitest.New(t, with(emailOnly, apitest.Settings{
				"ACCOUNT_EMAIL_VERIFICATION":                 "mandatory",
				"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true,
				"ACCOUNT_RATE_LIMITS":                        false,
			}))
			fe := env.Client(client)
			fe.Do("POST", "auth/signup", `{"email":"ned@example.com","password":"`+pw+`"}`).Status(401)
			code := codeLine.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
			send := func(code string) *apitest.Response {
				return fe.Clone().Do("POST", "auth/email/verify", `{"key":"`+code+`"}`)
			}
			got := apitest.Burst(fe, guesses, func(c *apitest.Client, i int) *apitest.Response {
				if i%2 == 0 {
					return c.Do("GET", "auth/email/verify", "", "X-Email-Verification-Key", wrong(i))
				}
				return c.Do("POST", "auth/email/verify", `{"key":"`+wrong(i)+`"}`)
			})
			check(t, "verification codes", got)
			spend(t, got, send)
			send(code).Status(409)
		})
	}
}

// TestResendKeepsAttempts: as in allauth (the process's failed_attempts
// survive generate_code), a resent code does not bring fresh attempts:
// otherwise every resend would buy MAX_ATTEMPTS more guesses.
func TestResendKeepsAttempts(t *testing.T) {
	t.Run("login by code", func(t *testing.T) {
		env := apitest.New(t, with(noVerification, apitest.Settings{"ACCOUNT_LOGIN_BY_CODE_ENABLED": true,
			"ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND": true, "ACCOUNT_RATE_LIMITS": false}))
		loggedIn(t, env, "app", "ora@example.com")
		fe := env.Client("app")
		fe.Do("POST", "auth/code/request", `{"email":"ora@example.com"}`).Status(401)
		env.WaitMail(t, 1)
		fe.Do("POST", "auth/code/confirm", `{"code":"WRNG-0001"}`).Status(400).Error("code", "incorrect_code")
		fe.Do("POST", "auth/code/confirm", `{"code":"WRNG-0002"}`).Status(400).Error("code", "incorrect_code")
		fe.Do("POST", "auth/code/resend", "").Status(200)
		code := codeLine.FindStringSubmatch(env.WaitMail(t, 2).Text)[1]
		fe.Do("POST", "auth/code/confirm", `{"code":"WRNG-0003"}`).Status(400).Error("code", "incorrect_code")
		fe.Do("POST", "auth/code/confirm", `{"code":"`+code+`"}`).Status(409) // three attempts in all
	})
	t.Run("email verification by code", func(t *testing.T) {
		env := apitest.New(t, with(emailOnly, apitest.Settings{
			"ACCOUNT_EMAIL_VERIFICATION":                 "mandatory",
			"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true,
			"ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_RESEND": true,
			"ACCOUNT_RATE_LIMITS":                        false,
		}))
		fe := env.Client("app")
		fe.Do("POST", "auth/signup", `{"email":"pia@example.com","password":"`+pw+`"}`).Status(401)
		env.WaitMail(t, 1)
		fe.Do("POST", "auth/email/verify", `{"key":"WRNG-0001"}`).Status(400).Error("key", "incorrect_code")
		fe.Do("POST", "auth/email/verify", `{"key":"WRNG-0002"}`).Status(400).Error("key", "incorrect_code")
		fe.Do("POST", "auth/email/verify/resend", "").Status(200)
		code := codeLine.FindStringSubmatch(env.WaitMail(t, 2).Text)[1]
		fe.Do("POST", "auth/email/verify", `{"key":"WRNG-0003"}`).Status(400).Error("key", "incorrect_code")
		fe.Do("POST", "auth/email/verify", `{"key":"`+code+`"}`).Status(409)
	})
}

// allowance asserts that a burst of n requests got exactly allowed 200s
// (at most, when a busy machine answered some 503s) and that the tenant
// queued want mails in all (at most, likewise).
func allowance(t *testing.T, env *apitest.Env, what string, n int, got map[string]int, allowed, want int) {
	t.Helper()
	ok, unavailable := got["200 "], got["503 unavailable"]
	if ok+got["409 "]+unavailable != n || ok > allowed || (unavailable == 0 && ok != allowed) {
		t.Fatalf("%d parallel %s: %v; want exactly %d", n, what, got, allowed)
	}
	var m int
	if err := env.Accounts.Store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM outbox WHERE tenant_id = $1`,
		env.Tenant.ID).Scan(&m); err != nil {
		t.Fatal(err)
	}
	if m > want || (unavailable == 0 && m != want) {
		t.Fatalf("%d mails queued, want %d", m, want)
	}
}

// TestResendsAndChangesHoldUnderParallelRequests: the resend and change
// allowances (ACCOUNT_*_SUPPORTS_RESEND / _CHANGE) are counters of the same
// kind: 20 parallel resends or changes get exactly the allowance, and send
// exactly that many mails.
func TestResendsAndChangesHoldUnderParallelRequests(t *testing.T) {
	const n = 20
	t.Run("login code resends", func(t *testing.T) {
		env := apitest.New(t, with(noVerification, apitest.Settings{"ACCOUNT_LOGIN_BY_CODE_ENABLED": true,
			"ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND": 2, "ACCOUNT_RATE_LIMITS": false}))
		loggedIn(t, env, "app", "quy@example.com")
		fe := env.Client("app")
		fe.Do("POST", "auth/code/request", `{"email":"quy@example.com"}`).Status(401)
		env.WaitMail(t, 1)
		got := apitest.Burst(fe, n, func(c *apitest.Client, _ int) *apitest.Response { return c.Do("POST", "auth/code/resend", "") })
		allowance(t, env, "resends", n, got, 2, 3)
	})
	t.Run("verification code resends", func(t *testing.T) {
		env := apitest.New(t, with(emailOnly, apitest.Settings{
			"ACCOUNT_EMAIL_VERIFICATION":                 "mandatory",
			"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true,
			"ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_RESEND": 2,
			"ACCOUNT_RATE_LIMITS":                        false,
		}))
		fe := env.Client("app")
		fe.Do("POST", "auth/signup", `{"email":"rex@example.com","password":"`+pw+`"}`).Status(401)
		env.WaitMail(t, 1)
		got := apitest.Burst(fe, n, func(c *apitest.Client, _ int) *apitest.Response { return c.Do("POST", "auth/email/verify/resend", "") })
		allowance(t, env, "resends", n, got, 2, 3)
	})
	t.Run("address changes during verification", func(t *testing.T) {
		env := apitest.New(t, with(emailOnly, apitest.Settings{
			"ACCOUNT_EMAIL_VERIFICATION":                 "mandatory",
			"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true,
			"ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_CHANGE": 1,
			"ACCOUNT_RATE_LIMITS":                        false,
		}))
		fe := env.Client("app")
		fe.Do("POST", "auth/signup", `{"email":"sam@example.com","password":"`+pw+`"}`).Status(401)
		env.WaitMail(t, 1)
		got := apitest.Burst(fe, n, func(c *apitest.Client, i int) *apitest.Response {
			return c.Do("POST", "account/email", fmt.Sprintf(`{"email":"sam%d@example.com"}`, i))
		})
		allowance(t, env, "address changes", n, got, 1, 2)
	})
}
