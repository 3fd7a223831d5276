package account_test

import (
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
)

// The token a client holds before a login completes (a pending flow's
// session, or a planted cookie) is not the one it holds after: the login
// issues a new session token and the old one dies (ASVS 7.2.4, session
// fixation).
func TestSessionTokenRenewedOnLogin(t *testing.T) {
	settings := with(emailOnly, apitest.Settings{
		"ACCOUNT_EMAIL_VERIFICATION":          "mandatory",
		"ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION": true,
		"HEADLESS_FRONTEND_URLS":              map[string]string{"account_confirm_email": "https://app.example.com/verify/{key}"},
	})
	t.Run("app", func(t *testing.T) {
		env := apitest.New(t, settings)
		fe := env.Client("app")
		fe.Do("POST", "auth/signup", `{"email":"rex@example.com","password":"correct horse battery"}`).Status(401)
		pending := fe.Token
		if pending == "" {
			t.Fatal("no token for the pending flow")
		}
		key := linkKey.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
		fe.Do("POST", "auth/email/verify", `{"key":"`+key+`"}`).Status(200)
		if fe.Token == "" || fe.Token == pending {
			t.Fatalf("the login kept the pending token")
		}
		old := env.Client("app")
		old.Token = pending
		old.Do("GET", "auth/session", "").Status(410)
		fe.Do("GET", "auth/session", "").Status(200)
	})
	t.Run("browser", func(t *testing.T) {
		env := apitest.New(t, settings)
		fe := env.Client("browser")
		fe.Do("POST", "auth/signup", `{"email":"sue@example.com","password":"correct horse battery"}`).Status(401)
		pending := fe.Cookie("sessionid")
		if pending == "" {
			t.Fatal("no session cookie for the pending flow")
		}
		key := linkKey.FindStringSubmatch(env.WaitMail(t, 1).Text)[1]
		fe.Do("POST", "auth/email/verify", `{"key":"`+key+`"}`).Status(200)
		if now := fe.Cookie("sessionid"); now == "" || now == pending {
			t.Fatalf("the login kept the pending session cookie")
		}
		planted := env.Client("browser")
		planted.SetCookie("sessionid", pending)
		planted.Do("GET", "auth/session", "").Status(401)
	})
}

// A session ends HALLPASS_SESSION_COOKIE_AGE after the login that made it,
// however it is used meanwhile (ASVS 7.3.2, absolute lifetime).
func TestSessionAbsoluteLifetime(t *testing.T) {
	env := apitest.New(t, with(emailOnly, apitest.Settings{"ACCOUNT_EMAIL_VERIFICATION": "none", "HALLPASS_SESSION_COOKIE_AGE": 2}))
	app, browser := env.Client("app"), env.Client("browser")
	// Each session lives 2 s from its creation. The app's is created after
	// start, so it is alive until at least start+2s whatever the machine's
	// speed; both are dead 2 s after the browser's login returned.
	start := time.Now()
	app.Do("POST", "auth/signup", `{"email":"tom@example.com","password":"correct horse battery"}`).Status(200)
	browser.Do("POST", "auth/login", `{"email":"tom@example.com","password":"correct horse battery"}`).Status(200)
	loggedIn := time.Now()
	for time.Now().Before(start.Add(1700 * time.Millisecond)) {
		app.Do("GET", "auth/session", "").Status(200) // in use all along
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(time.Until(loggedIn.Add(2*time.Second)) + 200*time.Millisecond)
	app.Do("GET", "auth/session", "").Status(410)
	browser.Do("GET", "auth/session", "").Status(401)
}
