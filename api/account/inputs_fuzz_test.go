package account_test

import (
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/tenants"
)

func clientName(browser bool) string {
	if browser {
		return "browser"
	}
	return "app"
}

// FuzzLoginInput posts arbitrary bodies to auth/login (parseLogin) of a
// tenant that logs in by email or username.
func FuzzLoginInput(f *testing.F) {
	s := newFuzzServer(f, apitest.Settings{
		"ACCOUNT_LOGIN_METHODS": []string{"email", "username"},
		"ACCOUNT_SIGNUP_FIELDS": []string{"email*", "username*", "password1*"},
	})
	s.signupUser(f, `{"email":"ann@example.com","username":"ann","password":"`+fuzzPassword+`"}`)
	for _, b := range append([]string{
		`{"email":"ann@example.com","password":"` + fuzzPassword + `"}`,
		`{"username":"ann","password":"` + fuzzPassword + `"}`,
		`{"username":"ANN","password":"` + fuzzPassword + `"}`,
		`{"email":"Ann@Example.COM","password":"wrong"}`,
		`{"email":"ann@example.com","username":"ann","password":"x"}`,
		`{"email":"","username":"","password":""}`,
		`{"email":"ann@example.com"}`, `{"password":"x"}`, `{"phone":"+15551234567","password":"x"}`,
		`{"email":"not-an-address","password":"x"}`, `{"email":" ann@example.com ","password":"x"}`,
		`{"email":"ann@exämple.com","password":"x"}`, `{"email":"ann@[127.0.0.1]","password":"x"}`,
		`{"email":"\"a b\"@example.com","password":"x"}`, `{"username":"a\u0000nn","password":"x"}`,
	}, append(lookAlikeBodies("ann@example.com"), jsonBodies...)...) {
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, body string, browser bool) {
		s.do(t, clientName(browser), "POST", "auth/login", body)
	})
}

// FuzzSignupInput posts arbitrary bodies to auth/signup (parseSignup and the
// account rules behind it).
func FuzzSignupInput(f *testing.F) {
	s := newFuzzServer(f, apitest.Settings{
		"ACCOUNT_LOGIN_METHODS":              []string{"email", "username"},
		"ACCOUNT_SIGNUP_FIELDS":              []string{"email*", "username*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION":         "none",
		"ACCOUNT_USERNAME_BLACKLIST":         []string{"admin"},
		"ACCOUNT_SIGNUP_FORM_HONEYPOT_FIELD": "website",
	})
	s.signupUser(f, `{"email":"bob@example.com","username":"bob","password":"`+fuzzPassword+`"}`)
	for _, b := range append([]string{
		`{"email":"new@example.com","username":"new","password":"` + fuzzPassword + `"}`,
		`{"email":"bob@example.com","username":"bob2","password":"` + fuzzPassword + `"}`,
		`{"email":"BOB@EXAMPLE.COM","username":"Bob","password":"` + fuzzPassword + `"}`,
		`{"email":"x@example.com","username":"admin","password":"` + fuzzPassword + `"}`,
		`{"email":"x@example.com","username":"x","password":"x"}`,
		`{"email":"x@example.com","username":"x","password":"password"}`,
		`{"email":"x@example.com","username":"x","password":"x@example.com"}`,
		`{"email":"x@example.com","username":"x y","password":"` + fuzzPassword + `"}`,
		`{"email":"x@example.com","username":"x","password":"` + fuzzPassword + `","website":"spam"}`,
		`{"email":"x@example.com","username":"x","password":"` + fuzzPassword + `","password2":"other"}`,
		`{"email":"x@example.com"}`, `{"username":"x"}`, `{"email":"x","username":"` + strings.Repeat("u", 200) + `"}`,
		`{"email":"x@localhost","username":"x","password":"` + fuzzPassword + `"}`,
	}, append(lookAlikeBodies("bob@example.com"), jsonBodies...)...) {
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, body string, browser bool) {
		s.do(t, clientName(browser), "POST", "auth/signup", body)
	})
}

// FuzzVerifyInput sends arbitrary keys to email verification: POST
// auth/email/verify bodies and GET auth/email/verify X-Email-Verification-Key
// values, in link mode (HMAC keys; "{key}" is a real key of this process)
// and in code mode (against a signup pending verification, where every
// attempt counts).
func FuzzVerifyInput(f *testing.F) {
	link := newFuzzServer(f, apitest.Settings{
		"ACCOUNT_LOGIN_METHODS":      []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":      []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "mandatory",
		"HEADLESS_FRONTEND_URLS":     map[string]string{"account_confirm_email": "https://app.example.com/verify/{key}"},
	})
	link.signupUser(f, `{"email":"cat@example.com","password":"`+fuzzPassword+`"}`)
	link.vals["{key}"] = link.mailMatch(f, 1, fuzzLinkKey)

	code := newFuzzServer(f, apitest.Settings{
		"ACCOUNT_LOGIN_METHODS":                           []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":                           []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION":                      "mandatory",
		"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED":      true,
		"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_MAX_ATTEMPTS": tenants.MaxCodeAttempts,
		"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_TIMEOUT":      tenants.MaxCodeTimeout,
		"ACCOUNT_LOGIN_TIMEOUT":                           tenants.MaxLoginTimeout,
	})
	pending, _ := code.signupUser(f, `{"email":"dan@example.com","password":"`+fuzzPassword+`"}`)
	if pending == "" {
		f.Fatal("no session token for the pending signup")
	}

	for _, k := range []string{
		`{key}`, `{key}x`, `x{key}`, `{key}{key}`, `{key}.`, `.{key}`, `{key}:`, `{key}=`, ` {key} `, `{key}`,
		"ABCD-EFGH", "abcd efgh", "ABCDEFGH", "ABCD-EFG", "1.bogus.key", "MQ:1v:abc", "a:b:c:d", "::", "",
		strings.Repeat("A", 200), "é-ü", "1:" + strings.Repeat("9", 40) + ":x",
	} {
		for _, byCode := range []bool{false, true} {
			f.Add(`{"key":"`+k+`"}`, k, uint16(0), byte(0), byCode)
		}
		f.Add(`{"key":"`+k+`"}`, k, uint16(3), byte('A'), false)
	}
	for _, b := range jsonBodies {
		f.Add(b, "", uint16(0), byte(0), false)
		f.Add(b, "", uint16(0), byte(0), true)
	}
	f.Fuzz(func(t *testing.T, body, key string, pos uint16, edit byte, byCode bool) {
		s, headers := link, []string{}
		if byCode {
			s, headers = code, []string{"X-Session-Token", pending}
		}
		s.do(t, "app", "POST", "auth/email/verify", s.expand(body, pos, edit), headers...)
		s.do(t, "app", "GET", "auth/email/verify", "",
			append(headers, "X-Email-Verification-Key", s.expand(key, pos, edit))...)
	})
}

// FuzzPasswordResetInput sends arbitrary bodies to auth/password/request and
// auth/password/reset, and arbitrary X-Password-Reset-Key values to GET
// auth/password/reset; "{key}" is a real reset key of this process.
func FuzzPasswordResetInput(f *testing.F) {
	s := newFuzzServer(f, apitest.Settings{
		"ACCOUNT_LOGIN_METHODS":      []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":      []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "none",
		"HEADLESS_FRONTEND_URLS":     map[string]string{"account_reset_password_from_key": "https://app.example.com/reset/{key}"},
	})
	s.signupUser(f, `{"email":"eve@example.com","password":"`+fuzzPassword+`"}`)
	s.env.Client("app").Do("POST", "auth/password/request", `{"email":"eve@example.com"}`).Status(200)
	s.vals["{key}"] = s.mailMatch(f, 1, fuzzLinkKey)

	for _, k := range []string{
		`{key}`, `{key}0`, `0{key}`, `{key}-`, `-{key}`, `+{key}`, ` {key}`, "1-2-3", "1-2-", "--", "zzzzzzzzzzzzz-1-00",
		"-1-1-00", "1-" + strings.Repeat("z", 20) + "-00", "1-1-" + strings.Repeat("0", 200), "1-1-0g", "",
	} {
		f.Add(`{"key":"`+k+`","password":"`+fuzzPassword+`!"}`, k, uint16(0), byte(0), false)
		f.Add(`{"key":"`+k+`","password":"x"}`, k, uint16(5), byte('z'), false)
	}
	for _, b := range append([]string{
		`{"email":"eve@example.com"}`, `{"email":"EVE@example.com"}`, `{"email":"nobody@example.com"}`, `{"email":"eve"}`,
		`{"key":"{key}"}`, `{"password":"` + fuzzPassword + `"}`, `{"key":1,"password":2}`,
	}, append(lookAlikeBodies("eve@example.com"), jsonBodies...)...) {
		f.Add(b, "{key}", uint16(0), byte(0), true)
		f.Add(b, "", uint16(0), byte(0), false)
	}
	f.Fuzz(func(t *testing.T, body, key string, pos uint16, edit byte, request bool) {
		if request {
			s.do(t, "app", "POST", "auth/password/request", body)
		}
		s.do(t, "app", "GET", "auth/password/reset", "", "X-Password-Reset-Key", s.expand(key, pos, edit))
		s.do(t, "app", "POST", "auth/password/reset", s.expand(body, pos, edit))
	})
}

// FuzzAccountEmailInput sends arbitrary bodies to account/email with every
// method, as an anonymous client, a logged-in user, and a signup pending
// code verification (which may correct its address).
func FuzzAccountEmailInput(f *testing.F) {
	s := newFuzzServer(f, apitest.Settings{
		"ACCOUNT_LOGIN_METHODS":                           []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":                           []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION":                      "mandatory",
		"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED":      true,
		"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_MAX_ATTEMPTS": tenants.MaxCodeAttempts,
		"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_TIMEOUT":      tenants.MaxCodeTimeout,
		"ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_CHANGE":      tenants.MaxResendCount,
		"ACCOUNT_LOGIN_TIMEOUT":                           tenants.MaxLoginTimeout,
	})
	// A logged-in user: signed up, then verified with the mailed code.
	fe := s.env.Client("app")
	fe.Do("POST", "auth/signup", `{"email":"fay@example.com","password":"`+fuzzPassword+`"}`).Status(401)
	fe.Do("POST", "auth/email/verify", `{"key":"`+s.mailMatch(f, 1, fuzzCodeLine)+`"}`).Status(200)
	user := fe.Token
	// A second signup, left pending its code.
	pending, _ := s.signupUser(f, `{"email":"gus@example.com","password":"`+fuzzPassword+`"}`)
	if user == "" || pending == "" {
		f.Fatal("no session tokens")
	}
	sessions := []string{"", user, pending}
	methods := []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	for _, b := range append([]string{
		`{"email":"fay@example.com"}`, `{"email":"FAY@example.com","primary":true}`, `{"email":"fay2@example.com"}`,
		`{"email":"gus@example.com"}`, `{"email":"hal@example.com","primary":true}`, `{"email":"fay@example.com","primary":false}`,
		`{"email":"fay@example.com","primary":"true"}`, `{"email":"fay@example.com","primary":1}`, `{"primary":true}`,
		`{"email":"nope"}`, `{"email":""}`,
	}, jsonBodies...) {
		for m := range methods {
			for sess := range sessions {
				f.Add(uint8(m), uint8(sess), b)
			}
		}
	}
	f.Fuzz(func(t *testing.T, method, session uint8, body string) {
		var headers []string
		if tok := sessions[int(session)%len(sessions)]; tok != "" {
			headers = []string{"X-Session-Token", tok}
		}
		s.do(t, "app", methods[int(method)%len(methods)], "account/email", body, headers...)
	})
}

// FuzzCodeConfirmInput posts arbitrary bodies to auth/code/confirm within a
// pending login by code, and to auth/code/request.
func FuzzCodeConfirmInput(f *testing.F) {
	s := newFuzzServer(f, apitest.Settings{
		"ACCOUNT_LOGIN_METHODS":              []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":              []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION":         "none",
		"ACCOUNT_LOGIN_BY_CODE_ENABLED":      true,
		"ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS": tenants.MaxCodeAttempts,
		"ACCOUNT_LOGIN_BY_CODE_TIMEOUT":      tenants.MaxCodeTimeout,
		"ACCOUNT_LOGIN_TIMEOUT":              tenants.MaxLoginTimeout,
	})
	s.signupUser(f, `{"email":"ida@example.com","password":"`+fuzzPassword+`"}`)
	fe := s.env.Client("app")
	fe.Do("POST", "auth/code/request", `{"email":"ida@example.com"}`).Status(401)
	if fe.Token == "" {
		f.Fatal("no session token for the pending login by code")
	}
	pending := fe.Token
	for _, b := range append([]string{
		`{"code":"ABCD-EFGH"}`, `{"code":"abcd efgh"}`, `{"code":"ABCDEFGH"}`, `{"code":"ABCD-EFGHI"}`, `{"code":"----"}`,
		`{"code":""}`, `{"code":" "}`, `{"code":"\u0130\u0131"}`, `{"code":"` + strings.Repeat("A", 1000) + `"}`,
		`{"email":"ida@example.com"}`, `{"email":"IDA@example.com"}`, `{"email":"nobody@example.com"}`, `{"phone":"+1555"}`,
	}, append(lookAlikeBodies("ida@example.com"), jsonBodies...)...) {
		f.Add(b, false)
		f.Add(b, true)
	}
	f.Fuzz(func(t *testing.T, body string, request bool) {
		if request {
			s.do(t, "app", "POST", "auth/code/request", body)
			return
		}
		s.do(t, "app", "POST", "auth/code/confirm", body, "X-Session-Token", pending)
	})
}
