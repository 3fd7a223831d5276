package account_test

import (
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
)

// ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS bounds a link's life; a used code
// cannot be replayed; a code past ACCOUNT_EMAIL_VERIFICATION_BY_CODE_TIMEOUT
// ends the process; a pending login dies with ACCOUNT_LOGIN_TIMEOUT.
func TestExpiryAndReplay(t *testing.T) {
	t.Run("link expires", func(t *testing.T) {
		env := apitest.New(t, with(emailOnly, apitest.Settings{
			"ACCOUNT_EMAIL_VERIFICATION":             "mandatory",
			"ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS": 1,
			"HEADLESS_FRONTEND_URLS":                 map[string]string{"account_confirm_email": "https://app.example.com/verify/{key}"},
		}))
		fe := env.Client("app")
		fe.Do("POST", "auth/signup", `{"email":"lee@example.com","password":"correct horse battery"}`).Status(401)
		key := linkKey.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
		env.Accounts.Now = func() time.Time { return time.Now().Add(25 * time.Hour) }
		fe.Do("POST", "auth/email/verify", `{"key":"`+key+`"}`).Status(400).Error("key", "invalid_or_expired_key")
		env.Accounts.Now = nil
		// Verified; without ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION the login is not completed.
		fe.Do("POST", "auth/email/verify", `{"key":"`+key+`"}`).Status(401)
		fe.Do("POST", "auth/login", `{"email":"lee@example.com","password":"correct horse battery"}`).Status(200)
		// A tampered key fails.
		tampered := key[:len(key)-2] + "AA"
		if tampered != key {
			env.Client("app").Do("GET", "auth/email/verify", "", "X-Email-Verification-Key", tampered).Status(400).Error("key", "invalid_or_expired_key")
		}
	})
	t.Run("code replay and timeout", func(t *testing.T) {
		env := apitest.New(t, with(emailOnly, apitest.Settings{
			"ACCOUNT_EMAIL_VERIFICATION":                 "mandatory",
			"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true,
			"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_TIMEOUT": 60,
		}))
		fe := env.Client("app")
		fe.Do("POST", "auth/signup", `{"email":"max@example.com","password":"correct horse battery"}`).Status(401)
		code := codeLine.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
		fe.Do("POST", "auth/email/verify", `{"key":"`+code+`"}`).Status(200)
		fe.Do("POST", "auth/email/verify", `{"key":"`+code+`"}`).Status(409) // replay: no process left

		late := env.Client("app")
		late.Do("POST", "auth/signup", `{"email":"ned@example.com","password":"correct horse battery"}`).Status(401)
		code = codeLine.FindStringSubmatch(env.WaitMail(t, 2).Text)[1]
		env.Accounts.Now = func() time.Time { return time.Now().Add(61 * time.Second) }
		late.Do("POST", "auth/email/verify", `{"key":"`+code+`"}`).Status(409)
	})
	t.Run("pending login times out", func(t *testing.T) {
		env := apitest.New(t, with(emailOnly, apitest.Settings{
			"ACCOUNT_EMAIL_VERIFICATION": "mandatory",
			"ACCOUNT_LOGIN_TIMEOUT":      1,
		}))
		fe := env.Client("app")
		fe.Do("POST", "auth/signup", `{"email":"oz@example.com","password":"correct horse battery"}`).Status(401)
		res := fe.Do("GET", "auth/session", "").Status(401)
		if !strings.Contains(string(res.Body), `"verify_email","is_pending":true`) {
			t.Fatalf("pending: %s", res.Body)
		}
		time.Sleep(1200 * time.Millisecond)
		// The pending state lived in Redis with the login timeout as its TTL.
		fe.Do("GET", "auth/session", "").Status(410)
	})
}

// Mail goes out as the tenant: its name and HALLPASS_EMAIL_FROM, with a
// text part carrying the link plainly and an HTML alternative.
func TestMailSenderAndParts(t *testing.T) {
	env := apitest.New(t, with(emailOnly, apitest.Settings{
		"ACCOUNT_EMAIL_VERIFICATION": "mandatory",
		"HALLPASS_EMAIL_FROM":        "Acme Accounts <accounts@acme.example>",
		"HEADLESS_FRONTEND_URLS":     map[string]string{"account_confirm_email": "https://app.example.com/verify?key={key}"},
	}))
	env.Client("browser").Do("POST", "auth/signup", `{"email":"pat@example.com","password":"correct horse battery"}`).Status(401)
	msg := env.WaitMail(t, 1)
	if msg.From != "accounts@acme.example" || !strings.Contains(msg.Header.Get("From"), "Acme Accounts") {
		t.Fatalf("sender: %q / %q", msg.From, msg.Header.Get("From"))
	}
	if !strings.Contains(msg.Text, "https://app.example.com/verify?key=") || msg.HTML == "" || !strings.Contains(msg.Subject, "Confirm") {
		t.Fatalf("parts: subject %q text %q html %d bytes", msg.Subject, msg.Text, len(msg.HTML))
	}
}
