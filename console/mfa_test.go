package console_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/mfa/webauthntest"
	"github.com/hallpass/hallpass/tenants"
)

// totpSettings are the console's TOTP parameters, to compute codes as an
// authenticator app does.
var totpSettings = &tenants.Settings{MFATOTPDigits: 6, MFATOTPPeriod: 30}

const securityURL = "/console/account/security"

// reauth types the password again on the Security page.
func (b *browser) reauth() {
	b.e.t.Helper()
	b.post(securityURL+"/reauth", url.Values{"password": {testPassword}}).status(303)
}

// enrollTOTP sets up an authenticator app (the browser must be signed in
// and reauthenticated) and returns its secret and the recovery codes shown.
func (b *browser) enrollTOTP() (string, []string) {
	t := b.e.t
	t.Helper()
	page := b.get(securityURL + "/totp").status(200).contains("otpauth://totp/")
	secret := regexpFind(t, page.Body, `id="totp-secret">([A-Z2-7]+)<`)
	code := mfa.TOTPCode(secret, b.e.clock.Now(), totpSettings)
	res := b.post(securityURL+"/totp", url.Values{"code": {code}}).status(200).contains("Authenticator app enabled", "not shown again")
	return secret, recoveryCodes(t, res.Body)
}

func recoveryCodes(t *testing.T, body string) []string {
	t.Helper()
	codes := strings.Fields(regexpFind(t, body, `(?s)id="recovery-codes">([0-9\s]+)</code>`))
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown: %v", len(codes), codes)
	}
	return codes
}

// signedInUser signs u in with the password (no second factor yet) and
// confirms the password for security changes.
func (e *env) signedInUser(prefix string) (*console.User, *browser) {
	e.t.Helper()
	u := e.user(prefix, false)
	b := e.browser()
	b.signIn(u.Email, testPassword).status(303)
	if !b.signedIn() {
		e.t.Fatal("password sign-in opened no session")
	}
	b.reauth()
	return u, b
}

// signedIn reports whether the browser has a live session (and picks up
// its form token).
func (b *browser) signedIn() bool {
	return b.get("/console/account").Code == 200
}

func (b *browser) signOut() {
	b.e.t.Helper()
	b.post("/console/logout", nil).status(303)
	if b.signedIn() {
		b.e.t.Fatal("still signed in after signing out")
	}
}

// startMFA types the password of a user with a second factor and returns
// the second step's form token; no session may be open yet.
func (b *browser) startMFA(email string) string {
	t := b.e.t
	t.Helper()
	res := b.signIn(email, testPassword).status(303)
	if res.Location() != "/console/login/mfa" {
		t.Fatalf("password step went to %q, want the second step", res.Location())
	}
	if _, ok := b.cookies[console.CookieName]; ok {
		t.Fatal("a session cookie was set before the second factor")
	}
	if b.signedIn() {
		t.Fatal("signed in after the password alone")
	}
	page := b.get("/console/login/mfa").status(200).contains("Two-factor authentication", email)
	return regexpFind(t, page.Body, `name="_csrf" value="([^"]+)"`)
}

// code posts a code at the second step.
func (b *browser) code(csrf, code string) *response {
	return b.do("POST", "/console/login/mfa", url.Values{"_csrf": {csrf}, "code": {code}}, nil)
}

func wrongCode(code string) string {
	n, _ := strconv.Atoi(code)
	return fmt.Sprintf("%06d", (n+500000)%1000000)
}

func (e *env) hasAudit(action string) bool {
	return slices.Contains(e.auditActions(uuid.Nil), action)
}

// TOTP end to end: once enrolled, the password alone opens no session; a
// wrong code is refused and audited, the right one opens the session, and
// the same code replayed later (still within its window) is refused while
// the next step's code passes.
func TestTOTPSignIn(t *testing.T) {
	e := newEnv(t)
	u, b := e.signedInUser("totp")
	secret, _ := b.enrollTOTP()
	if !e.hasAudit("console.mfa.totp.enable") || !e.hasAudit("console.mfa.recovery_codes.generate") {
		t.Fatalf("enrollment not audited: %v", e.auditActions(uuid.Nil))
	}
	b.get(securityURL).status(200).contains("On", "10</span> of 10 codes unused")
	var sealed string
	if err := e.pool.QueryRow(context.Background(), `SELECT data FROM console_authenticators WHERE user_id = $1 AND type = 'totp'`, u.ID).
		Scan(&sealed); err != nil || strings.Contains(sealed, secret) {
		t.Fatalf("TOTP secret stored in clear (or not at all): %v", err)
	}
	b.signOut()

	e.clock.Advance(30 * time.Second) // past the step used to enroll
	csrf := b.startMFA(u.Email)
	code := mfa.TOTPCode(secret, e.clock.Now(), totpSettings)
	b.code(csrf, wrongCode(code)).status(401).contains("not right")
	if b.signedIn() || !e.hasAudit("console.login.failed") {
		t.Fatal("a wrong code signed in, or was not audited")
	}
	res := b.code(csrf, code).status(303)
	if res.Location() != "/console/" || !b.signedIn() {
		t.Fatalf("the right code went to %q without a session", res.Location())
	}
	b.signOut()

	e.clock.Advance(10 * time.Second) // the same 30-second step, or the next (tolerance 1)
	csrf = b.startMFA(u.Email)
	b.code(csrf, code).status(401)
	if b.signedIn() {
		t.Fatal("a replayed TOTP code signed in")
	}
	e.clock.Advance(30 * time.Second)
	b.code(csrf, mfa.TOTPCode(secret, e.clock.Now(), totpSettings)).status(303)
	if !b.signedIn() {
		t.Fatal("the next step's code did not sign in")
	}
}

// Each recovery code signs in once; the page then counts it as used.
func TestRecoveryCodeSignIn(t *testing.T) {
	e := newEnv(t)
	u, b := e.signedInUser("recovery")
	_, codes := b.enrollTOTP()
	b.signOut()

	csrf := b.startMFA(u.Email)
	b.code(csrf, codes[3]).status(303)
	if !b.signedIn() {
		t.Fatal("a recovery code did not sign in")
	}
	b.get(securityURL).status(200).contains("9</span> of 10 codes unused")
	b.signOut()

	csrf = b.startMFA(u.Email)
	b.code(csrf, codes[3]).status(401)
	if b.signedIn() {
		t.Fatal("a used recovery code signed in again")
	}
	b.code(csrf, codes[4]).status(303)
	if !b.signedIn() {
		t.Fatal("another recovery code did not sign in")
	}
}

// Regenerating recovery codes shows a new set once and retires the old one.
func TestRegenerateRecoveryCodes(t *testing.T) {
	e := newEnv(t)
	u, b := e.signedInUser("regen")
	_, old := b.enrollTOTP()
	fresh := recoveryCodes(t, b.post(securityURL+"/recovery-codes", nil).status(200).contains("old ones no longer work").Body)
	if slices.Equal(old, fresh) {
		t.Fatal("the same codes came back")
	}
	b.get(securityURL).status(200).lacks(fresh[0]) // shown once only
	b.signOut()
	csrf := b.startMFA(u.Email)
	b.code(csrf, old[0]).status(401)
	b.code(csrf, fresh[0]).status(303)
}

// optionsJSON asks a WebAuthn options endpoint with a form token.
func (b *browser) optionsJSON(path, csrf string) *response {
	b.e.t.Helper()
	return b.do("POST", path, url.Values{"_csrf": {csrf}}, map[string]string{"X-CSRF-Token": csrf})
}

// addPasskey runs the registration ceremony with a software authenticator.
func (b *browser) addPasskey(auth *webauthntest.Authenticator, name string) *response {
	t := b.e.t
	t.Helper()
	opts := b.optionsJSON(securityURL+"/passkeys/options", b.csrf).status(200)
	cred, err := auth.Create([]byte(opts.Body), true, true)
	if err != nil {
		t.Fatalf("authenticator refused the creation options %s: %v", opts.Body, err)
	}
	return b.post(securityURL+"/passkeys", url.Values{"credential": {string(cred)}, "name": {name}})
}

// A passkey registered on the Security page (the console's relying party,
// verified by internal/mfa) becomes the second step: the assertion opens
// the session, a replayed one is refused; the passkey can be renamed and
// removed, and with it goes the second step.
func TestPasskeySecondFactor(t *testing.T) {
	e := newEnv(t)
	u, b := e.signedInUser("passkey")
	auth := webauthntest.New("http://console.test", "console.test")
	b.addPasskey(auth, "Office laptop").status(200).contains(`Passkey &#34;Office laptop&#34; added`, "not shown again")
	if !e.hasAudit("console.mfa.webauthn.add") {
		t.Fatal("adding a passkey was not audited")
	}
	b.get(securityURL).status(200).contains("Office laptop")
	// The same authenticator cannot register twice (excluded credentials).
	opts := b.optionsJSON(securityURL+"/passkeys/options", b.csrf).status(200)
	if _, err := auth.Create([]byte(opts.Body), true, true); err == nil {
		t.Fatal("the registered credential was not excluded")
	}
	b.signOut()

	csrf := b.startMFA(u.Email)
	b.get("/console/login/mfa").contains("Use a passkey")
	opts = b.optionsJSON("/console/login/mfa/passkey/options", csrf).status(200)
	assertion, err := auth.Get([]byte(opts.Body), webauthntest.GetOptions{UserVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	res := b.do("POST", "/console/login/mfa/passkey", url.Values{"_csrf": {csrf}, "credential": {string(assertion)}}, nil).status(303)
	if res.Location() != "/console/" || !b.signedIn() {
		t.Fatalf("the passkey went to %q without a session", res.Location())
	}
	b.signOut()

	// A recorded assertion does not pass a new ceremony.
	csrf = b.startMFA(u.Email)
	b.optionsJSON("/console/login/mfa/passkey/options", csrf).status(200)
	b.do("POST", "/console/login/mfa/passkey", url.Values{"_csrf": {csrf}, "credential": {string(assertion)}}, nil).
		status(401).contains("not accepted")
	if b.signedIn() {
		t.Fatal("a replayed assertion signed in")
	}
	// Nor the right passkey answering no ceremony at all.
	fresh, err := auth.Get([]byte(opts.Body), webauthntest.GetOptions{UserVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	b.do("POST", "/console/login/mfa/passkey", url.Values{"_csrf": {csrf}, "credential": {string(fresh)}}, nil).status(401)
	opts = b.optionsJSON("/console/login/mfa/passkey/options", csrf).status(200)
	assertion, _ = auth.Get([]byte(opts.Body), webauthntest.GetOptions{UserVerified: true})
	b.do("POST", "/console/login/mfa/passkey", url.Values{"_csrf": {csrf}, "credential": {string(assertion)}}, nil).status(303)
	if !b.signedIn() {
		t.Fatal("a fresh assertion did not sign in")
	}

	b.reauth()
	id := regexpFind(t, b.get(securityURL).Body, `/passkeys/(\d+)/rename`)
	b.post(securityURL+"/passkeys/"+id+"/rename", url.Values{"name": {"Desk key"}}).status(303)
	b.get(securityURL).contains("Desk key").lacks("Office laptop")
	b.post(securityURL+"/passkeys/"+id+"/remove", nil).status(303)
	b.get(securityURL).contains("No passkeys yet", "recovery codes were removed too")
	for _, a := range []string{"console.mfa.webauthn.rename", "console.mfa.webauthn.remove"} {
		if !e.hasAudit(a) {
			t.Errorf("%s not audited", a)
		}
	}
	b.signOut()
	if res := b.signIn(u.Email, testPassword).status(303); res.Location() != "/console/" {
		t.Fatalf("with no factor left, the password went to %q", res.Location())
	}
}

// recoveryCodesOf counts the stored recovery-code sets of a console user.
func recoveryCodesOf(t *testing.T, e *env, u *console.User) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM console_authenticators WHERE user_id = $1 AND type = 'recovery_codes'`,
		u.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// "Sign in with a passkey" on the sign-in page: a discoverable credential
// that verifies its user opens its owner's session without email or
// password; one without user verification, or of no console user, does not.
func TestPasskeySignIn(t *testing.T) {
	e := newEnv(t)
	u, b := e.signedInUser("passkey-login")
	auth := webauthntest.New("http://console.test", "console.test")
	b.addPasskey(auth, "Phone").status(200)
	b.signOut()

	anon := e.browser()
	page := anon.get("/console/login").status(200).contains("Sign in with a passkey")
	token := regexpFind(t, page.Body, `name="_csrf" value="([^"]+)"`)
	opts := anon.optionsJSON("/console/login/passkey/options", token).status(200)
	if strings.Contains(opts.Body, "allowCredentials") && !strings.Contains(opts.Body, `"allowCredentials":[]`) {
		t.Fatalf("passkey sign-in named credentials: %s", opts.Body)
	}
	noUV, err := auth.Get([]byte(opts.Body), webauthntest.GetOptions{})
	if err == nil {
		anon.do("POST", "/console/login/passkey", url.Values{"_csrf": {token}, "credential": {string(noUV)}}, nil).status(401)
	}
	// The software authenticator refuses options requiring verification
	// without it; force the assertion through to check the server too.
	opts = anon.optionsJSON("/console/login/passkey/options", token).status(200)
	forced := strings.Replace(opts.Body, `"userVerification":"required"`, `"userVerification":"preferred"`, 1)
	if forced == opts.Body {
		t.Fatalf("passkey sign-in does not require user verification: %s", opts.Body)
	}
	noUV, err = auth.Get([]byte(forced), webauthntest.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	anon.do("POST", "/console/login/passkey", url.Values{"_csrf": {token}, "credential": {string(noUV)}}, nil).
		status(401).contains("not accepted")
	if anon.signedIn() {
		t.Fatal("a passkey without user verification signed in")
	}

	opts = anon.optionsJSON("/console/login/passkey/options", token).status(200)
	assertion, err := auth.Get([]byte(opts.Body), webauthntest.GetOptions{UserVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	res := anon.do("POST", "/console/login/passkey", url.Values{"_csrf": {token}, "credential": {string(assertion)}}, nil).status(303)
	if res.Location() != "/console/" || !anon.signedIn() {
		t.Fatalf("passkey sign-in went to %q without a session", res.Location())
	}
	anon.get("/console/account").contains(u.Email)
	if !e.hasAudit("console.login") {
		t.Fatal("passkey sign-in not audited")
	}

	// The same assertion, in a new ceremony of another browser, fails.
	other := e.browser()
	token = regexpFind(t, other.get("/console/login").Body, `name="_csrf" value="([^"]+)"`)
	other.optionsJSON("/console/login/passkey/options", token).status(200)
	other.do("POST", "/console/login/passkey", url.Values{"_csrf": {token}, "credential": {string(assertion)}}, nil).status(401)
	if other.signedIn() {
		t.Fatal("a replayed passkey assertion signed in")
	}
}

// The pending second step belongs to the browser that typed the password:
// another browser, even holding its form token, gets nothing; it expires;
// and it opens one session only.
func TestMFAStepBoundToBrowser(t *testing.T) {
	e := newEnv(t)
	u, b := e.signedInUser("bound")
	secret, _ := b.enrollTOTP()
	b.signOut()
	e.clock.Advance(30 * time.Second)

	csrf := b.startMFA(u.Email)
	flowCookie := b.cookies["hp_console_mfa"]
	code := mfa.TOTPCode(secret, e.clock.Now(), totpSettings)

	thief := e.browser()
	thief.get("/console/login").status(200)
	res := thief.code(csrf, code).status(303)
	if !strings.HasPrefix(res.Location(), "/console/login?mfa=expired") || thief.signedIn() {
		t.Fatalf("another browser's code went to %q", res.Location())
	}
	if res := thief.get("/console/login/mfa").status(303); !strings.HasPrefix(res.Location(), "/console/login") {
		t.Fatalf("another browser reached the second step: %q", res.Location())
	}

	b.code(csrf, code).status(303)
	if !b.signedIn() {
		t.Fatal("the owner's code did not sign in")
	}
	// The flow was used: its cookie, replayed, opens nothing more.
	replay := e.browser()
	replay.cookies["hp_console_mfa"] = flowCookie
	e.clock.Advance(30 * time.Second)
	replay.code(csrf, mfa.TOTPCode(secret, e.clock.Now(), totpSettings)).status(303)
	if replay.signedIn() {
		t.Fatal("a used second step opened another session")
	}

	// A pending step expires after 5 minutes.
	b.signOut()
	e.clock.Advance(30 * time.Second)
	csrf = b.startMFA(u.Email)
	e.clock.Advance(6 * time.Minute)
	res = b.code(csrf, mfa.TOTPCode(secret, e.clock.Now(), totpSettings)).status(303)
	if !strings.HasPrefix(res.Location(), "/console/login?mfa=expired") || b.signedIn() {
		t.Fatalf("an expired step went to %q", res.Location())
	}
	b.get(res.Location()).status(200).contains("not finished in time")
}

// Forged form tokens are refused: at the second step (even with the right
// code), on the passkey endpoints, and on every security change.
func TestMFAForgedCSRF(t *testing.T) {
	e := newEnv(t)
	u, b := e.signedInUser("csrf")
	b.post(securityURL+"/totp/disable", url.Values{"_csrf": {"forged"}}).status(403).contains("Form expired")
	b.post(securityURL+"/reauth", url.Values{"_csrf": {"forged"}, "password": {testPassword}}).status(403)
	b.optionsJSON(securityURL+"/passkeys/options", "forged").status(403)
	secret, _ := b.enrollTOTP()
	b.post(securityURL+"/totp/disable", url.Values{"_csrf": {"forged"}}).status(403)
	b.post(securityURL+"/recovery-codes", url.Values{"_csrf": {"forged"}}).status(403)
	b.signOut()
	e.clock.Advance(30 * time.Second)

	csrf := b.startMFA(u.Email)
	code := mfa.TOTPCode(secret, e.clock.Now(), totpSettings)
	b.code("forged", code).status(403).contains("form expired")
	b.code("", code).status(403)
	b.do("POST", "/console/login/mfa", url.Values{"_csrf": {csrf}, "code": {code}}, map[string]string{"Sec-Fetch-Site": "cross-site"}).status(403)
	b.optionsJSON("/console/login/mfa/passkey/options", "forged").status(403)
	if b.signedIn() {
		t.Fatal("a forged second step signed in")
	}
	b.optionsJSON("/console/login/passkey/options", "forged").status(403)
	// The refused posts used nothing up: the code still passes.
	b.code(csrf, code).status(303)
	if !b.signedIn() {
		t.Fatal("the right code with the right token did not sign in")
	}
	if n := recoveryCodesOf(t, e, u); n != 1 {
		t.Fatalf("forged posts changed the recovery codes: %d sets", n)
	}
}

// Wrong codes count against the address like wrong passwords: past the
// limit even the right code is refused for the window; and a pending step
// ends after 5 wrong codes.
func TestMFAStepRateLimited(t *testing.T) {
	e := newEnv(t, func(c *console.Config) { c.LoginLimit, c.LoginWindow = 3, time.Minute })
	u, b := e.signedInUser("mfa-limit")
	secret, _ := b.enrollTOTP()
	b.signOut()
	e.clock.Advance(30 * time.Second)
	csrf := b.startMFA(u.Email)
	code := mfa.TOTPCode(secret, e.clock.Now(), totpSettings)
	for range 3 {
		b.code(csrf, wrongCode(code)).status(401)
	}
	b.code(csrf, code).status(429).contains("Too many failed sign-ins")
	if b.signedIn() || !e.hasAudit("console.login.throttled") {
		t.Fatal("the limit did not hold, or was not audited")
	}

	e2 := newEnv(t)
	u2, b2 := e2.signedInUser("mfa-flow-limit")
	secret2, _ := b2.enrollTOTP()
	b2.signOut()
	e2.clock.Advance(30 * time.Second)
	csrf = b2.startMFA(u2.Email)
	code = mfa.TOTPCode(secret2, e2.clock.Now(), totpSettings)
	for range 4 {
		b2.code(csrf, wrongCode(code)).status(401)
	}
	res := b2.code(csrf, wrongCode(code)).status(303)
	if !strings.HasPrefix(res.Location(), "/console/login?mfa=failed") {
		t.Fatalf("the fifth wrong code went to %q", res.Location())
	}
	if res := b2.code(csrf, code).status(303); !strings.HasPrefix(res.Location(), "/console/login?mfa=expired") || b2.signedIn() {
		t.Fatalf("an ended step still took a code: %q", res.Location())
	}
}

// Security changes need the password typed again within 5 minutes: without
// it nothing changes; a wrong password is refused and audited.
func TestSecurityChangesNeedPassword(t *testing.T) {
	e := newEnv(t)
	u := e.user("reauth", false)
	b := e.browser()
	b.signIn(u.Email, testPassword).status(303)
	b.signedIn()
	b.get(securityURL).status(200).contains("Confirm it is you").lacks("Set up</a>")
	if res := b.get(securityURL + "/totp").status(303); res.Location() != securityURL {
		t.Fatalf("TOTP setup without a recent password went to %q", res.Location())
	}
	b.get(securityURL).contains("Confirm your password first")
	b.optionsJSON(securityURL+"/passkeys/options", b.csrf).status(403).contains("Confirm your password")

	b.post(securityURL+"/reauth", url.Values{"password": {"wrong"}}).status(401).contains("not right")
	if !e.hasAudit("console.reauth.failed") {
		t.Fatal("a failed reauthentication was not audited")
	}
	b.reauth()
	if !e.hasAudit("console.reauth") {
		t.Fatal("reauthentication not audited")
	}
	secret, _ := b.enrollTOTP()

	e.clock.Advance(5*time.Minute + time.Second)
	b.get(securityURL) // keeps the session alive, as a user would
	res := b.post(securityURL+"/totp/disable", nil).status(303)
	if res.Location() != securityURL {
		t.Fatalf("a stale reauthentication went to %q", res.Location())
	}
	if n := totpCount(t, e, u); n != 1 {
		t.Fatal("TOTP was removed without a recent password")
	}
	b.reauth()
	b.post(securityURL+"/totp/disable", nil).status(303)
	b.get(securityURL).contains("Authenticator app removed.", "recovery codes were removed too")
	if n := totpCount(t, e, u); n != 0 || !e.hasAudit("console.mfa.totp.disable") {
		t.Fatal("TOTP not removed, or not audited")
	}
	b.signOut()
	e.clock.Advance(30 * time.Second)
	if res := b.signIn(u.Email, testPassword).status(303); res.Location() != "/console/" {
		t.Fatalf("after removing TOTP, the password went to %q (secret %s)", res.Location(), secret)
	}
}

func totpCount(t *testing.T, e *env, u *console.User) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM console_authenticators WHERE user_id = $1 AND type = 'totp'`,
		u.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The TOTP setup refuses a wrong code and keeps showing the same secret
// until one of its codes is typed.
func TestTOTPSetupWrongCode(t *testing.T) {
	e := newEnv(t)
	u, b := e.signedInUser("totp-wrong")
	page := b.get(securityURL + "/totp").status(200)
	secret := regexpFind(t, page.Body, `id="totp-secret">([A-Z2-7]+)<`)
	code := mfa.TOTPCode(secret, e.clock.Now(), totpSettings)
	b.post(securityURL+"/totp", url.Values{"code": {wrongCode(code)}}).status(422).contains("not right", secret)
	if totpCount(t, e, u) != 0 {
		t.Fatal("a wrong code enabled TOTP")
	}
	if again := regexpFind(t, b.get(securityURL+"/totp").Body, `id="totp-secret">([A-Z2-7]+)<`); again != secret {
		t.Fatal("the pending secret changed between views")
	}
	b.post(securityURL+"/totp", url.Values{"code": {code}}).status(200)
	if totpCount(t, e, u) != 1 {
		t.Fatal("the right code did not enable TOTP")
	}
}
