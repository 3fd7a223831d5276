package account_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/testenv"
)

var emailOnly = apitest.Settings{
	"ACCOUNT_LOGIN_METHODS": []string{"email"},
	"ACCOUNT_SIGNUP_FIELDS": []string{"email*", "password1*"},
}

func with(base apitest.Settings, extra apitest.Settings) apitest.Settings {
	out := apitest.Settings{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func flowIDs(r *apitest.Response) (ids []string, pending string) {
	flows, _ := r.Path("data.flows").([]any)
	for _, f := range flows {
		m := f.(map[string]any)
		ids = append(ids, m["id"].(string))
		if m["is_pending"] == true {
			pending = m["id"].(string)
		}
	}
	return ids, pending
}

func TestSignupLoginSessionLogout(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, with(emailOnly, apitest.Settings{"ACCOUNT_EMAIL_VERIFICATION": "none"}))
			fe := env.Client(client)
			res := fe.Do("GET", "auth/session", "").Status(401)
			if ids, pending := flowIDs(res); strings.Join(ids, ",") != "login,signup" || pending != "" {
				t.Fatalf("anonymous flows %v pending %q", ids, pending)
			}
			if res.Path("meta.is_authenticated") != false {
				t.Fatalf("meta: %s", res.Body)
			}
			res = fe.Do("POST", "auth/signup", `{"email":"Ana@Example.com","password":"correct horse battery"}`).Status(200)
			if res.Path("data.user.email") != "ana@example.com" || res.Path("data.user.has_usable_password") != true {
				t.Fatalf("signup user: %s", res.Body)
			}
			if res.Path("data.user.username") != "ana" || res.Path("data.user.display") != "ana" {
				t.Fatalf("allauth derives the username from the address: %s", res.Body)
			}
			token, _ := res.Path("meta.session_token").(string)
			if client == "app" && len(token) < 40 {
				t.Fatalf("app signup must return a session token: %s", res.Body)
			}
			if client == "browser" && (token != "" || fe.Cookie("sessionid") == "") {
				t.Fatalf("browser: no token in meta, a session cookie instead: %s", res.Body)
			}
			res = fe.Do("GET", "auth/session", "").Status(200)
			if res.Path("meta.is_authenticated") != true || res.Path("meta.session_token") != nil {
				t.Fatalf("session: %s", res.Body)
			}
			fe.Do("POST", "auth/login", `{"email":"ana@example.com","password":"correct horse battery"}`).Status(409)
			res = fe.Do("DELETE", "auth/session", "").Status(401)
			if res.Path("meta.session_token") != nil {
				t.Fatalf("logout returns no token: %s", res.Body)
			}
			if client == "app" {
				// The dead token is answered 410 on any endpoint.
				old := env.Client("app")
				old.Token = token
				res = old.Do("GET", "auth/session", "").Status(410)
				if res.Path("meta.is_authenticated") != nil || res.JSON["meta"].(map[string]any)["is_authenticated"] != nil {
					t.Fatalf("410 meta: %s", res.Body)
				}
				old.Token = token
				old.Do("GET", "config", "").Status(410)
				// The frontend drops its token on 410 and starts over.
				fe.Do("GET", "auth/session", "").Status(410)
				if fe.Token != "" {
					t.Fatal("client kept a dead token")
				}
			} else {
				fe.Do("GET", "auth/session", "").Status(401)
			}
			res = fe.Do("POST", "auth/login", `{"email":"ANA@example.com","password":"correct horse battery"}`).Status(200)
			methods, _ := res.Path("data.methods").([]any)
			if len(methods) != 1 || methods[0].(map[string]any)["method"] != "password" || methods[0].(map[string]any)["email"] != "ana@example.com" {
				t.Fatalf("methods: %s", res.Body)
			}
		})
	}
}

func TestLoginErrors(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, apitest.Settings{
				"ACCOUNT_LOGIN_METHODS":      []string{"email", "username"},
				"ACCOUNT_SIGNUP_FIELDS":      []string{"email*", "username*", "password1*"},
				"ACCOUNT_EMAIL_VERIFICATION": "none",
			})
			env.Client(client).Do("POST", "auth/signup", `{"email":"bo@example.com","username":"Bo","password":"correct horse battery"}`).Status(200)
			fe := env.Client(client)
			cases := []struct {
				body, param, code string
			}{
				{`{"email":"bo@example.com","password":"wrong password"}`, "password", "email_password_mismatch"},
				{`{"username":"bo","password":"wrong password"}`, "password", "username_password_mismatch"},
				{`{"email":"nobody@example.com","password":"wrong password"}`, "password", "email_password_mismatch"},
				{`{"email":"bo@example.com","username":"bo","password":"correct horse battery"}`, "", "invalid_login"},
				{`{"password":"correct horse battery"}`, "", "invalid_login"},
				{`{"email":"bo@example.com"}`, "password", "required"},
				{`{"email":"not-an-email","password":"x"}`, "email", "invalid"},
				{`{"email":12,"password":"x"}`, "email", "invalid"},
				{`{"email":`, "", "invalid"},
				{`[1,2]`, "", "invalid"},
			}
			for _, tc := range cases {
				fe.Do("POST", "auth/login", tc.body).Status(400).Error(tc.param, tc.code)
			}
			fe.Do("POST", "auth/login", `{"email":"bo@example.com","password":"`+strings.Repeat("x", 70<<10)+`"}`).Status(413)
			fe.Do("GET", "auth/session", "").Status(401)
			res := fe.Do("POST", "auth/login", `{"username":"BO","password":"correct horse battery"}`).Status(200)
			if res.Path("data.user.username") != "Bo" {
				t.Fatalf("username login is case-insensitive, casing preserved (allauth's default): %s", res.Body)
			}
		})
	}
}

func TestSignupErrors(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, apitest.Settings{
				"ACCOUNT_LOGIN_METHODS":       []string{"email", "username"},
				"ACCOUNT_SIGNUP_FIELDS":       []string{"email*", "username*", "password1*"},
				"ACCOUNT_EMAIL_VERIFICATION":  "none",
				"ACCOUNT_PREVENT_ENUMERATION": false,
				"ACCOUNT_USERNAME_BLACKLIST":  []string{"root"},
			})
			env.Client(client).Do("POST", "auth/signup", `{"email":"cy@example.com","username":"cy","password":"correct horse battery"}`).Status(200)
			fe := env.Client(client)
			cases := []struct{ body, param, code string }{
				{`{"email":"CY@example.com","username":"other","password":"correct horse battery"}`, "email", "email_taken"},
				{`{"email":"new@example.com","username":"CY","password":"correct horse battery"}`, "username", "username_taken"},
				{`{"email":"new@example.com","username":"root","password":"correct horse battery"}`, "username", "username_blacklisted"},
				{`{"email":"new@example.com","username":"bad name!","password":"correct horse battery"}`, "username", "invalid"},
				{`{"username":"new","password":"correct horse battery"}`, "email", "required"},
				{`{"email":"new@example.com","username":"new"}`, "password", "required"},
				{`{"email":"new@example.com","username":"new","password":"abc"}`, "password", "password_too_short"},
				{`{"email":"new@example.com","username":"new","password":"Password123"}`, "password", "password_too_common"},
				{`{"email":"new@example.com","username":"new","password":"8675309123"}`, "password", "password_entirely_numeric"},
			}
			for _, tc := range cases {
				fe.Do("POST", "auth/signup", tc.body).Status(400).Error(tc.param, tc.code)
			}
			var n int
			if err := testenv.Pool(t).QueryRow(context.Background(), `SELECT count(*) FROM users WHERE tenant_id = $1`, env.Tenant.ID).Scan(&n); err != nil || n != 1 {
				t.Fatalf("rejected signups created users: %d %v", n, err)
			}
		})
	}
	t.Run("closed", func(t *testing.T) {
		env := apitest.New(t, with(emailOnly, apitest.Settings{"HALLPASS_SIGNUP_OPEN": false}))
		env.Client("app").Do("POST", "auth/signup", `{"email":"x@example.com","password":"correct horse battery"}`).Status(403)
	})
}

var linkKey = regexp.MustCompile(`https://app\.example\.com/verify/(\S+)`)

func TestMandatoryVerificationByLink(t *testing.T) {
	for _, loginOnConfirm := range []bool{true, false} {
		for _, client := range apitest.Clients {
			t.Run(fmt.Sprintf("%s/login_on_confirmation=%v", client, loginOnConfirm), func(t *testing.T) {
				env := apitest.New(t, with(emailOnly, apitest.Settings{
					"ACCOUNT_EMAIL_VERIFICATION":          "mandatory",
					"ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION": loginOnConfirm,
					"HEADLESS_FRONTEND_URLS":              map[string]string{"account_confirm_email": "https://app.example.com/verify/{key}"},
				}))
				fe := env.Client(client)
				res := fe.Do("POST", "auth/signup", `{"email":"dee@example.com","password":"correct horse battery"}`).Status(401)
				if _, pending := flowIDs(res); pending != "verify_email" {
					t.Fatalf("pending stage: %s", res.Body)
				}
				if client == "app" && fe.Token == "" {
					t.Fatal("a pending flow gives the app a session token")
				}
				msg := env.WaitMail(t, 1)
				m := linkKey.FindStringSubmatch(msg.Text)
				if m == nil || msg.To[0] != "dee@example.com" {
					t.Fatalf("verification mail: to %v text %q", msg.To, msg.Text)
				}
				key := m[1]
				fe.Do("POST", "auth/login", `{"email":"dee@example.com","password":"correct horse battery"}`).Status(401)
				fe.Do("GET", "auth/email/verify", "", "X-Email-Verification-Key", "1.bogus.key").Status(400).Error("key", "invalid_or_expired_key")
				res = fe.Do("GET", "auth/email/verify", "", "X-Email-Verification-Key", key).Status(200)
				if res.Path("data.email") != "dee@example.com" || res.Path("meta.is_authenticating") != true {
					t.Fatalf("inspect: %s", res.Body)
				}
				res = fe.Do("POST", "auth/email/verify", `{"key":"`+key+`"}`)
				if loginOnConfirm {
					res.Status(200)
				} else {
					res.Status(401)
					if _, pending := flowIDs(res); pending != "" {
						t.Fatalf("the stage is abandoned: %s", res.Body)
					}
					fe.Do("POST", "auth/login", `{"email":"dee@example.com","password":"correct horse battery"}`).Status(200)
				}
				fe.Do("GET", "auth/session", "").Status(200)
			})
		}
	}
}

var codeLine = regexp.MustCompile(`(?m)^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$`)

func TestMandatoryVerificationByCode(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, with(emailOnly, apitest.Settings{
				"ACCOUNT_EMAIL_VERIFICATION":                      "mandatory",
				"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED":      true,
				"ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_RESEND":      1,
				"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_MAX_ATTEMPTS": 3,
				"ACCOUNT_RATE_LIMITS":                             map[string]any{"confirm_email": false},
			}))
			// Without a pending process, code verification does not apply.
			env.Client(client).Do("POST", "auth/email/verify", `{"key":"ABCD-EFGH"}`).Status(409)
			env.Client(client).Do("POST", "auth/email/verify/resend", "").Status(409)

			fe := env.Client(client)
			fe.Do("POST", "auth/signup", `{"email":"eve@example.com","password":"correct horse battery"}`).Status(401)
			first := codeLine.FindStringSubmatch(env.WaitMail(t, 1).Text)
			if first == nil {
				t.Fatalf("no code line in %q", env.Mails()[0].Text)
			}
			fe.Do("POST", "auth/email/verify/resend", "").Status(200)
			second := codeLine.FindStringSubmatch(env.WaitMail(t, 2).Text)
			if second == nil {
				t.Fatal("no code in the resent mail")
			}
			fe.Do("POST", "auth/email/verify/resend", "").Status(409) // one resend allowed
			if first[1] != second[1] {
				fe.Do("POST", "auth/email/verify", `{"key":"`+first[1]+`"}`).Status(400).Error("key", "incorrect_code")
			}
			fe.Do("GET", "auth/email/verify", "", "X-Email-Verification-Key", "WRONG-CODE").Status(400).Error("key", "incorrect_code")
			// Punctuation and case do not matter.
			loose := strings.ToLower(strings.ReplaceAll(second[1], "-", " "))
			res := fe.Do("POST", "auth/email/verify", `{"key":"`+loose+`"}`).Status(200)
			if res.Path("data.user.email") != "eve@example.com" {
				t.Fatalf("verified login: %s", res.Body)
			}
		})
	}
	t.Run("attempts exhausted", func(t *testing.T) {
		env := apitest.New(t, with(emailOnly, apitest.Settings{
			"ACCOUNT_EMAIL_VERIFICATION":                      "mandatory",
			"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED":      true,
			"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_MAX_ATTEMPTS": 2,
		}))
		fe := env.Client("app")
		fe.Do("POST", "auth/signup", `{"email":"fay@example.com","password":"correct horse battery"}`).Status(401)
		code := codeLine.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
		fe.Do("POST", "auth/email/verify", `{"key":"BBBB-BBBB"}`).Status(400).Error("key", "incorrect_code")
		fe.Do("POST", "auth/email/verify", `{"key":"CCCC-CCCC"}`).Status(400).Error("key", "incorrect_code")
		// The process is gone: even the right code is now refused.
		fe.Do("POST", "auth/email/verify", `{"key":"`+code+`"}`).Status(409)
	})
}

func TestEnumerationPrevention(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, with(emailOnly, apitest.Settings{
				"ACCOUNT_EMAIL_VERIFICATION": "mandatory",
				"HEADLESS_FRONTEND_URLS": map[string]string{
					"account_confirm_email":  "https://app.example.com/verify/{key}",
					"account_reset_password": "https://app.example.com/reset",
				},
			}))
			env.Client(client).Do("POST", "auth/signup", `{"email":"gil@example.com","password":"correct horse battery"}`).Status(401)
			env.WaitMail(t, 1)
			res := env.Client(client).Do("POST", "auth/signup", `{"email":"GIL@example.com","password":"another horse battery"}`).Status(401)
			if _, pending := flowIDs(res); pending != "verify_email" {
				t.Fatalf("a taken address must look like a fresh signup: %s", res.Body)
			}
			msg := env.WaitMail(t, 2)
			if msg.To[0] != "gil@example.com" || !strings.Contains(msg.Text, "https://app.example.com/reset") || linkKey.MatchString(msg.Text) {
				t.Fatalf("the owner gets an account-exists mail, not a verification link: %q", msg.Text)
			}
			var n int
			if err := testenv.Pool(t).QueryRow(context.Background(), `SELECT count(*) FROM users WHERE tenant_id = $1`, env.Tenant.ID).Scan(&n); err != nil || n != 1 {
				t.Fatalf("users: %d %v", n, err)
			}
		})
	}
}

func TestOptionalVerificationSendsMailAndLogsIn(t *testing.T) {
	env := apitest.New(t, with(emailOnly, apitest.Settings{"ACCOUNT_EMAIL_VERIFICATION": "optional"}))
	// A forged X-Forwarded-Host from an untrusted client must not steer the link.
	env.Client("app").Do("POST", "auth/signup", `{"email":"hal@example.com","password":"correct horse battery"}`,
		"X-Forwarded-Host", "evil.example", "X-Forwarded-Proto", "https").Status(200)
	msg := env.WaitMail(t, 1)
	// No frontend URL: the link falls back to allauth's own path on the tenant's base.
	if !strings.Contains(msg.Text, "http://hallpass.test/t/"+env.Tenant.Slug+"/accounts/confirm-email/") || strings.Contains(msg.Text, "evil") {
		t.Fatalf("verification link: %q", msg.Text)
	}
}
