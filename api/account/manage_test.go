package account_test

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/testenv"
)

const pw = "correct horse battery"

// loggedIn signs up a user (no verification) and returns the logged-in client.
func loggedIn(t *testing.T, env *apitest.Env, client, email string) *apitest.Client {
	t.Helper()
	fe := env.Client(client)
	fe.Do("POST", "auth/signup", `{"email":"`+email+`","password":"`+pw+`"}`).Status(200)
	return fe
}

var noVerification = with(emailOnly, apitest.Settings{"ACCOUNT_EMAIL_VERIFICATION": "none"})

func TestReauthentication(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, with(noVerification, apitest.Settings{
				"ACCOUNT_REAUTHENTICATION_REQUIRED": true,
				"ACCOUNT_REAUTHENTICATION_TIMEOUT":  300,
			}))
			fe := loggedIn(t, env, client, "ann@example.com")
			env.Client(client).Do("POST", "auth/reauthenticate", `{"password":"x"}`).Status(401) // anonymous
			fe.Do("POST", "account/email", `{"email":"ann2@example.com"}`).Status(200)           // recent: allowed
			env.Accounts.Now = func() time.Time { return time.Now().Add(301 * time.Second) }
			res := fe.Do("POST", "account/email", `{"email":"ann3@example.com"}`).Status(401)
			if res.Path("meta.is_authenticated") != true || res.Path("data.user.email") != "ann@example.com" {
				t.Fatalf("reauthentication required: %s", res.Body)
			}
			if ids, _ := flowIDs(res); len(ids) == 0 || ids[0] != "reauthenticate" {
				t.Fatalf("flows: %s", res.Body)
			}
			fe.Do("POST", "auth/reauthenticate", `{"password":"wrong"}`).Status(400).Error("password", "incorrect_password")
			res = fe.Do("POST", "auth/reauthenticate", `{"password":"`+pw+`"}`).Status(200)
			methods := res.Path("data.methods").([]any)
			if last := methods[len(methods)-1].(map[string]any); last["reauthenticated"] != true {
				t.Fatalf("methods: %s", res.Body)
			}
			fe.Do("POST", "account/email", `{"email":"ann3@example.com"}`).Status(200)
		})
	}
}

func TestChangePassword(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, with(noVerification, apitest.Settings{
				"ACCOUNT_EMAIL_NOTIFICATIONS": true,
				// allauth's 5/m/user would refuse this test's sixth change.
				"ACCOUNT_RATE_LIMITS": map[string]any{"change_password": "10/m/user"},
			}))
			fe := loggedIn(t, env, client, "ben@example.com")
			other := env.Client(client)
			other.Do("POST", "auth/login", `{"email":"ben@example.com","password":"`+pw+`"}`).Status(200)
			for _, tc := range []struct{ body, param, code string }{
				{`{"new_password":"brand new horse"}`, "current_password", "required"},
				{`{"current_password":"wrong","new_password":"brand new horse"}`, "current_password", "enter_current_password"},
				{`{"current_password":"` + pw + `","new_password":"abc"}`, "new_password", "password_too_short"},
				{`{"current_password":"` + pw + `","new_password":"` + pw + `"}`, "new_password", "same_as_current"},
				{`{"current_password":"` + pw + `"}`, "new_password", "required"},
			} {
				fe.Do("POST", "account/password/change", tc.body).Status(400).Error(tc.param, tc.code)
			}
			fe.Do("POST", "account/password/change", `{"current_password":"`+pw+`","new_password":"brand new horse"}`).Status(200)
			// Other sessions of the user end; this one stays.
			want := 401
			if client == "app" {
				want = 410
			}
			other.Do("GET", "auth/session", "").Status(want)
			fe.Do("GET", "auth/session", "").Status(200)
			// Notices: the second session's sign-in, then the password change.
			env.WaitMail(t, 2)
			subjects := env.Mails()[0].Subject + " | " + env.Mails()[1].Subject
			if !strings.Contains(subjects, "New Sign-In") || !strings.Contains(subjects, "Password Changed") {
				t.Fatalf("notices: %s", subjects)
			}
			env.Client(client).Do("POST", "auth/login", `{"email":"ben@example.com","password":"brand new horse"}`).Status(200)
		})
	}
	t.Run("logout on change", func(t *testing.T) {
		env := apitest.New(t, with(noVerification, apitest.Settings{"ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE": true}))
		fe := loggedIn(t, env, "app", "bea@example.com")
		fe.Do("POST", "account/password/change", `{"current_password":"`+pw+`","new_password":"brand new horse"}`).Status(401)
		fe.Do("GET", "auth/session", "").Status(410)
	})
	t.Run("set a password without one", func(t *testing.T) {
		env := apitest.New(t, with(noVerification, apitest.Settings{"ACCOUNT_SIGNUP_FIELDS": []string{"email*"}}))
		fe := env.Client("app")
		res := fe.Do("POST", "auth/signup", `{"email":"bo@example.com"}`).Status(200)
		if res.Path("data.user.has_usable_password") != false {
			t.Fatalf("%s", res.Body)
		}
		res = fe.Do("POST", "account/password/change", `{"new_password":"brand new horse"}`).Status(200)
		if res.Path("data.user.has_usable_password") != true {
			t.Fatalf("%s", res.Body)
		}
	})
}

var resetLink = regexp.MustCompile(`https://app\.example\.com/reset/(\S+)`)

func TestPasswordResetByLink(t *testing.T) {
	for _, loginOnReset := range []bool{false, true} {
		t.Run(fmt.Sprintf("login_on_reset=%v", loginOnReset), func(t *testing.T) {
			env := apitest.New(t, with(noVerification, apitest.Settings{
				"ACCOUNT_LOGIN_ON_PASSWORD_RESET": loginOnReset,
				"ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS":  true,
				"HEADLESS_FRONTEND_URLS": map[string]string{
					"account_reset_password_from_key": "https://app.example.com/reset/{key}",
					"account_signup":                  "https://app.example.com/signup",
				},
			}))
			loggedIn(t, env, "app", "cal@example.com")
			fe := env.Client("browser")
			fe.Do("POST", "auth/password/request", `{"email":"CAL@example.com"}`).Status(200)
			key := resetLink.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
			// An unknown address: the same answer; the address gets an unknown-account mail.
			fe.Do("POST", "auth/password/request", `{"email":"nobody@example.com"}`).Status(200)
			if msg := env.WaitMail(t, 2); msg.To[0] != "nobody@example.com" || !strings.Contains(msg.Text, "https://app.example.com/signup") {
				t.Fatalf("unknown account mail: %q", msg.Text)
			}
			fe.Do("GET", "auth/password/reset", "", "X-Password-Reset-Key", "1-abc-00").Status(400).Error("key", "invalid_password_reset")
			res := fe.Do("GET", "auth/password/reset", "", "X-Password-Reset-Key", key).Status(200)
			if res.Path("data.user.email") != "cal@example.com" {
				t.Fatalf("%s", res.Body)
			}
			fe.Do("POST", "auth/password/reset", `{"key":"`+key+`","password":"abc"}`).Status(400).Error("password", "password_too_short")
			res = fe.Do("POST", "auth/password/reset", `{"key":"`+key+`","password":"brand new horse"}`)
			if loginOnReset {
				res.Status(200)
				if m := res.Path("data.methods").([]any); m[len(m)-1].(map[string]any)["method"] != "password_reset" {
					t.Fatalf("%s", res.Body)
				}
			} else {
				res.Status(401)
			}
			// The key is spent with the old password.
			env.Client("app").Do("POST", "auth/password/reset", `{"key":"`+key+`","password":"another new horse"}`).Status(400).Error("key", "invalid_password_reset")
			env.Client("app").Do("POST", "auth/login", `{"email":"cal@example.com","password":"brand new horse"}`).Status(200)
		})
	}
	t.Run("enumeration prevention off", func(t *testing.T) {
		env := apitest.New(t, with(noVerification, apitest.Settings{"ACCOUNT_PREVENT_ENUMERATION": false}))
		env.Client("app").Do("POST", "auth/password/request", `{"email":"nobody@example.com"}`).Status(400).Error("email", "unknown_email")
	})
	t.Run("a key used twice in parallel", func(t *testing.T) {
		env := apitest.New(t, with(noVerification, apitest.Settings{
			"HEADLESS_FRONTEND_URLS": map[string]string{"account_reset_password_from_key": "https://app.example.com/reset/{key}"},
		}))
		loggedIn(t, env, "app", "cid@example.com")
		env.Client("app").Do("POST", "auth/password/request", `{"email":"cid@example.com"}`).Status(200)
		key := resetLink.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
		codes := parallel(4, func(i int) int {
			return env.Client("app").Do("POST", "auth/password/reset", fmt.Sprintf(`{"key":"%s","password":"new horse number %d"}`, key, i)).Code
		})
		if count(codes, 401) != 1 || count(codes, 400) != 3 {
			t.Fatalf("statuses %v: want one success", codes)
		}
	})
}

func parallel(n int, f func(i int) int) []int {
	out := make([]int, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) { defer wg.Done(); out[i] = f(i) }(i)
	}
	wg.Wait()
	return out
}

func count(xs []int, v int) int {
	n := 0
	for _, x := range xs {
		if x == v {
			n++
		}
	}
	return n
}

func TestPasswordResetByCode(t *testing.T) {
	env := apitest.New(t, with(noVerification, apitest.Settings{
		"ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED":      true,
		"ACCOUNT_PASSWORD_RESET_BY_CODE_MAX_ATTEMPTS": 3,
	}))
	loggedIn(t, env, "app", "dan@example.com")
	fe := env.Client("app")
	fe.Do("GET", "auth/password/reset", "", "X-Password-Reset-Key", "AAAA-BBBB").Status(409)
	res := fe.Do("POST", "auth/password/request", `{"email":"dan@example.com"}`).Status(401)
	if !strings.Contains(string(res.Body), `{"id":"password_reset_by_code","is_pending":true}`) {
		t.Fatalf("%s", res.Body)
	}
	code := codeLine.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
	fe.Do("GET", "auth/password/reset", "", "X-Password-Reset-Key", "ZZZZ-ZZZZ").Status(400).Error("key", "incorrect_code")
	res = fe.Do("GET", "auth/password/reset", "", "X-Password-Reset-Key", code).Status(200)
	if res.Path("data.user.email") != "dan@example.com" {
		t.Fatalf("%s", res.Body)
	}
	fe.Do("POST", "auth/password/reset", `{"key":"`+code+`","password":"brand new horse"}`).Status(401)
	fe.Do("POST", "auth/password/reset", `{"key":"`+code+`","password":"brand new horse"}`).Status(409)
	env.Client("app").Do("POST", "auth/login", `{"email":"dan@example.com","password":"brand new horse"}`).Status(200)
}

func TestLoginByCode(t *testing.T) {
	settings := with(noVerification, apitest.Settings{
		"ACCOUNT_LOGIN_BY_CODE_ENABLED":         true,
		"ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS":    2,
		"ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND": true,
	})
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, settings)
			loggedIn(t, env, "app", "eva@example.com")
			fe := env.Client(client)
			fe.Do("POST", "auth/code/confirm", `{"code":"AAAA-BBBB"}`).Status(409)
			res := fe.Do("POST", "auth/code/request", `{"email":"eva@example.com"}`).Status(401)
			if _, pending := flowIDs(res); pending != "login_by_code" {
				t.Fatalf("%s", res.Body)
			}
			env.WaitMail(t, 1)
			fe.Do("POST", "auth/code/resend", "").Status(200)
			code := codeLine.FindStringSubmatch(env.WaitMail(t, 2).Text)[1]
			fe.Do("POST", "auth/code/confirm", `{"code":"ZZZZ-ZZZZ"}`).Status(400).Error("code", "incorrect_code")
			res = fe.Do("POST", "auth/code/confirm", `{"code":"`+code+`"}`).Status(200)
			m := res.Path("data.methods").([]any)
			if rec := m[len(m)-1].(map[string]any); rec["method"] != "code" || rec["email"] != "eva@example.com" {
				t.Fatalf("%s", res.Body)
			}
		})
	}
	t.Run("unknown address looks the same", func(t *testing.T) {
		env := apitest.New(t, settings)
		fe := env.Client("app")
		res := fe.Do("POST", "auth/code/request", `{"email":"ghost@example.com"}`).Status(401)
		if _, pending := flowIDs(res); pending != "login_by_code" {
			t.Fatalf("%s", res.Body)
		}
		fe.Do("POST", "auth/code/confirm", `{"code":"AAAA-BBBB"}`).Status(400).Error("code", "incorrect_code")
		fe.Do("POST", "auth/code/confirm", `{"code":"AAAA-BBBB"}`).Status(400)
		fe.Do("POST", "auth/code/confirm", `{"code":"AAAA-BBBB"}`).Status(409) // attempts exhausted
		// ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS (default on): the address learns
		// that it has no account, and gets no code.
		if msg := env.WaitMail(t, 1); codeLine.MatchString(msg.Text) || !strings.Contains(msg.Subject, "Unknown") {
			t.Fatalf("unknown account mail: %q %q", msg.Subject, msg.Text)
		}
	})
	t.Run("disabled: no route", func(t *testing.T) {
		env := apitest.New(t, noVerification)
		env.Client("browser").Do("POST", "auth/code/request", `{"email":"x@example.com"}`).Status(404)
	})
	t.Run("one code confirmed twice in parallel", func(t *testing.T) {
		env := apitest.New(t, settings)
		loggedIn(t, env, "app", "fay@example.com")
		fe := env.Client("app")
		fe.Do("POST", "auth/code/request", `{"email":"fay@example.com"}`).Status(401)
		code := codeLine.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
		token := fe.Token
		codes := parallel(4, func(int) int {
			c := env.Client("app")
			c.Token = token
			return c.Do("POST", "auth/code/confirm", `{"code":"`+code+`"}`).Code
		})
		if count(codes, 200) != 1 {
			t.Fatalf("statuses %v: want exactly one success", codes)
		}
	})
}

func TestManageEmail(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, with(emailOnly, apitest.Settings{
				"ACCOUNT_EMAIL_VERIFICATION":  "optional",
				"ACCOUNT_MAX_EMAIL_ADDRESSES": 2,
				"ACCOUNT_PREVENT_ENUMERATION": false,
				"ACCOUNT_RATE_LIMITS":         map[string]any{"confirm_email": "1/3m/key", "manage_email": "30/m/user"},
				"HEADLESS_FRONTEND_URLS":      map[string]string{"account_confirm_email": "https://app.example.com/verify/{key}"},
			}))
			loggedIn(t, env, "app", "taken@example.com")
			fe := loggedIn(t, env, client, "gus@example.com")
			env.WaitMail(t, 2)
			env.Client(client).Do("GET", "account/email", "").Status(401)
			res := fe.Do("GET", "account/email", "").Status(200)
			if fmt.Sprint(res.Path("data")) != "[map[email:gus@example.com primary:true verified:false]]" {
				t.Fatalf("%s", res.Body)
			}
			fe.Do("POST", "account/email", `{"email":"GUS@example.com"}`).Status(400).Error("email", "duplicate_email")
			fe.Do("POST", "account/email", `{"email":"taken@example.com"}`).Status(400).Error("email", "email_taken")
			fe.Do("POST", "account/email", `{"email":"gus2@example.com"}`).Status(200)
			fe.Do("POST", "account/email", `{"email":"gus3@example.com"}`).Status(400).Error("email", "max_email_addresses")
			// The add sent a verification; a resend within the cooldown is refused.
			key := linkKey.FindStringSubmatch(env.WaitMail(t, 3).Text)[1]
			fe.Do("PUT", "account/email", `{"email":"gus2@example.com"}`).Status(403)
			fe.Do("PUT", "account/email", `{"email":"nope@example.com"}`).Status(400).Error("email", "unknown_email")
			fe.Do("PATCH", "account/email", `{"email":"gus2@example.com","primary":true}`).Status(400).Error("email", "unverified_primary_email")
			fe.Do("POST", "auth/email/verify", `{"key":"`+key+`"}`).Status(200)
			res = fe.Do("PATCH", "account/email", `{"email":"gus2@example.com","primary":true}`).Status(200)
			if fmt.Sprint(res.Path("data")) != "[map[email:gus2@example.com primary:true verified:true] map[email:gus@example.com primary:false verified:false]]" {
				t.Fatalf("%s", res.Body)
			}
			fe.Do("DELETE", "account/email", `{"email":"gus2@example.com"}`).Status(400).Error("email", "cannot_remove_primary_email")
			fe.Do("DELETE", "account/email", `{"email":"nope@example.com"}`).Status(400).Error("email", "unknown_email")
			res = fe.Do("DELETE", "account/email", `{"email":"gus@example.com"}`).Status(200)
			if fmt.Sprint(res.Path("data")) != "[map[email:gus2@example.com primary:true verified:true]]" {
				t.Fatalf("%s", res.Body)
			}
		})
	}
	t.Run("change email", func(t *testing.T) {
		env := apitest.New(t, with(emailOnly, apitest.Settings{
			"ACCOUNT_EMAIL_VERIFICATION": "optional",
			"ACCOUNT_CHANGE_EMAIL":       true,
			"HEADLESS_FRONTEND_URLS":     map[string]string{"account_confirm_email": "https://app.example.com/verify/{key}"},
		}))
		fe := loggedIn(t, env, "app", "hal@example.com")
		fe.Do("POST", "account/email", `{"email":"hal.new@example.com"}`).Status(200)
		key := linkKey.FindStringSubmatch(env.WaitMailTo(t, "hal.new@example.com", 1).Text)[1]
		fe.Do("POST", "auth/email/verify", `{"key":"`+key+`"}`).Status(200)
		res := fe.Do("GET", "account/email", "").Status(200)
		if fmt.Sprint(res.Path("data")) != "[map[email:hal.new@example.com primary:true verified:true]]" {
			t.Fatalf("the new address replaces the old: %s", res.Body)
		}
	})
	t.Run("anonymous change during code verification", func(t *testing.T) {
		env := apitest.New(t, with(emailOnly, apitest.Settings{
			"ACCOUNT_EMAIL_VERIFICATION":                 "mandatory",
			"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true,
			"ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_CHANGE": 1,
			"ACCOUNT_RATE_LIMITS":                        map[string]any{"confirm_email": false},
		}))
		env.Client("app").Do("POST", "account/email", `{"email":"x@example.com"}`).Status(409)
		fe := env.Client("app")
		fe.Do("POST", "auth/signup", `{"email":"typo@exmaple.com","password":"`+pw+`"}`).Status(401)
		env.WaitMail(t, 1)
		fe.Do("POST", "account/email", `{"email":"ivy@example.com"}`).Status(200)
		msg := env.WaitMail(t, 2)
		if msg.To[0] != "ivy@example.com" {
			t.Fatalf("the new code goes to the new address: %v", msg.To)
		}
		fe.Do("POST", "account/email", `{"email":"ivy2@example.com"}`).Status(409) // one change allowed
		code := codeLine.FindStringSubmatch(msg.Text)[1]
		res := fe.Do("POST", "auth/email/verify", `{"key":"`+code+`"}`).Status(200)
		if res.Path("data.user.email") != "ivy@example.com" {
			t.Fatalf("%s", res.Body)
		}
	})
}

func TestRateLimits(t *testing.T) {
	t.Run("login_failed holds exactly under 50 parallel attempts", func(t *testing.T) {
		env := apitest.New(t, with(noVerification, apitest.Settings{
			"ACCOUNT_RATE_LIMITS": map[string]any{"login_failed": "5/m/key", "login": false},
		}))
		loggedIn(t, env, "app", "lou@example.com")
		codes := map[string]int{}
		var mu sync.Mutex
		parallel(50, func(int) int {
			res := env.Client("app").Do("POST", "auth/login", `{"email":"lou@example.com","password":"wrong password"}`)
			code := ""
			if errs, ok := res.JSON["errors"].([]any); ok && len(errs) > 0 {
				code, _ = errs[0].(map[string]any)["code"].(string)
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
			return res.Code
		})
		if codes["email_password_mismatch"] != 5 || codes["too_many_login_attempts"] != 45 {
			t.Fatalf("outcomes %v", codes)
		}
		// Even the right password is refused while the key is locked.
		env.Client("app").Do("POST", "auth/login", `{"email":"lou@example.com","password":"`+pw+`"}`).Status(400).Error("", "too_many_login_attempts")
	})
	t.Run("429 per ip, and the client IP from the trusted proxy", func(t *testing.T) {
		env := apitest.New(t, with(noVerification, apitest.Settings{
			"ACCOUNT_RATE_LIMITS":         map[string]any{"signup": "2/m/ip"},
			"ALLAUTH_TRUSTED_PROXY_COUNT": 1,
		}))
		signup := func(i int, xff string) int {
			return env.Client("app").Do("POST", "auth/signup", fmt.Sprintf(`{"email":"m%d@example.com","password":"%s"}`, i, pw), "X-Forwarded-For", xff).Code
		}
		if a, b, c := signup(1, "203.0.113.1"), signup(2, "203.0.113.1"), signup(3, "203.0.113.1"); a != 200 || b != 200 || c != 429 {
			t.Fatalf("statuses %d %d %d", a, b, c)
		}
		// Another client IP (per the proxy) has its own budget; a spoofed
		// left-most entry does not change who the proxy says the client is.
		if s := signup(4, "198.51.100.7"); s != 200 {
			t.Fatalf("other ip: %d", s)
		}
		if s := signup(5, "6.6.6.6, 203.0.113.1"); s != 429 {
			t.Fatalf("spoofed xff: %d", s)
		}
		var n int
		_ = testenv.Pool(t).QueryRow(context.Background(), `SELECT count(*) FROM users WHERE tenant_id = $1`, env.Tenant.ID).Scan(&n)
		if n != 3 {
			t.Fatalf("users %d", n)
		}
	})
	t.Run("disabled", func(t *testing.T) {
		env := apitest.New(t, with(noVerification, apitest.Settings{"ACCOUNT_RATE_LIMITS": false}))
		loggedIn(t, env, "app", "moe@example.com")
		for i := 0; i < 12; i++ {
			env.Client("app").Do("POST", "auth/login", `{"email":"moe@example.com","password":"wrong password"}`).Status(400).Error("password", "email_password_mismatch")
		}
	})
}

func TestLoginByCodeRequired(t *testing.T) {
	env := apitest.New(t, with(noVerification, apitest.Settings{"ACCOUNT_LOGIN_BY_CODE_REQUIRED": true}))
	loggedIn(t, env, "app", "nan@example.com")
	fe := env.Client("browser")
	res := fe.Do("POST", "auth/login", `{"email":"nan@example.com","password":"`+pw+`"}`).Status(401)
	if _, pending := flowIDs(res); pending != "login_by_code" {
		t.Fatalf("a code is required after the password: %s", res.Body)
	}
	code := codeLine.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
	// code/request is not routed (login by code itself is off), confirm is.
	fe.Do("POST", "auth/code/request", `{"email":"nan@example.com"}`).Status(404)
	res = fe.Do("POST", "auth/code/confirm", `{"code":"`+code+`"}`).Status(200)
	if m := res.Path("data.methods").([]any); len(m) != 2 || m[0].(map[string]any)["method"] != "password" || m[1].(map[string]any)["method"] != "code" {
		t.Fatalf("both steps recorded: %s", res.Body)
	}
}

// Requests for known and unknown addresses get the same answer and do the
// same work, so their timing tells nothing (compared by median).
func TestEnumerationTiming(t *testing.T) {
	env := apitest.New(t, with(noVerification, apitest.Settings{
		"ACCOUNT_RATE_LIMITS":            false,
		"ACCOUNT_LOGIN_BY_CODE_ENABLED":  true,
		"ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS": true,
	}))
	loggedIn(t, env, "app", "olga@example.com")
	// Known and unknown requests alternate, so machine noise hits both alike.
	medians := func(path string, want int) (known, unknown time.Duration) {
		var ks, us []time.Duration
		for i := 0; i < 15; i++ {
			for _, email := range []string{"olga@example.com", "nobody@example.com"} {
				start := time.Now()
				env.Client("app").Do("POST", path, `{"email":"`+email+`"}`).Status(want)
				if email == "olga@example.com" {
					ks = append(ks, time.Since(start))
				} else {
					us = append(us, time.Since(start))
				}
			}
		}
		slices.Sort(ks)
		slices.Sort(us)
		return ks[len(ks)/2], us[len(us)/2]
	}
	for _, tc := range []struct {
		path string
		want int
	}{{"auth/password/request", 200}, {"auth/code/request", 401}} {
		known, unknown := medians(tc.path, tc.want)
		ratio := float64(known) / float64(unknown)
		t.Logf("%s: known %v, unknown %v (ratio %.2f)", tc.path, known, unknown, ratio)
		if ratio < 0.25 || ratio > 4 {
			t.Errorf("%s: known %v vs unknown %v", tc.path, known, unknown)
		}
	}
}

// NIST SP 800-63B: after 100 consecutive wrong passwords the password is
// locked (independent of rate limits) for addresses the user never signed
// in from (TestLockoutSparesTheOwner); a password reset unlocks it.
func TestConsecutiveFailureLockout(t *testing.T) {
	env := apitest.New(t, with(noVerification, apitest.Settings{
		"ACCOUNT_RATE_LIMITS":         false,
		"ALLAUTH_TRUSTED_PROXY_COUNT": 1,
		"HEADLESS_FRONTEND_URLS":      map[string]string{"account_reset_password_from_key": "https://app.example.com/reset/{key}"},
	}))
	loggedIn(t, env, "app", "pam@example.com")
	if _, err := testenv.Pool(t).Exec(context.Background(), `UPDATE users SET failed_logins = 99 WHERE tenant_id = $1`, env.Tenant.ID); err != nil {
		t.Fatal(err)
	}
	const elsewhere = "203.0.113.80" // never signed in from
	env.Client("app").Do("POST", "auth/login", `{"email":"pam@example.com","password":"wrong password"}`, "X-Forwarded-For", elsewhere).Status(400).Error("password", "email_password_mismatch")
	env.Client("app").Do("POST", "auth/login", `{"email":"pam@example.com","password":"`+pw+`"}`, "X-Forwarded-For", elsewhere).Status(400).Error("password", "email_password_mismatch")
	if m := env.WaitMail(t, 1); !strings.HasSuffix(m.Subject, "Password Sign-In Paused") {
		t.Fatalf("first mail %q, want the lock notice", m.Subject)
	}
	env.Client("app").Do("POST", "auth/password/request", `{"email":"pam@example.com"}`).Status(200)
	key := resetLink.FindStringSubmatch(env.WaitMail(t, 2).Text)[1]
	env.Client("app").Do("POST", "auth/password/reset", `{"key":"`+key+`","password":"brand new horse"}`).Status(401)
	env.Client("app").Do("POST", "auth/login", `{"email":"pam@example.com","password":"brand new horse"}`, "X-Forwarded-For", elsewhere).Status(200)
}

// Codes by mail end after their attempts and their timeout:
// ACCOUNT_PASSWORD_RESET_BY_CODE_MAX_ATTEMPTS / _TIMEOUT and
// ACCOUNT_LOGIN_BY_CODE_TIMEOUT.
func TestCodeAttemptsAndTimeouts(t *testing.T) {
	env := apitest.New(t, with(noVerification, apitest.Settings{
		"ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED":      true,
		"ACCOUNT_PASSWORD_RESET_BY_CODE_MAX_ATTEMPTS": 2,
		"ACCOUNT_PASSWORD_RESET_BY_CODE_TIMEOUT":      60,
		"ACCOUNT_LOGIN_BY_CODE_ENABLED":               true,
		"ACCOUNT_LOGIN_BY_CODE_TIMEOUT":               60,
	}))
	loggedIn(t, env, "app", "quinn@example.com")
	fe := env.Client("app")
	fe.Do("POST", "auth/password/request", `{"email":"quinn@example.com"}`).Status(401)
	code := codeLine.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
	fe.Do("GET", "auth/password/reset", "", "X-Password-Reset-Key", "AAAA-AAAA").Status(400).Error("key", "incorrect_code")
	fe.Do("GET", "auth/password/reset", "", "X-Password-Reset-Key", "BBBB-BBBB").Status(400).Error("key", "incorrect_code")
	fe.Do("GET", "auth/password/reset", "", "X-Password-Reset-Key", code).Status(409) // attempts spent

	fe.Do("POST", "auth/password/request", `{"email":"quinn@example.com"}`).Status(401)
	code = codeLine.FindStringSubmatch(env.WaitMail(t, 2).Text)[1]
	env.Accounts.Now = func() time.Time { return time.Now().Add(61 * time.Second) }
	fe.Do("POST", "auth/password/reset", `{"key":"`+code+`","password":"brand new horse"}`).Status(409) // timed out
	env.Accounts.Now = nil

	login := env.Client("app")
	login.Do("POST", "auth/code/request", `{"email":"quinn@example.com"}`).Status(401)
	code = codeLine.FindStringSubmatch(env.WaitMail(t, 3).Text)[1]
	env.Accounts.Now = func() time.Time { return time.Now().Add(61 * time.Second) }
	login.Do("POST", "auth/code/confirm", `{"code":"`+code+`"}`).Status(409)
	env.Accounts.Now = nil
	env.Client("app").Do("POST", "auth/login", `{"email":"quinn@example.com","password":"`+pw+`"}`).Status(200) // nothing changed
}
