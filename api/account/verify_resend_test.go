package account_test

import (
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
)

// A code sent to an address the user then deleted cannot be resent: the
// process ends with allauth's 409, not a server error.
func TestResendCodeForDeletedAddress(t *testing.T) {
	env := apitest.New(t, apitest.Settings{
		"ACCOUNT_LOGIN_METHODS": []string{"email"}, "ACCOUNT_SIGNUP_FIELDS": []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "mandatory", "ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true,
		"ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_RESEND": true, "ACCOUNT_RATE_LIMITS": map[string]any{"confirm_email": false},
	})
	c := env.Client("app")
	c.Do("POST", "auth/signup", `{"email":"nia@example.com","password":"correct horse battery"}`).Status(401)
	m := fuzzCodeLine.FindStringSubmatch(env.WaitMailTo(t, "nia@example.com", 1).Text)
	if m == nil {
		t.Fatal("no code in the verification mail")
	}
	c.Do("POST", "auth/email/verify", `{"key":"`+m[1]+`"}`).Status(200)
	c.Do("POST", "account/email", `{"email":"nia.second@example.com"}`).Status(200)
	c.Do("DELETE", "account/email", `{"email":"nia.second@example.com"}`).Status(200)
	c.Do("POST", "auth/email/verify/resend", "").Status(409)
	c.Do("POST", "auth/email/verify/resend", "").Status(409)
}
