package accounts_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/mfa/webauthntest"
)

// keyForm is the page's WebAuthn form (the one with a credential field)
// and its options endpoint.
func keyForm(t *testing.T, p *page) (form, string) {
	t.Helper()
	for _, f := range p.forms {
		if _, ok := f.values["credential"]; ok {
			m := regexp.MustCompile(`data-webauthn-options="([^"]+)"`).FindStringSubmatch(p.body)
			if m == nil {
				t.Fatalf("no options endpoint:\n%s", p.body)
			}
			return f, m[1]
		}
	}
	t.Fatalf("%s: no WebAuthn form in\n%s", p.url, p.body)
	return form{}, ""
}

// ceremony does what static/mfa-webauthn.js does: post the form's fields
// to the options endpoint and hand the options to the authenticator.
func ceremony(t *testing.T, b *browser, p *page, extra url.Values, run func(opts []byte) ([]byte, error)) (form, string) {
	t.Helper()
	f, endpoint := keyForm(t, p)
	values := url.Values{}
	for k, v := range f.values {
		values[k] = v
	}
	for k, v := range extra {
		values[k] = v
	}
	res := b.post(endpoint, values).status(200)
	if !strings.HasPrefix(res.body, `{"publicKey":`) || res.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("options: %v %s", res.header, res.body)
	}
	cred, err := run([]byte(res.body))
	if err != nil {
		t.Fatal(err)
	}
	return f, string(cred)
}

// submitForm posts a parsed form with values set over its own.
func submitForm(b *browser, p *page, f form, values map[string]string) *page {
	b.t.Helper()
	v := url.Values{}
	for k, vs := range f.values {
		v[k] = append([]string(nil), vs...)
	}
	for k, val := range values {
		v.Set(k, val)
	}
	target, _ := p.url.Parse(f.action)
	return b.post(target.String(), v)
}

// Security keys and passkeys on the pages, through the API's ceremony
// code, with a virtual authenticator doing what the page's script asks the
// browser: a passkey is added (and the API sees it), renamed, used as the
// second step of a password sign-in (a wrong-origin assertion refused on
// the page), used alone to sign in, and removed.
func TestPagesWebAuthn(t *testing.T) {
	env := apitest.New(t, mfaTenant(apitest.Settings{"MFA_SUPPORTED_TYPES": []string{"recovery_codes", "totp", "webauthn"},
		"MFA_PASSKEY_LOGIN_ENABLED": true, "MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN": true}))
	b := newBrowser(t, env)
	const email, password = "dee@example.com", "correct horse battery"
	signupByAPI(t, b, email, password)
	signInByPage(b, email, password).redirects("/accounts/email/")
	auth := webauthntest.New(apitest.PublicURL, apitest.PlatformHost)

	b.get("/accounts/2fa/").status(200).contains(`data-testid="keys-state">No security keys have been added.`)
	add := b.get("/accounts/2fa/webauthn/add/").status(200).contains(`data-webauthn="create"`, "<noscript>")
	script := regexp.MustCompile(`<script src="([^"]+mfa-webauthn\.[0-9a-f]+\.js)" defer>`).FindStringSubmatch(add.body)
	if script == nil {
		t.Fatalf("no fingerprinted script:\n%s", add.body)
	}
	js := b.get(script[1]).status(200)
	if !strings.Contains(js.header.Get("Content-Type"), "javascript") || !strings.Contains(js.header.Get("Cache-Control"), "immutable") {
		t.Fatalf("script answer: %v", js.header)
	}
	// Without a credential (no JavaScript), the page says why.
	b.submit(add, map[string]string{"name": "Phone"}, "2fa/webauthn/add/").status(400).contains("need JavaScript")
	f, cred := ceremony(t, b, add, url.Values{"passwordless": {"on"}}, func(opts []byte) ([]byte, error) {
		return auth.Create(opts, true, true)
	})
	submitForm(b, add, f, map[string]string{"name": "Phone", "passwordless": "on", "credential": cred}).
		redirects("/accounts/2fa/recovery-codes/")
	if _, body := b.api("GET", "account/authenticators", ""); !strings.Contains(jsonText(body), `"name":"Phone"`) {
		t.Fatalf("the API does not see the page's key: %v", body)
	}
	keys := b.get("/accounts/2fa/webauthn/").status(200).contains(`value="Phone"`, "Passkey")
	b.submit(keys, map[string]string{"name": "Laptop"}, "/edit/").redirects("/accounts/2fa/webauthn/")
	keys = b.get("/accounts/2fa/webauthn/").status(200).contains(`value="Laptop"`)

	// The second step of a password sign-in, with the key.
	b.submit(b.get("/accounts/logout/").status(200), nil).status(303)
	stage := b.follow(signInByPage(b, email, password).redirects("/accounts/2fa/authenticate/")).status(200)
	stage.contains("Use a security key", `data-webauthn="get"`)
	f, bad := ceremony(t, b, stage, nil, func(opts []byte) ([]byte, error) {
		return auth.Get(opts, webauthntest.GetOptions{Origin: "http://evil.test", UserVerified: true})
	})
	refused := submitForm(b, stage, f, map[string]string{"credential": bad}).status(400).contains("Incorrect code.")
	f, good := ceremony(t, b, refused, nil, func(opts []byte) ([]byte, error) {
		return auth.Get(opts, webauthntest.GetOptions{UserVerified: true})
	})
	submitForm(b, refused, f, map[string]string{"credential": good}).redirects("/accounts/email/")
	if code, body := b.api("GET", "auth/session", ""); code != 200 || !strings.Contains(jsonText(body), `"type":"webauthn"`) {
		t.Fatalf("after the key the API session is %d %v", code, body)
	}

	// A passkey alone signs in.
	b.submit(b.get("/accounts/logout/").status(200), nil).status(303)
	login := b.get("/accounts/2fa/webauthn/login/").status(200).contains("Sign in with a passkey")
	f, assertion := ceremony(t, b, login, nil, func(opts []byte) ([]byte, error) {
		return auth.Get(opts, webauthntest.GetOptions{UserVerified: true, CredentialID: auth.Credentials()[0].ID})
	})
	submitForm(b, login, f, map[string]string{"credential": assertion}).redirects("/accounts/email/")
	if code, body := b.api("GET", "auth/session", ""); code != 200 || !strings.Contains(jsonText(body), `"passwordless":true`) {
		t.Fatalf("passkey sign-in: %d %v", code, body)
	}

	// Removing it.
	remove := b.get(regexp.MustCompile(`href="([^"]+/remove/)"`).FindStringSubmatch(keys.body)[1]).status(200).contains("Laptop")
	b.submit(remove, nil).redirects("/accounts/2fa/webauthn/")
	b.get("/accounts/2fa/webauthn/").status(200).contains("No security keys have been added.")
	// Without MFA_PASSKEY_LOGIN_ENABLED there is no passkey sign-in page.
	newBrowser(t, apitest.New(t, mfaTenant(apitest.Settings{"MFA_SUPPORTED_TYPES": []string{"webauthn"}}))).
		get("/accounts/2fa/webauthn/login/").status(404)
}
