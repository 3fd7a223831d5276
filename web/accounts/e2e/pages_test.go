// Package e2e drives a tenant's hosted account pages (web/accounts and its
// MFA pages) with a real headless Chromium, against the whole server as
// `hallpass serve` assembles it, on a tenant with allauth's default
// settings.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/pquerna/otp/totp"

	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// A user of a tenant with default settings (HEADLESS_ONLY false, no
// frontend URLs) lives a whole account life on the hosted pages in
// Chromium: signs up and confirms the address by the mailed link,
// activates TOTP with the secret shown on the page, signs out, resets the
// password by the mailed key link, signs in with the new password and a
// TOTP code (keyboard only), adds a passkey (a CDP virtual authenticator),
// signs out and signs in with the password and the passkey. The browser
// client API on the same host answers each sign-in (and the sign-out) in
// the same cookie jar.
//
// allauth's defaults leave "webauthn" out of MFA_SUPPORTED_TYPES and
// passkey login (MFA_PASSKEY_LOGIN_ENABLED) off: the passkey step adds
// "webauthn" to the supported types, the one setting changed, and signs
// in with the key as the second factor.
//
// Throughout, no request leaves the tenant's origin, every page carries a
// CSP that forbids inline script and the console reports no CSP
// violation; the sign-in page does not scroll sideways at 360 px. Each
// step leaves a screenshot under $HALLPASS_ARTIFACTS/pages.
func TestHostedPagesEndToEnd(t *testing.T) {
	started := time.Now()
	p := startPlatform(t)
	ctx := context.Background()
	slug := testenv.Slug("e2e-pages")
	tn, err := p.store.Create(ctx, tenants.CreateInput{Slug: slug, Name: "Pages Inc."}, "e2e")
	if err != nil {
		t.Fatal(err)
	}
	if tn.Settings == nil || tn.Settings.HeadlessOnly || len(tn.Settings.FrontendURLs) != 0 {
		t.Fatalf("a new tenant's settings are not the defaults: %+v", tn.Settings)
	}
	base := p.URL + "/t/" + slug
	page := func(path string) string { return base + "/accounts/" + path }
	host := strings.TrimPrefix(p.URL, "http://")

	artifacts := artifactsDir(t)
	b := startBrowser(t, testenv.Chromium(t), artifacts)
	run, shot := b.run, b.shot

	const (
		username  = "ada"
		email     = "ada@example.com"
		password1 = "correct horse battery e2e"
		password2 = "new otter staple sings 41"
	)
	signOut := func(name string) {
		t.Helper()
		run("sign out",
			chromedp.Navigate(page("logout/")),
			at("/accounts/logout/"),
			chromedp.WaitVisible(submitButton("")),
			chromedp.Click(submitButton("")),
			at("/accounts/login/"),
			shot(name),
		)
	}

	// 1. Sign up, then confirm the address by the mailed link.
	run("sign up",
		chromedp.Navigate(page("signup/")),
		at("/accounts/signup/"),
		chromedp.WaitVisible(chromedp.CSS(`#id_username`)),
		chromedp.SendKeys(chromedp.CSS(`#id_username`), username),
		chromedp.SendKeys(chromedp.CSS(`#id_email`), email),
		chromedp.SendKeys(chromedp.CSS(`#id_password1`), password1),
		chromedp.SendKeys(chromedp.CSS(`#id_password2`), password1),
		shot("01-signup"),
		chromedp.Click(submitButton("id_username")),
		leaves("/accounts/signup/"),
		shot("02-signed-up"),
	)
	link := p.mailedLink(t, tn.ID, email, mail.KindEmailConfirmation)
	if !strings.HasPrefix(link, page("confirm-email/")) {
		t.Fatalf("confirmation link %q is not on the tenant's pages (%s)", link, page("confirm-email/"))
	}
	var emails string
	run("confirm the address",
		chromedp.Navigate(link),
		chromedp.WaitVisible(submitButton("")),
		shot("03-confirm-email"),
		chromedp.Click(submitButton("")),
		at("/accounts/email/"),
		textInto(chromedp.CSS(`main`), &emails),
		shot("04-email-confirmed"),
	)
	if !strings.Contains(emails, email) || !strings.Contains(emails, "Verified") {
		t.Fatalf("email page after confirming: %q", emails)
	}
	// 6. The browser client API on the same host shares the session (after
	// each sign-in below too).
	b.apiSession(base, "05-api-session-after-signup", true)

	// 4a. Activate TOTP with the secret shown on the page. (Done here, just
	// after signing up, so that the TOTP sign-in of 4b comes in a later
	// 30 s period without the test waiting for one: a code is good once.)
	var secret string
	run("open TOTP activation",
		chromedp.Navigate(page("2fa/totp/activate/")),
		at("/accounts/2fa/totp/activate/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="totp-secret"]`)),
		textInto(chromedp.CSS(`[data-testid="totp-secret"]`), &secret),
		shot("06-totp-activate"),
	)
	secret = strings.TrimSpace(secret)
	code, step := totpCode(t, secret)
	run("activate TOTP",
		chromedp.SendKeys(chromedp.CSS(`#id_code`), code),
		chromedp.Click(submitButton("id_code")),
		leaves("/accounts/2fa/totp/activate/"),
		shot("07-totp-activated"),
	)

	// 2. Sign out.
	signOut("08-signed-out")
	b.apiSession(base, "09-api-session-signed-out", false)

	// 3. Reset the password by the mailed key link.
	run("ask for a reset",
		chromedp.Navigate(page("password/reset/")),
		chromedp.WaitVisible(chromedp.CSS(`#id_email`)),
		chromedp.SendKeys(chromedp.CSS(`#id_email`), email),
		shot("10-password-reset"),
		chromedp.Click(submitButton("id_email")),
		at("/accounts/password/reset/done/"),
		shot("11-password-reset-done"),
	)
	link = p.mailedLink(t, tn.ID, email, mail.KindPasswordResetKey)
	if !strings.HasPrefix(link, page("password/reset/key/")) {
		t.Fatalf("reset link %q is not on the tenant's pages", link)
	}
	run("set the new password",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`#id_password1`)),
		chromedp.SendKeys(chromedp.CSS(`#id_password1`), password2),
		chromedp.SendKeys(chromedp.CSS(`#id_password2`), password2),
		shot("12-password-reset-key"),
		chromedp.Click(submitButton("id_password1")),
		at("/accounts/password/reset/key/done/"),
		shot("13-password-reset-key-done"),
	)

	// The sign-in page at 360 px: no horizontal scrolling.
	var scrollWidth int
	run("sign-in page at 360 px",
		chromedp.EmulateViewport(360, 740),
		chromedp.Navigate(page("login/")),
		at("/accounts/login/"),
		chromedp.WaitVisible(chromedp.CSS(`#id_login`)),
		evalInto(`document.documentElement.scrollWidth`, &scrollWidth),
		shot("14-sign-in-360px"),
		chromedp.EmulateViewport(1280, 900),
	)
	if scrollWidth > 360 {
		t.Errorf("the sign-in page scrolls sideways at 360 px: scrollWidth %d", scrollWidth)
	}

	// 4b. Sign in with the new password and a TOTP code, keyboard only: the
	// page focuses the first field, Tab moves to the password, Enter
	// submits; the code page focuses the code, Enter submits.
	b.keyboardSignIn(page("login/"), username, password2, "15-sign-in-keyboard")
	run("on to the second factor", at("/accounts/2fa/authenticate/"), shot("16-mfa-authenticate"))
	waited := time.Now()
	for _, now := totpCode(t, secret); now == step; _, now = totpCode(t, secret) {
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("waited %s for the next TOTP period", time.Since(waited).Round(time.Millisecond))
	code, _ = totpCode(t, secret)
	b.run("TOTP code by keyboard", focus("id_code"), chromedp.KeyEvent(code), shot("17-mfa-totp-code"), chromedp.KeyEvent(kb.Enter))
	run("signed in with TOTP", leaves("/accounts/2fa/authenticate/"), shot("18-signed-in-totp"))
	b.apiSession(base, "19-api-session-after-totp", true)

	// 5. Add a passkey: allauth's default MFA_SUPPORTED_TYPES lack
	// "webauthn", so the tenant turns it on (and only it; passkey login,
	// MFA_PASSKEY_LOGIN_ENABLED, stays off as by default).
	if _, err := p.store.UpdateSettings(ctx, slug, []byte(`{"MFA_SUPPORTED_TYPES": ["recovery_codes", "totp", "webauthn"]}`), "e2e"); err != nil {
		t.Fatal(err)
	}
	waitWebAuthn(t, base)
	b.virtualAuthenticator()
	var keys string
	run("add a passkey",
		chromedp.Navigate(page("2fa/webauthn/add/")),
		at("/accounts/2fa/webauthn/add/"),
		chromedp.WaitVisible(chromedp.CSS(`#id_name`)),
		chromedp.SendKeys(chromedp.CSS(`#id_name`), "E2E key"),
		shot("20-webauthn-add"),
		chromedp.Click(submitButton("id_name")),
		leaves("/accounts/2fa/webauthn/add/"),
		shot("21-webauthn-added"),
		chromedp.Navigate(page("2fa/webauthn/")),
		at("/accounts/2fa/webauthn/"),
		// Each key's name is the value of its rename field.
		evalInto(`[...document.querySelectorAll("main input[name=name]")].map(i => i.value).join("\n")`, &keys),
		shot("22-webauthn-listed"),
	)
	if !strings.Contains(keys, "E2E key") {
		t.Fatalf("the security keys page does not list the new key (names %q)", keys)
	}

	// Sign in with the password, then the passkey as the second factor.
	signOut("23-signed-out")
	b.passwordSignIn(page("login/"), username, password2)
	run("second factor: the passkey",
		at("/accounts/2fa/authenticate/"),
		chromedp.WaitVisible(chromedp.CSS(`form[data-webauthn] [data-webauthn-start]`)),
		shot("24-mfa-authenticate-passkey"),
		chromedp.Click(chromedp.CSS(`form[data-webauthn] [data-webauthn-start]`)),
		leaves("/accounts/2fa/authenticate/"),
		shot("25-signed-in-passkey"),
	)
	b.apiSession(base, "26-api-session-after-passkey", true)

	// No request left the tenant's origin; every page forbade inline
	// script; nothing was refused by the CSP.
	requests, documents, console := b.recorded()
	for _, u := range requests {
		if !sameHost(u, host) {
			t.Errorf("a request left the tenant's origin %s: %s", host, u)
		}
	}
	pages := 0
	for _, d := range documents {
		if !strings.Contains(d.url, "/accounts/") {
			continue
		}
		pages++
		if !forbidsInlineScript(d.csp) {
			t.Errorf("%s (%d): CSP %q does not forbid inline script", d.url, d.status, d.csp)
		}
	}
	if pages < 10 {
		t.Errorf("only %d pages seen by the network listener", pages)
	}
	for _, m := range console {
		if strings.Contains(m, "Content Security Policy") {
			t.Errorf("CSP violation during the flow: %s", m)
		}
	}
	// The listener does see a violation: an injected inline script is
	// refused, and reported.
	var ran bool
	run("inline script is refused",
		chromedp.Navigate(page("email/")),
		at("/accounts/email/"),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[any](`(() => { const s = document.createElement("script"); s.textContent = "window.e2eInline = true"; document.body.appendChild(s); return true })()`)(ctx, tg)
			return err
		}),
		chromedp.Sleep(200*time.Millisecond),
		evalInto(`window.e2eInline === true`, &ran),
	)
	if ran {
		t.Error("an inline script ran on the email page")
	}
	_, _, console = b.recorded()
	if !slices.ContainsFunc(console, func(m string) bool { return strings.Contains(m, "Content Security Policy") }) {
		t.Errorf("the refused inline script was not reported to the console listener: %q", console)
	}

	for _, s := range b.shots {
		info, err := os.Stat(s)
		if err != nil || info.Size() < 1000 {
			t.Errorf("screenshot %s missing or empty: %v", s, err)
		}
	}
	t.Logf("%d requests, %d pages, %d screenshots in %s; %s", len(requests), pages, len(b.shots), artifacts, time.Since(started).Round(time.Millisecond))
}

// apiSession opens the browser client API's session endpoint on the
// tenant's host in the tab (same cookies) and checks it answers 200 when
// signed in, 401 when not.
func (b *browser) apiSession(base, shotName string, signedIn bool) {
	b.t.Helper()
	var status int64
	var body string
	b.run("browser API session",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			res, err := chromedp.NavigateResponse(base+"/_allauth/browser/v1/auth/session")(ctx, tg)
			if err != nil {
				return err
			}
			status = res.Status
			return nil
		}),
		evalInto(`document.body.innerText`, &body),
		b.shot(shotName),
	)
	want := int64(401)
	if signedIn {
		want = 200
	}
	if status != want {
		b.t.Fatalf("GET _allauth/browser/v1/auth/session: %d, want %d: %s", status, want, body)
	}
	var doc struct {
		Meta struct {
			IsAuthenticated bool `json:"is_authenticated"`
		} `json:"meta"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || doc.Meta.IsAuthenticated != signedIn {
		b.t.Fatalf("auth/session answered %q", body)
	}
}

// keyboardSignIn signs in with keys only: the login field has the focus
// (the page autofocuses it; else Tab gets there), type, Tab, type, Enter.
func (b *browser) keyboardSignIn(loginURL, login, password, shotName string) {
	b.t.Helper()
	var focused string
	b.run("sign in by keyboard",
		chromedp.Navigate(loginURL),
		at("/accounts/login/"),
		chromedp.WaitVisible(chromedp.CSS(`#id_login`)),
		focus("id_login"),
		chromedp.KeyEvent(login),
		chromedp.KeyEvent(kb.Tab),
		evalInto(`document.activeElement.id`, &focused),
		chromedp.KeyEvent(password),
		b.shot(shotName),
		chromedp.KeyEvent(kb.Enter),
	)
	if focused != "id_password" {
		b.t.Fatalf("Tab from the login field went to %q, not the password", focused)
	}
}

// focus checks that the element with the given id has the keyboard focus,
// pressing Tab (at most eight times) to bring it there.
func focus(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		active := ""
		for range 9 {
			var err error
			active, err = chromedp.Evaluate[string](`document.activeElement ? document.activeElement.id : ""`)(ctx, tg)
			if err != nil || active == id {
				return err
			}
			if _, err := chromedp.KeyEvent(kb.Tab)(ctx, tg); err != nil {
				return err
			}
		}
		return fmt.Errorf("Tab never brought the focus to #%s (last on #%s)", id, active)
	})
}

// passwordSignIn fills and submits the sign-in form.
func (b *browser) passwordSignIn(loginURL, login, password string) {
	b.t.Helper()
	b.run("sign in with the password",
		chromedp.Navigate(loginURL),
		at("/accounts/login/"),
		chromedp.WaitVisible(chromedp.CSS(`#id_login`)),
		chromedp.SendKeys(chromedp.CSS(`#id_login`), login),
		chromedp.SendKeys(chromedp.CSS(`#id_password`), password),
		chromedp.Click(submitButton("id_login")),
		leaves("/accounts/login/"),
	)
}

// virtualAuthenticator gives the tab a CDP virtual authenticator (a
// platform authenticator with user verification, always present).
func (b *browser) virtualAuthenticator() {
	b.t.Helper()
	b.run("add a virtual authenticator", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2,
				Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
				HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
		return err
	}))
}

// totpCode is the TOTP code for now and the time step it belongs to
// (allauth's defaults: SHA-1, 6 digits, 30 s).
func totpCode(t *testing.T, secret string) (string, int64) {
	t.Helper()
	now := time.Now()
	code, err := totp.GenerateCode(secret, now)
	if err != nil {
		t.Fatalf("TOTP secret %q shown on the page: %v", secret, err)
	}
	return code, now.Unix() / 30
}

// waitWebAuthn waits (up to five seconds) until the tenant's browser
// config lists "webauthn" among the MFA types: settings reach the nodes
// over Redis pub/sub.
func waitWebAuthn(t *testing.T, base string) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		res, err := http.Get(base + "/_allauth/browser/v1/config")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		last = string(body)
		var doc struct {
			Data struct {
				MFA struct {
					SupportedTypes []string `json:"supported_types"`
				} `json:"mfa"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &doc) == nil && slices.Contains(doc.Data.MFA.SupportedTypes, "webauthn") {
			return
		}
	}
	t.Fatalf("the tenant's config still lacks webauthn: %s", last)
}

// forbidsInlineScript reports whether a CSP allows scripts from no inline
// source: script-src (or, without it, default-src) is present and names
// neither 'unsafe-inline' nor a wildcard.
func forbidsInlineScript(csp string) bool {
	directives := map[string]string{}
	for _, d := range strings.Split(csp, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		if name != "" {
			directives[strings.ToLower(name)] = value
		}
	}
	src, ok := directives["script-src"]
	if !ok {
		src, ok = directives["default-src"]
	}
	if !ok {
		return false
	}
	for _, s := range strings.Fields(src) {
		if s == "'unsafe-inline'" || s == "*" || s == "data:" || s == "http:" || s == "https:" {
			return false
		}
	}
	return true
}
