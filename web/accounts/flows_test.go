package accounts_test

import (
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
)

// mandatory is a tenant that signs users in by email and password, and
// makes them confirm their address first.
var mandatory = apitest.Settings{
	"ACCOUNT_LOGIN_METHODS":      []string{"email"},
	"ACCOUNT_SIGNUP_FIELDS":      []string{"email*", "password1*", "password2*"},
	"ACCOUNT_EMAIL_VERIFICATION": "mandatory",
	// The sign-up waiting for its address completes when it is confirmed.
	"ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION": true,
}

// The whole life of an account on the pages, each mailed link followed:
// sign up, confirm, sign out, reset the password, sign in with the new one.
func TestPagesAccountLife(t *testing.T) {
	env := apitest.New(t, mandatory)
	b := newBrowser(t, env)
	prefix := "/t/" + env.Tenant.Slug

	signup := b.get("/accounts/signup/").status(200).contains(`<label for="id_email">`, `<label for="id_password2">`)
	res := b.submit(signup, map[string]string{"email": "ana@example.com", "password1": "correct horse battery", "password2": "correct horse battery"})
	res.redirects(prefix + "/accounts/confirm-email/")
	b.follow(res).status(200).contains("Verify Your Email Address")
	if code, _ := b.api("GET", "auth/session", ""); code != 401 {
		t.Fatalf("signed in before confirming: %d", code)
	}

	link := mailedLink(t, env, 1)
	if !strings.HasPrefix(link, apitest.PublicURL+prefix+"/accounts/confirm-email/") {
		t.Fatalf("confirmation link %q", link)
	}
	confirm := b.get(link).status(200).contains("Confirm Email Address", "ana@example.com")
	res = b.submit(confirm, nil)
	res.redirects(prefix + "/accounts/email/")
	b.follow(res).status(200).contains("ana@example.com", "Verified", "Primary")
	if code, _ := b.api("GET", "auth/session", ""); code != 200 {
		t.Fatalf("API session after confirming on the page: %d", code)
	}
	// The used link is now an invalid one.
	b.get(link).status(200) // an address already verified still inspects…
	logout := b.get("/accounts/logout/").status(200)
	b.submit(logout, nil).redirects(prefix + "/accounts/login/")

	reset := b.get("/accounts/password/reset/").status(200)
	b.submit(reset, map[string]string{"email": "ana@example.com"}).redirects(prefix + "/accounts/password/reset/done/")
	link = mailedLink(t, env, 2)
	if !strings.Contains(link, prefix+"/accounts/password/reset/key/") {
		t.Fatalf("reset link %q", link)
	}
	form := b.get(link).status(200).contains("Change Password")
	// Mismatched passwords keep the form, tied to the second field.
	b.submit(form, map[string]string{"password1": "new horse battery staple", "password2": "other"}).status(400).
		contains(`aria-describedby="id_password2_error"`, "You must type the same password each time.")
	res = b.submit(form, map[string]string{"password1": "new horse battery staple", "password2": "new horse battery staple"})
	res.redirects(prefix + "/accounts/password/reset/key/done/")
	b.follow(res).status(200).contains("Your password is now changed.")
	// The key is spent: allauth's bad-token page.
	b.get(link).status(404).contains("Bad Token", "The password reset link was invalid")

	login := b.get("/accounts/login/").status(200)
	b.submit(login, map[string]string{"login": "ana@example.com", "password": "correct horse battery"}).status(400)
	b.submit(login, map[string]string{"login": "ana@example.com", "password": "new horse battery staple"}).redirects(prefix + "/accounts/email/")
	if code, body := b.api("GET", "auth/session", ""); code != 200 {
		t.Fatalf("API session after page login: %d %v", code, body)
	}
}

// Tampered keys show allauth's invalid-link pages, never JSON.
func TestPagesTamperedKeys(t *testing.T) {
	env := apitest.New(t, mandatory)
	b := newBrowser(t, env)
	for _, key := range []string{"abc", "1.2.AAAA", "%3Cscript%3E", strings.Repeat("x", 300)} {
		b.get("/accounts/confirm-email/" + key + "/").status(404).contains("This email confirmation link expired or is invalid.")
		b.get("/accounts/password/reset/key/" + key + "/").status(404).contains("Bad Token")
	}
	// A real key with a changed signature.
	signup := b.get("/accounts/signup/")
	b.submit(signup, map[string]string{"email": "bo@example.com", "password1": "correct horse battery", "password2": "correct horse battery"})
	link := mailedLink(t, env, 1)
	tampered := link[:len(link)-3] + "AA/"
	if tampered == link {
		tampered = link[:len(link)-3] + "BB/"
	}
	b.get(tampered).status(404).contains("This email confirmation link expired or is invalid.")
	p := b.get(link).status(200)
	// Posting to a tampered key is refused the same way.
	tu, _ := url.Parse(tampered)
	b.post(tu.Path, p.form().values).status(404).contains("expired or is invalid")
}

// `next` is followed to the tenant's own pages and frontend origins only.
func TestPagesNext(t *testing.T) {
	settings := apitest.Settings{
		"ACCOUNT_LOGIN_METHODS":      []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":      []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "none",
		"HEADLESS_FRONTEND_URLS":     map[string]string{"account_signup": "https://app.example.com/signup"},
	}
	env := apitest.New(t, settings)
	b := newBrowser(t, env)
	signupByAPI(t, b, "cy@example.com", "correct horse battery")
	prefix := "/t/" + env.Tenant.Slug
	for _, tc := range []struct{ next, want string }{
		{prefix + "/accounts/sessions/", prefix + "/accounts/sessions/"},
		{"https://app.example.com/welcome", "https://app.example.com/welcome"},
		{"//evil.example/", prefix + "/accounts/email/"},
		{"/\\evil.example/", prefix + "/accounts/email/"},
		{"https:evil.example", prefix + "/accounts/email/"},
		{"https://evil.example/", prefix + "/accounts/email/"},
		{"https://app.example.com@evil.example/", prefix + "/accounts/email/"},
		{"/%2F%2Fevil.example", prefix + "/accounts/email/"},
		{"/t/other/accounts/email/", prefix + "/accounts/email/"},
	} {
		login := b.get("/accounts/login/?next=" + url.QueryEscape(tc.next)).status(200)
		res := b.submit(login, map[string]string{"login": "cy@example.com", "password": "correct horse battery"})
		if res.code != 303 || res.location() != tc.want {
			t.Errorf("next %q: %d to %q, want %q", tc.next, res.code, res.location(), tc.want)
		}
		b.submit(b.get("/accounts/logout/").status(200), nil)
	}
}

// A feature off in settings is absent from the pages as from the API.
func TestPagesGatedBySettings(t *testing.T) {
	env := apitest.New(t, apitest.Settings{"ACCOUNT_LOGIN_BY_CODE_ENABLED": false, "HALLPASS_APPS": []string{"socialaccount", "mfa"},
		"HALLPASS_SIGNUP_OPEN": false})
	b := newBrowser(t, env)
	b.get("/accounts/login/code/").status(404)
	b.get("/accounts/sessions/").status(404)
	b.get("/accounts/signup/").status(403).contains("Sign Up Closed")
	social := apitest.New(t, apitest.Settings{"SOCIALACCOUNT_ONLY": true, "ACCOUNT_EMAIL_VERIFICATION": "none",
		"HALLPASS_APPS": []string{"socialaccount", "usersessions"}})
	sb := newBrowser(t, social)
	for _, p := range []string{"/accounts/login/", "/accounts/signup/", "/accounts/password/reset/", "/accounts/email/"} {
		sb.get(p).status(404)
	}
}

// What a user typed comes back escaped, in values and in text.
func TestPagesEscapeUserText(t *testing.T) {
	env := apitest.New(t, apitest.Settings{
		"ACCOUNT_LOGIN_METHODS":      []string{"username"},
		"ACCOUNT_SIGNUP_FIELDS":      []string{"username*", "email", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "none",
	})
	b := newBrowser(t, env)
	evil := `<script>alert(1)</script>"'`
	signup := b.get("/accounts/signup/").status(200)
	res := b.submit(signup, map[string]string{"username": evil, "email": "not an email <b>", "password1": "correct horse battery"}).status(400)
	if strings.Contains(res.body, "<script>alert") || strings.Contains(res.body, "<b>") {
		t.Fatalf("user text rendered unescaped:\n%s", res.body)
	}
	res.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
	login := b.get("/accounts/login/?next=" + url.QueryEscape(`/"><script>x</script>`)).status(200)
	if strings.Contains(login.body, "<script>x") {
		t.Fatalf("next rendered unescaped:\n%s", login.body)
	}
}

// The keys of mailed links never reach the access log.
func TestPagesKeysNotLogged(t *testing.T) {
	var logged strings.Builder
	var mu sync.Mutex
	env := apitest.NewWithLog(t, mandatory, slog.New(slog.NewTextHandler(lockedWriter{&mu, &logged}, nil)))
	b := newBrowser(t, env)
	signup := b.get("/accounts/signup/")
	b.submit(signup, map[string]string{"email": "gu@example.com", "password1": "correct horse battery", "password2": "correct horse battery"})
	link := mailedLink(t, env, 1)
	b.get(link).status(200)
	b.get("/accounts/password/reset/key/abc-def/?x=1").status(404)
	key := strings.TrimSuffix(link[strings.Index(link, "/confirm-email/")+len("/confirm-email/"):], "/")
	mu.Lock()
	out := logged.String()
	mu.Unlock()
	if strings.Contains(out, key) || strings.Contains(out, "abc-def") {
		t.Fatalf("a key reached the log:\n%s", out)
	}
	if !strings.Contains(out, "/accounts/confirm-email/REDACTED/") || !strings.Contains(out, "/accounts/password/reset/key/REDACTED/?x=1") {
		t.Fatalf("the log lacks the redacted paths:\n%s", out)
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// A tenant on allauth's defaults (username login, email optional): the
// pages sign up and sign in, with no settings at all.
func TestPagesDefaultSettings(t *testing.T) {
	env := apitest.New(t, nil)
	b := newBrowser(t, env)
	signup := b.get("/accounts/signup/").status(200).contains(`<label for="id_username">`, `<label for="id_email">`, `<label for="id_password1">`)
	values := map[string]string{"username": "jo", "email": "jo@example.com", "password1": "correct horse battery"}
	if len(signup.form().values["password2"]) > 0 || strings.Contains(signup.body, `id="id_password2"`) {
		values["password2"] = "correct horse battery"
	}
	res := b.submit(signup, values).redirects("/accounts/email/")
	b.follow(res).status(200).contains("jo@example.com", "Unverified")
	b.submit(b.get("/accounts/logout/").status(200), nil)
	login := b.get("/accounts/login/").status(200).contains(`<label for="id_login">Username`)
	b.submit(login, map[string]string{"login": "jo", "password": "correct horse battery"}).redirects("/accounts/email/")
}

// With ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED the sign-up waits on the
// code form, and the mailed code completes it.
func TestPagesVerifyEmailByCode(t *testing.T) {
	env := apitest.New(t, apitest.Settings{
		"ACCOUNT_LOGIN_METHODS":                      []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":                      []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION":                 "mandatory",
		"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true,
	})
	b := newBrowser(t, env)
	res := b.submit(b.get("/accounts/signup/"), map[string]string{"email": "ka@example.com", "password1": "correct horse battery"})
	form := b.follow(res.redirects("/accounts/confirm-email/")).status(200).contains("Enter Email Verification Code")
	m := codeInMail.FindStringSubmatch(env.WaitMail(t, 1).Text)
	if m == nil {
		t.Fatal("no code in the verification mail")
	}
	b.submit(form, map[string]string{"code": "NOPE-NOPE"}).status(400).contains(`id="id_code_error"`, `value="NOPE-NOPE"`)
	b.submit(form, map[string]string{"code": m[1]}).redirects("/accounts/email/")
	if code, _ := b.api("GET", "auth/session", ""); code != 200 {
		t.Fatalf("API session after the code: %d", code)
	}
}
