package accounts_test

import (
	"encoding/json"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/hallpass/hallpass/api/apitest"
	domain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/web/accounts/mfapages"
)

// mfaTenant signs in by email and allows one step of TOTP clock drift, so
// a test can sign in with the next period's code after activating with
// this one's (a code is accepted once).
func mfaTenant(extra apitest.Settings) apitest.Settings {
	s := apitest.Settings{"MFA_TOTP_TOLERANCE": 1, "MFA_ALLOW_UNVERIFIED_EMAIL": true}
	for k, v := range emailLogin {
		s[k] = v
	}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

// signInByPage posts the sign-in form and returns the answer.
func signInByPage(b *browser, email, password string) *page {
	b.t.Helper()
	return b.submit(b.get("/accounts/login/").status(200), map[string]string{"login": email, "password": password})
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return code
}

var (
	secretRE   = regexp.MustCompile(`data-testid="totp-secret">([A-Z2-7]+)<`)
	recoveryRE = regexp.MustCompile(`<li><code>([^<]+)</code></li>`)
)

// TOTP through the pages end to end: activation shows the library's QR
// code of exactly the API's otpauth URI and, with a code from the app,
// activates it (the API sees it) and shows recovery codes; sign-in then
// stops at /accounts/2fa/authenticate/, refuses a wrong code on the field,
// and completes with a recovery code or the app's next code, the session
// shared with the browser API and its methods recording MFA.
func TestPagesTOTP(t *testing.T) {
	env := apitest.New(t, mfaTenant(nil))
	b := newBrowser(t, env)
	const email, password = "ada@example.com", "correct horse battery"
	signupByAPI(t, b, email, password)
	signInByPage(b, email, password).redirects("/accounts/email/")

	b.get("/accounts/2fa/").status(200).contains(`data-testid="totp-state">An authenticator app is not active.`)
	act := b.get("/accounts/2fa/totp/activate/").status(200)
	m := secretRE.FindStringSubmatch(act.body)
	if m == nil {
		t.Fatalf("no secret shown:\n%s", act.body)
	}
	secret := m[1]
	uri := domain.TOTPURL(secret, email, env.Tenant.Name, env.Tenant.Settings)
	svg, err := mfapages.QRCodeSVG(uri, "QR code of the authenticator secret")
	if err != nil {
		t.Fatal(err)
	}
	act.contains(svg, `autocomplete="one-time-code"`)
	if strings.Contains(act.body, "<script") || strings.Contains(act.body, "style=") {
		t.Fatal("the activation page has inline script or style")
	}

	// A wrong code: the form again, error on the field, same secret.
	bad := b.submit(act, map[string]string{"code": "000000"}).status(400)
	bad.contains("Incorrect code.", `aria-invalid="true"`, secret)
	done := b.submit(bad, map[string]string{"code": totpCode(t, secret, time.Now())}).redirects("/accounts/2fa/recovery-codes/")
	codesPage := b.follow(done).status(200).contains(`data-testid="recovery-codes"`)
	codes := recoveryRE.FindAllStringSubmatch(codesPage.body, -1)
	if len(codes) < 2 {
		t.Fatalf("recovery codes not shown:\n%s", codesPage.body)
	}
	if code, body := b.api("GET", "account/authenticators", ""); code != 200 || !strings.Contains(jsonText(body), `"type":"totp"`) {
		t.Fatalf("the API does not see the page's TOTP: %d %v", code, body)
	}
	dl := b.get("/accounts/2fa/recovery-codes/download/").status(200)
	if !strings.Contains(dl.header.Get("Content-Disposition"), "attachment") || !strings.HasPrefix(dl.body, html.UnescapeString(codes[0][1])+"\n") {
		t.Fatalf("download: %v %q", dl.header, dl.body)
	}
	b.get("/accounts/2fa/").status(200).contains("Authentication using an authenticator app is active.", "recovery codes available")

	// Sign out; sign in stops at the MFA stage.
	b.submit(b.get("/accounts/logout/").status(200), nil).status(303)
	stage := signInByPage(b, email, password).redirects("/accounts/2fa/authenticate/")
	if code, _ := b.api("GET", "auth/session", ""); code != 401 {
		t.Fatalf("half-way through MFA the API session is %d", code)
	}
	form := b.follow(stage).status(200).contains("two-factor authentication", `name="code"`, "autofocus")
	wrong := b.submit(form, map[string]string{"code": "123456"}).status(400).contains("Incorrect code.", `id="id_code_error"`)
	b.submit(wrong, map[string]string{"code": html.UnescapeString(codes[0][1])}).redirects("/accounts/email/")
	code, body := b.api("GET", "auth/session", "")
	if code != 200 || !strings.Contains(jsonText(body), `"method":"mfa"`) || !strings.Contains(jsonText(body), `"type":"recovery_codes"`) {
		t.Fatalf("after the MFA page the API session is %d %v", code, body)
	}
	// The used recovery code is spent.
	b.submit(b.get("/accounts/logout/").status(200), nil).status(303)
	again := b.follow(signInByPage(b, email, password)).status(200)
	b.submit(again, map[string]string{"code": html.UnescapeString(codes[0][1])}).status(400).contains("Incorrect code.")
	b.submit(again, map[string]string{"code": totpCode(t, secret, time.Now().Add(30*time.Second))}).redirects("/accounts/email/")
	if code, body := b.api("GET", "auth/session", ""); code != 200 || !strings.Contains(jsonText(body), `"type":"totp"`) {
		t.Fatalf("TOTP sign-in: %d %v", code, body)
	}
	// The stage page without a pending sign-in goes on (here: signed in).
	b.get("/accounts/2fa/authenticate/").redirects("/accounts/email/")
}

// Management pages ask for the password again once the authentication is
// older than ACCOUNT_REAUTHENTICATION_TIMEOUT, come back to the page after
// it, and deactivating TOTP there removes it for the API too.
func TestPagesReauthenticate(t *testing.T) {
	env := apitest.New(t, mfaTenant(apitest.Settings{"ACCOUNT_REAUTHENTICATION_TIMEOUT": 2}))
	b := newBrowser(t, env)
	const email, password = "bo@example.com", "correct horse battery"
	signupByAPI(t, b, email, password)
	signInByPage(b, email, password).redirects("/accounts/email/")
	act := b.get("/accounts/2fa/totp/activate/").status(200)
	secret := secretRE.FindStringSubmatch(act.body)[1]
	b.submit(act, map[string]string{"code": totpCode(t, secret, time.Now())}).status(303)

	time.Sleep(2500 * time.Millisecond)
	here := "/t/" + env.Tenant.Slug + "/accounts/2fa/totp/deactivate/"
	to := b.get("/accounts/2fa/totp/deactivate/").redirects("/accounts/reauthenticate/?next=" + url.QueryEscape(here))
	reauth := b.follow(to).status(200).contains(`name="password"`, "Use an authenticator code instead")
	b.submit(reauth, map[string]string{"password": "wrong password"}).status(400).contains(`id="id_password_error"`)
	back := b.submit(reauth, map[string]string{"password": password}).redirects(here)
	confirm := b.follow(back).status(200).contains("Deactivate Authenticator App")
	b.submit(confirm, nil).redirects("/accounts/2fa/")
	if _, body := b.api("GET", "account/authenticators", ""); strings.Contains(jsonText(body), `"type":"totp"`) {
		t.Fatalf("TOTP still active: %v", body)
	}

	// Reauthentication by code (for users without a password, and offered
	// to everyone with MFA).
	act = b.get("/accounts/2fa/totp/activate/").status(200)
	secret = secretRE.FindStringSubmatch(act.body)[1]
	b.submit(act, map[string]string{"code": totpCode(t, secret, time.Now())}).status(303)
	time.Sleep(2500 * time.Millisecond)
	mfa := b.get("/accounts/2fa/reauthenticate/?next=" + url.QueryEscape("/t/"+env.Tenant.Slug+"/accounts/2fa/")).status(200)
	b.submit(mfa, map[string]string{"code": "000000"}).status(400).contains("Incorrect code.")
	b.submit(mfa, map[string]string{"code": totpCode(t, secret, time.Now().Add(30*time.Second))}).redirects("/accounts/2fa/")
	b.get("/accounts/2fa/recovery-codes/").status(200).contains(`data-testid="recovery-codes"`)
}

// A feature off in settings is absent from the pages as from the API.
func TestPagesMFAGates(t *testing.T) {
	noMFA := newBrowser(t, apitest.New(t, mfaTenant(apitest.Settings{"HALLPASS_APPS": []string{"socialaccount", "usersessions"}})))
	for _, p := range []string{"/accounts/2fa/", "/accounts/2fa/authenticate/", "/accounts/2fa/totp/activate/", "/accounts/2fa/recovery-codes/",
		"/accounts/2fa/reauthenticate/", "/accounts/2fa/trust/"} {
		noMFA.get(p).status(404)
	}
	codesOnly := newBrowser(t, apitest.New(t, mfaTenant(apitest.Settings{"MFA_SUPPORTED_TYPES": []string{"recovery_codes"}})))
	codesOnly.get("/accounts/2fa/totp/activate/").status(404)
	codesOnly.get("/accounts/2fa/totp/deactivate/").status(404)
	codesOnly.get("/accounts/2fa/").redirects("/accounts/login/?next=%2Ft%2F" + codesOnly.env.Tenant.Slug + "%2Faccounts%2F2fa%2F")
	totpOnly := newBrowser(t, apitest.New(t, mfaTenant(apitest.Settings{"MFA_SUPPORTED_TYPES": []string{"totp"}})))
	totpOnly.get("/accounts/2fa/recovery-codes/").status(404)
	totpOnly.get("/accounts/2fa/trust/").status(404) // MFA_TRUST_ENABLED is off by default

	// MFA_ALLOW_UNVERIFIED_EMAIL off: the API's refusal, in words.
	strict := newBrowser(t, apitest.New(t, mfaTenant(apitest.Settings{"MFA_ALLOW_UNVERIFIED_EMAIL": false})))
	signupByAPI(t, strict, "cy@example.com", "correct horse battery")
	signInByPage(strict, "cy@example.com", "correct horse battery").redirects("/accounts/email/")
	strict.get("/accounts/2fa/totp/activate/").status(400).contains("until you have verified your email address")
}

// jsonText is v as compact JSON, for substring checks.
func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
