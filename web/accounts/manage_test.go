package accounts_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/mfa"
)

// open is a tenant without verification, signing in by email.
var open = apitest.Settings{
	"ACCOUNT_LOGIN_METHODS":         []string{"email"},
	"ACCOUNT_SIGNUP_FIELDS":         []string{"email*", "password1*"},
	"ACCOUNT_EMAIL_VERIFICATION":    "none",
	"ACCOUNT_LOGIN_BY_CODE_ENABLED": true,
}

// signIn signs b in on the page.
func signIn(t *testing.T, b *browser, email, password string) {
	t.Helper()
	login := b.get("/accounts/login/").status(200)
	b.submit(login, map[string]string{"login": email, "password": password}).redirects("/accounts/email/")
}

var codeInMail = regexp.MustCompile(`(?m)^\s*([A-Z0-9]{3,}(?:-[A-Z0-9]+)*)\s*$`)

// Sign in by a mailed code: request, confirm; a wrong code keeps the form.
func TestPagesLoginByCode(t *testing.T) {
	env := apitest.New(t, open)
	b := newBrowser(t, env)
	signupByAPI(t, b, "di@example.com", "correct horse battery")
	b.get("/accounts/login/").status(200).contains("Send me a sign-in code")
	req := b.get("/accounts/login/code/").status(200)
	res := b.submit(req, map[string]string{"email": "di@example.com"})
	res.redirects("/accounts/login/code/confirm/")
	confirm := b.follow(res).status(200).contains("Enter Sign-In Code")
	msg := env.WaitMail(t, 1)
	m := codeInMail.FindStringSubmatch(msg.Text)
	if m == nil {
		t.Fatalf("no code in:\n%s", msg.Text)
	}
	b.submit(confirm, map[string]string{"code": "WRONG1"}).status(400).contains(`id="id_code_error"`)
	b.submit(confirm, map[string]string{"code": m[1]}).redirects("/accounts/email/")
	if code, _ := b.api("GET", "auth/session", ""); code != 200 {
		t.Fatalf("API session after code login: %d", code)
	}
	// Nothing pending: the confirm page sends the signed-in user on.
	b.get("/accounts/login/code/confirm/").redirects("/accounts/email/")
}

// The email page adds, re-sends, makes primary and removes addresses
// through the same rules as the API; signed out it asks to sign in.
func TestPagesEmailManagement(t *testing.T) {
	env := apitest.New(t, emailLogin)
	b := newBrowser(t, env)
	b.get("/accounts/email/").redirects("/accounts/login/?next=%2Ft%2F" + env.Tenant.Slug + "%2Faccounts%2Femail%2F")
	signupByAPI(t, b, "el@example.com", "correct horse battery")
	signIn(t, b, "el@example.com", "correct horse battery")
	page := b.get("/accounts/email/").status(200).contains("el@example.com", "Primary")

	res := b.post("/accounts/email/", formWith(page, 1, "action_add", "1", "email", "second@example.com"))
	res.redirects("/accounts/email/?done=added")
	page = b.follow(res).status(200).contains("second@example.com", "Confirmation email sent.")
	// A bad address stays in the add form, tied to its field.
	b.post("/accounts/email/", formWith(page, 1, "action_add", "1", "email", "not-an-address")).status(400).
		contains(`value="not-an-address"`, `id="id_email_error"`)
	// The primary address cannot be removed (the API's rule); the error
	// is tied to the list.
	b.post("/accounts/email/", formWith(page, 0, "action_remove", "1", "email", "el@example.com")).status(400).
		contains(`aria-describedby="email_list_errors"`, `id="email_list_errors"`)
	// The add mailed a link to the pages; following it verifies the address.
	msg := env.WaitMailTo(t, "second@example.com", 1)
	link := linkInMail.FindString(msg.Text)
	if link == "" {
		t.Fatalf("no link in:\n%s", msg.Text)
	}
	confirm := b.get(link).status(200).contains("second@example.com")
	b.follow(b.submit(confirm, nil).redirects("/accounts/email/")).status(200).contains("second@example.com")
	// The address is verified now: nothing more is sent.
	b.post("/accounts/email/", formWith(page, 0, "action_send", "1", "email", "second@example.com")).status(400).
		contains("No confirmation email was sent")
	b.post("/accounts/email/", formWith(page, 0, "action_remove", "1", "email", "second@example.com")).redirects("?done=removed")
	page = b.get("/accounts/email/").status(200)
	if strings.Contains(page.body, "second@example.com") {
		t.Fatal("removed address still listed")
	}
	_, body := b.api("GET", "account/email", "")
	if data, _ := body["data"].([]any); len(data) != 1 {
		t.Fatalf("API addresses after page changes: %v", body)
	}
}

// formWith is the page's i-th form's values with pairs set.
func formWith(p *page, i int, pairs ...string) map[string][]string {
	p.t.Helper()
	if i >= len(p.forms) {
		p.t.Fatalf("no form %d in\n%s", i, p.body)
	}
	v := map[string][]string{}
	for k, vs := range p.forms[i].values {
		v[k] = append([]string(nil), vs...)
	}
	for j := 0; j+1 < len(pairs); j += 2 {
		v[pairs[j]] = []string{pairs[j+1]}
	}
	return v
}

// Changing the password needs the current one, keeps the session and
// ends the others; the sessions page lists and ends the other sessions.
func TestPagesPasswordAndSessions(t *testing.T) {
	env := apitest.New(t, open)
	b := newBrowser(t, env)
	signupByAPI(t, b, "fi@example.com", "correct horse battery")
	other := newBrowser(t, env)
	signIn(t, other, "fi@example.com", "correct horse battery")
	signIn(t, b, "fi@example.com", "correct horse battery")

	b.get("/accounts/password/set/").redirects("/accounts/password/change/")
	sessions := b.get("/accounts/sessions/").status(200).contains("Current", "Sign Out Other Sessions")
	if n := strings.Count(sessions.body, "<tr>"); n < 3 {
		t.Fatalf("sessions listed: %d rows\n%s", n, sessions.body)
	}
	b.submit(sessions, nil).redirects("/accounts/sessions/?done=ended")
	if code, _ := other.api("GET", "auth/session", ""); code != 401 {
		t.Fatalf("other session after ending it: %d", code)
	}
	signIn(t, other, "fi@example.com", "correct horse battery")

	change := b.get("/accounts/password/change/").status(200).contains(`<label for="id_oldpassword">`)
	b.submit(change, map[string]string{"oldpassword": "wrong", "password1": "new horse battery staple", "password2": "new horse battery staple"}).
		status(400).contains(`id="id_oldpassword_error"`)
	b.submit(change, map[string]string{"oldpassword": "correct horse battery", "password1": "new horse battery staple", "password2": "new horse battery staple"}).
		status(200).contains("Password successfully changed.")
	if code, _ := b.api("GET", "auth/session", ""); code != 200 {
		t.Fatalf("own session after change: %d", code)
	}
	if code, _ := other.api("GET", "auth/session", ""); code != 401 {
		t.Fatalf("other session after change: %d", code)
	}
}

// With ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED the reset mails a code the
// pages take, then the new password.
func TestPagesPasswordResetByCode(t *testing.T) {
	env := apitest.New(t, apitest.Settings{
		"ACCOUNT_LOGIN_METHODS":                  []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":                  []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION":             "none",
		"ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED": true,
	})
	b := newBrowser(t, env)
	signupByAPI(t, b, "ha@example.com", "correct horse battery")
	b.get("/accounts/password/reset/code/confirm/").redirects("/accounts/password/reset/")
	res := b.submit(b.get("/accounts/password/reset/").status(200), map[string]string{"email": "ha@example.com"})
	res.redirects("/accounts/password/reset/code/confirm/")
	confirm := b.follow(res).status(200).contains("Enter Password Reset Code")
	m := codeInMail.FindStringSubmatch(env.WaitMail(t, 1).Text)
	if m == nil {
		t.Fatal("no code in the reset mail")
	}
	b.submit(confirm, map[string]string{"code": "WRONG-CODE"}).status(400).contains(`id="id_code_error"`)
	pw := b.submit(confirm, map[string]string{"code": m[1]}).status(200).contains(`<label for="id_password1">`)
	res = b.submit(pw, map[string]string{"password1": "new horse battery staple", "password2": "new horse battery staple"})
	res.redirects("/accounts/password/reset/key/done/")
	signIn(t, b, "ha@example.com", "new horse battery staple")
}

// A sign-in that needs the second factor is left pending exactly as the
// headless flow leaves it, and goes to the MFA stage's page.
func TestPagesSignInWaitsForMFA(t *testing.T) {
	env := apitest.New(t, apitest.Settings{
		"ACCOUNT_LOGIN_METHODS":      []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":      []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "none",
		"MFA_SUPPORTED_TYPES":        []string{"totp", "recovery_codes"},
		"MFA_ALLOW_UNVERIFIED_EMAIL": true,
		"MFA_TOTP_TOLERANCE":         1,
	})
	fe := env.Client("browser")
	fe.Do("POST", "auth/signup", `{"email":"ib@example.com","password":"correct horse battery"}`).Status(200)
	secret, _ := fe.Do("GET", "account/authenticators/totp", "").Status(404).Path("meta.secret").(string)
	code := mfa.TOTPCode(secret, time.Now(), env.Tenant.Settings)
	fe.Do("POST", "account/authenticators/totp", `{"code":"`+code+`"}`).Status(200)
	b := newBrowser(t, env)

	login := b.get("/accounts/login/?next=" + url.QueryEscape("/t/"+env.Tenant.Slug+"/accounts/sessions/")).status(200)
	res := b.submit(login, map[string]string{"login": "ib@example.com", "password": "correct horse battery"})
	res.redirects("/accounts/2fa/authenticate/?next=%2Ft%2F" + env.Tenant.Slug + "%2Faccounts%2Fsessions%2F")
	status, body := b.api("GET", "auth/session", "")
	flows, _ := body["data"].(map[string]any)["flows"].([]any)
	pendingMFA := false
	for _, f := range flows {
		if m := f.(map[string]any); m["id"] == "mfa_authenticate" && m["is_pending"] == true {
			pendingMFA = true
		}
	}
	if status != 401 || !pendingMFA {
		t.Fatalf("API session after the page's password step: %d %v", status, body)
	}
}
