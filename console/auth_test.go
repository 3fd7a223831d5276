package console_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/console"
)

// Signing in with the right password opens a session whose cookie is
// HttpOnly, SameSite=Strict and scoped to /console/; a wrong password is
// refused without saying which half was wrong; both are audited.
func TestSignIn(t *testing.T) {
	e := newEnv(t)
	admin := e.user("signin", true)
	b := e.browser()

	b.get("/console/tenants").status(303)
	bad := b.signIn(admin.Email, "wrong password").status(401).contains("do not match a console account")
	if strings.Contains(bad.Header.Get("Set-Cookie"), console.CookieName+"=") {
		t.Fatal("a failed sign-in set the session cookie")
	}
	b.signIn("nobody@example.com", testPassword).status(401).contains("do not match a console account")

	res := b.signIn(strings.ToUpper(admin.Email), testPassword).status(303)
	if res.Location() != "/console/" {
		t.Fatalf("redirect to %q", res.Location())
	}
	var cookie string
	for _, c := range res.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, console.CookieName+"=") {
			cookie = strings.ToLower(c)
		}
	}
	for _, attr := range []string{"httponly", "samesite=strict", "path=/console/"} {
		if !strings.Contains(cookie, attr) {
			t.Errorf("session cookie %q lacks %s", cookie, attr)
		}
	}
	if strings.Contains(cookie, "secure") {
		t.Errorf("cookie is Secure on an http console: %q", cookie)
	}
	b.get("/console/tenants").status(200).contains("Tenants", admin.Email)

	actions := e.auditActions(uuid.Nil)
	for _, want := range []string{"console.login", "console.login.failed"} {
		if !slices.Contains(actions, want) {
			t.Errorf("platform audit lacks %s: %v", want, actions)
		}
	}
}

// Behind https the session cookie is Secure.
func TestSignInSecureCookie(t *testing.T) {
	e := newEnv(t, func(c *console.Config) { c.PublicURL = "https://console.test" })
	admin := e.user("secure", true)
	res := e.browser().signIn(admin.Email, testPassword).status(303)
	if !strings.Contains(strings.ToLower(strings.Join(res.Header.Values("Set-Cookie"), "\n")), "secure") {
		t.Fatalf("cookies not Secure: %v", res.Header.Values("Set-Cookie"))
	}
}

// The sign-in form carries its own CSRF token (double-submitted in a
// cookie): a post without it is refused and opens no session.
func TestSignInNeedsFormToken(t *testing.T) {
	e := newEnv(t)
	admin := e.user("logincsrf", true)
	b := e.browser()
	b.do("POST", "/console/login", url.Values{"email": {admin.Email}, "password": {testPassword}}, nil).
		status(403).contains("expired")
	b.get("/console/login")
	b.do("POST", "/console/login", url.Values{"email": {admin.Email}, "password": {testPassword}, "_csrf": {"forged"}}, nil).status(403)
	if _, ok := b.cookies[console.CookieName]; ok {
		t.Fatal("session opened without the form token")
	}
}

// After LoginLimit failures from one address, sign-in is refused for the
// window, even with the right password, and the refusal is audited.
func TestSignInRateLimited(t *testing.T) {
	const window = 2 * time.Second
	e := newEnv(t, func(c *console.Config) { c.LoginLimit, c.LoginWindow = 3, window })
	admin := e.user("limit", true)
	b := e.browser()
	for range 3 {
		b.signIn(admin.Email, "nope").status(401)
	}
	res := b.signIn(admin.Email, testPassword).status(429).contains("Too many failed sign-ins")
	if res.Header.Get("Retry-After") != "2" {
		t.Errorf("Retry-After %q, want the window", res.Header.Get("Retry-After"))
	}
	if !slices.Contains(e.auditActions(uuid.Nil), "console.login.throttled") {
		t.Error("throttled sign-in not audited")
	}
	// The counts live in Redis, timed by its clock: the window passes in
	// real time, and refused attempts do not extend it.
	deadline := time.Now().Add(window + 15*time.Second)
	for {
		res := b.signIn(admin.Email, testPassword)
		if res.Code == 303 {
			break
		}
		res.status(429)
		if time.Now().After(deadline) {
			t.Fatal("still refused long after the window")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A session ends after 30 idle minutes, and after 12 hours however busy.
func TestSessionTimeouts(t *testing.T) {
	e := newEnv(t)
	admin := e.user("idle", true)

	b := e.session(admin)
	e.clock.Advance(29 * time.Minute)
	b.get("/console/tenants").status(200)
	e.clock.Advance(29 * time.Minute) // idle 29 min since the last request
	b.get("/console/tenants").status(200)
	e.clock.Advance(31 * time.Minute)
	res := b.get("/console/tenants").status(303)
	if !strings.HasPrefix(res.Location(), "/console/login?next=") {
		t.Fatalf("idle session went to %q", res.Location())
	}

	busy := e.session(admin)
	start := e.clock.Now()
	for range 12 * 3 {
		e.clock.Advance(20 * time.Minute)
		if r := busy.get("/console/account"); r.Code != 200 {
			if elapsed := e.clock.Now().Sub(start); elapsed < 12*time.Hour {
				t.Fatalf("busy session ended after %s", elapsed)
			}
			return
		}
	}
	t.Fatal("a busy session outlived the 12 hour limit")
}

// Signing out ends this session; signing out everywhere ends them all, and
// a form replayed afterwards changes nothing.
func TestSignOut(t *testing.T) {
	e := newEnv(t)
	owner := e.user("signout", false)
	tn := e.tenant("signout")
	e.grant(tn, owner, console.RoleOwner)

	a, b, c := e.session(owner), e.session(owner), e.session(owner)
	res := a.post("/console/logout", nil).status(303)
	if res.Location() != "/console/login?signed_out=1" {
		t.Fatalf("logout went to %q", res.Location())
	}
	a.get("/console/tenants").status(303)
	b.get("/console/tenants").status(200)

	csrf := c.csrf
	b.post("/console/logout-everywhere", nil).status(303)
	b.get("/console/tenants").status(303)
	c.get("/console/tenants").status(303)

	// c's rename form, replayed with its old token after the sign-out.
	c.post("/console/t/"+tn.Slug+"/rename", url.Values{"name": {"Replayed"}, "_csrf": {csrf}}).status(303)
	if got := e.reload(tn.Slug).Name; got == "Replayed" {
		t.Fatal("a replayed post renamed the tenant")
	}
	n, err := e.con.Sessions().Count(context.Background(), owner.ID)
	if err != nil || n != 0 {
		t.Fatalf("sessions left: %d, %v", n, err)
	}
}

// Every POST needs the session's CSRF token; a missing, wrong or other
// session's token, or a cross-site request, is refused with a clear page
// and changes nothing.
func TestCSRFRefused(t *testing.T) {
	e := newEnv(t)
	admin := e.user("csrf", true)
	tn := e.tenant("csrf")
	b := e.session(admin)
	other := e.session(admin)
	path := "/console/t/" + tn.Slug + "/rename"

	for name, form := range map[string]url.Values{
		"missing":       {"name": {"Forged"}, "_csrf": {""}},
		"wrong":         {"name": {"Forged"}, "_csrf": {"AAAA" + b.csrf[4:]}},
		"other session": {"name": {"Forged"}, "_csrf": {other.csrf}},
	} {
		t.Run(name, func(t *testing.T) {
			b.post(path, form).status(403).contains("Form expired", "Nothing was changed")
		})
	}
	t.Run("cross-site", func(t *testing.T) {
		b.do("POST", path, url.Values{"name": {"Forged"}, "_csrf": {b.csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"}).status(403)
		b.do("POST", path, url.Values{"name": {"Forged"}, "_csrf": {b.csrf}}, map[string]string{"Origin": "https://evil.example"}).status(403)
	})
	if got := e.reload(tn.Slug).Name; got != tn.Name {
		t.Fatalf("name changed to %q", got)
	}
	b.post(path, url.Values{"name": {"Genuine"}}).status(303)
	if got := e.reload(tn.Slug).Name; got != "Genuine" {
		t.Fatalf("genuine rename failed: %q", got)
	}
}

// The sign-in page sends people back where they were going, and only
// inside the console.
func TestSignInNext(t *testing.T) {
	e := newEnv(t)
	admin := e.user("next", true)
	for next, want := range map[string]string{
		"/console/account":        "/console/account",
		"https://evil.example/":   "/console/",
		"//evil.example/console/": "/console/",
	} {
		b := e.browser()
		page := b.get("/console/login?next=" + url.QueryEscape(next)).status(200)
		m := csrfRE.FindStringSubmatch(page.Body)
		res := b.do("POST", "/console/login", url.Values{"email": {admin.Email}, "password": {testPassword}, "_csrf": {m[1]}, "next": {next}}, nil).status(303)
		if res.Location() != want {
			t.Errorf("next %q: went to %q, want %q", next, res.Location(), want)
		}
	}
}
