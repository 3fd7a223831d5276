package account_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
)

// errorCode is the first error code of a response ("" when none).
func errorCode(r *apitest.Response) string {
	errs, _ := r.JSON["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	code, _ := errs[0].(map[string]any)["code"].(string)
	return code
}

// burst sends n requests of one session in parallel and counts the answers
// by status and error code ("400 incorrect_code", "409 ").
func burst(fe *apitest.Client, n int, req func(c *apitest.Client, i int) *apitest.Response) map[string]int {
	out := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	clients := make([]*apitest.Client, n)
	for i := range clients {
		clients[i] = fe.Clone()
	}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			r := req(clients[i], i)
			mu.Lock()
			out[fmt.Sprintf("%d %s", r.Code, errorCode(r))]++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	return out
}

// TestCodeAttemptsHoldUnderParallelGuesses replays issue #16 item 8: 30
// wrong codes sent at once for one pending code. Each attempt takes one of
// the process's attempts atomically before the code is compared, so
// exactly MAX_ATTEMPTS (3) wrong codes are compared (400 incorrect_code),
// every other answer is the one allauth gives once the attempts are spent
// (409: the process is gone), and the right code fails afterwards.
func TestCodeAttemptsHoldUnderParallelGuesses(t *testing.T) {
	const guesses = 30
	wrong := func(i int) string { return fmt.Sprintf("WRNG-%04d", i) }
	check := func(t *testing.T, what string, got map[string]int) {
		t.Helper()
		if got["400 incorrect_code"] != 3 || got["409 "] != guesses-3 {
			t.Fatalf("%d parallel wrong %s: %v; want exactly 3 compared (400 incorrect_code) and %d answered 409",
				guesses, what, got, guesses-3)
		}
	}
	for _, client := range apitest.Clients {
		t.Run(client+"/login by code", func(t *testing.T) {
			env := apitest.New(t, with(noVerification, apitest.Settings{"ACCOUNT_LOGIN_BY_CODE_ENABLED": true, "ACCOUNT_RATE_LIMITS": false}))
			loggedIn(t, env, "app", "lia@example.com")
			fe := env.Client(client)
			fe.Do("POST", "auth/code/request", `{"email":"lia@example.com"}`).Status(401)
			code := codeLine.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
			check(t, "login codes", burst(fe, guesses, func(c *apitest.Client, i int) *apitest.Response {
				return c.Do("POST", "auth/code/confirm", `{"code":"`+wrong(i)+`"}`)
			}))
			fe.Clone().Do("POST", "auth/code/confirm", `{"code":"`+code+`"}`).Status(409)
			var rows int
			if err := env.Accounts.Store.Pool().QueryRow(context.Background(), `SELECT count(*) FROM audit_events
				WHERE tenant_id = $1 AND action = 'user.login.failed' AND details->>'method' = 'code'`, env.Tenant.ID).Scan(&rows); err != nil {
				t.Fatal(err)
			}
			if rows != 3 {
				t.Fatalf("%d failed-code audit rows, want one per compared code (3)", rows)
			}
		})
		t.Run(client+"/password reset by code", func(t *testing.T) {
			env := apitest.New(t, with(noVerification, apitest.Settings{"ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED": true, "ACCOUNT_RATE_LIMITS": false}))
			loggedIn(t, env, "app", "max@example.com")
			fe := env.Client(client)
			fe.Do("POST", "auth/password/request", `{"email":"max@example.com"}`).Status(401)
			code := codeLine.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
			check(t, "reset codes", burst(fe, guesses, func(c *apitest.Client, i int) *apitest.Response {
				if i%2 == 0 {
					return c.Do("GET", "auth/password/reset", "", "X-Password-Reset-Key", wrong(i))
				}
				return c.Do("POST", "auth/password/reset", `{"key":"`+wrong(i)+`","password":"brand new horse"}`)
			}))
			fe.Clone().Do("POST", "auth/password/reset", `{"key":"`+code+`","password":"brand new horse"}`).Status(409)
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
			check(t, "verification codes", burst(fe, guesses, func(c *apitest.Client, i int) *apitest.Response {
				if i%2 == 0 {
					return c.Do("GET", "auth/email/verify", "", "X-Email-Verification-Key", wrong(i))
				}
				return c.Do("POST", "auth/email/verify", `{"key":"`+wrong(i)+`"}`)
			}))
			fe.Clone().Do("POST", "auth/email/verify", `{"key":"`+code+`"}`).Status(409)
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
		got := burst(fe, n, func(c *apitest.Client, _ int) *apitest.Response { return c.Do("POST", "auth/code/resend", "") })
		if got["200 "] != 2 || got["409 "] != n-2 {
			t.Fatalf("%d parallel resends: %v; want exactly 2", n, got)
		}
		env.WaitMail(t, 3)
		if m := len(env.Mails()); m != 3 {
			t.Fatalf("%d mails, want 3", m)
		}
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
		got := burst(fe, n, func(c *apitest.Client, _ int) *apitest.Response { return c.Do("POST", "auth/email/verify/resend", "") })
		if got["200 "] != 2 || got["409 "] != n-2 {
			t.Fatalf("%d parallel resends: %v; want exactly 2", n, got)
		}
		env.WaitMail(t, 3)
		if m := len(env.Mails()); m != 3 {
			t.Fatalf("%d mails, want 3", m)
		}
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
		got := burst(fe, n, func(c *apitest.Client, i int) *apitest.Response {
			return c.Do("POST", "account/email", fmt.Sprintf(`{"email":"sam%d@example.com"}`, i))
		})
		if got["200 "] != 1 || got["409 "] != n-1 {
			t.Fatalf("%d parallel address changes: %v; want exactly 1", n, got)
		}
		env.WaitMail(t, 2)
		if m := len(env.Mails()); m != 2 {
			t.Fatalf("%d mails, want 2", m)
		}
	})
}
