package conformance_test

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/social/oidctest"
	"github.com/hallpass/hallpass/tenants"
)

// What the walk reads in mail: user codes (login, verification and reset
// by code), verification links and password reset links (the frontend's
// URL where the tenant has one, else allauth's own path).
var (
	codeLine   = regexp.MustCompile(`(?m)^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$`)
	verifyLink = regexp.MustCompile(`/verify/(\S+)`)
	resetLink  = regexp.MustCompile(`(?:app\.example\.com/reset/|/accounts/password/reset/key/)([0-9a-z]+-[0-9a-z]+-[0-9a-f]+)`)
)

// walker drives one client kind ("app" or "browser") of one tenant through
// the flows a frontend takes; every response is validated against the
// tenant's served spec. Flow steps whose outcome the next step relies on
// must answer as expected (want); probes of error statuses are only
// validated (do), the coverage check notices when one stops being produced.
type walker struct {
	t      *testing.T
	env    *apitest.Env
	v      *servedValidator
	idp    *oidctest.Server // the provider, in the social configuration
	config string
	client string

	// The walk's main user; the password changes along the walk.
	user, email, password string
}

func (w *walker) settings() *tenants.Settings { return w.env.Tenant.Settings }

// frontend is one browser, or one app install, of the walker's kind.
type frontend struct {
	w *walker
	c *apitest.Client
}

func (w *walker) frontend() *frontend { return &frontend{w: w, c: w.env.Client(w.client)} }

// do sends a request (path relative to /_allauth/{client}/v1/) and
// validates the response.
func (f *frontend) do(method, path, body string, headers ...string) *apitest.Response {
	f.w.t.Helper()
	res := f.c.Do(method, path, body, headers...)
	f.w.v.check(f.w.config, f.w.client, method, "/t/"+f.w.env.Tenant.Slug+"/_allauth/"+f.w.client+"/v1/"+path, res)
	return res
}

// want is do for a flow step that must answer status.
func (f *frontend) want(status int, method, path, body string, headers ...string) *apitest.Response {
	f.w.t.Helper()
	res := f.do(method, path, body, headers...)
	if res.Code != status {
		f.w.t.Fatalf("%s/%s: %s %s answered %d, want %d: %s", f.w.config, f.w.client, method, path, res.Code, status, res.Body)
	}
	return res
}

// logout ends the session as a frontend does: the browser's cookie goes
// with the response, the app forgets its token, which it returns (now dead).
func (f *frontend) logout() (dead string) {
	f.w.t.Helper()
	f.want(401, "DELETE", "auth/session", "")
	dead, f.c.Token = f.c.Token, ""
	return dead
}

// pendingStage is the id of the pending flow of an authentication response.
func pendingStage(res *apitest.Response) string {
	flows, _ := res.Path("data.flows").([]any)
	for _, f := range flows {
		if m, _ := f.(map[string]any); m["is_pending"] == true && m["id"] != "password_reset_by_code" {
			id, _ := m["id"].(string)
			return id
		}
	}
	return ""
}

// inbox reads the mail of one address in arrival order.
type inbox struct {
	w    *walker
	to   string
	read int
}

func (w *walker) inbox(to string) *inbox { return &inbox{w: w, to: to} }

// next waits for the next message that matches re and returns the first
// submatch; messages before it that do not match are passed over. A flow
// reads each mail before it triggers the next one, so a late delivery
// cannot be mistaken for a newer message.
func (b *inbox) next(re *regexp.Regexp) string {
	b.w.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var mine []string
		for _, m := range b.w.env.Mails() {
			if len(m.To) > 0 && m.To[0] == b.to {
				mine = append(mine, m.Text)
			}
		}
		for i := b.read; i < len(mine); i++ {
			if m := re.FindStringSubmatch(mine[i]); m != nil {
				b.read = i + 1
				return m[1]
			}
		}
		if time.Now().After(deadline) {
			b.w.t.Fatalf("%s/%s: no mail to %s matching %s", b.w.config, b.w.client, b.to, re)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// signupBody is a local signup of the tenant's signup fields, allauth's
// and the declared ones.
func (w *walker) signupBody(user, email, password string) string {
	var parts []string
	for _, f := range w.settings().SignupFields {
		switch f.Name {
		case "email":
			parts = append(parts, `"email":"`+email+`"`)
		case "username":
			parts = append(parts, `"username":"`+user+`"`)
		case "password1":
			parts = append(parts, `"password":"`+password+`"`)
		}
	}
	parts = append(parts, w.declaredSignupValues()...)
	return "{" + strings.Join(parts, ",") + "}"
}

// loginBody is a password login with the tenant's login method.
func (w *walker) loginBody(user, email, password string) string {
	if !slices.Contains(w.settings().LoginMethods, "email") {
		return `{"username":"` + user + `","password":"` + password + `"}`
	}
	return `{"email":"` + email + `","password":"` + password + `"}`
}

// walk takes the walker's user from signup to logout through every
// account flow the tenant offers, then sends every routed endpoint an empty
// request logged in and anonymously, then the flows of the tenant's other
// apps.
func (w *walker) walk() {
	s := w.settings()
	w.user = "conf-" + w.client
	w.email, w.password = w.user+"@example.com", "correct horse battery"
	box := w.inbox(w.email)
	f := w.frontend()
	f.do("GET", "config", "")
	f.do("GET", "auth/session", "")
	f.want(400, "POST", "auth/login", `{}`)
	f.want(400, "POST", "auth/login", w.loginBody(w.user, w.email, w.password)) // no such user yet
	w.walkDeclaredSignupErrors(f)
	authenticated := f.do("POST", "auth/signup", w.signupBody(w.user, w.email, w.password))
	switch authenticated.Code {
	case 200:
	case 401: // verify_email
		authenticated = w.verifySignup(f, box)
	default:
		w.t.Fatalf("%s/%s: signup answered %d: %s", w.config, w.client, authenticated.Code, authenticated.Body)
	}
	f.want(200, "GET", "auth/session", "")
	f.want(409, "POST", "auth/signup", w.signupBody(w.user, w.email, w.password)) // logged in
	// The same address again: taken, or (mandatory verification) a decoy.
	w.frontend().do("POST", "auth/signup", w.signupBody(w.user, w.email, w.password))
	w.walkEmails(f)
	w.walkProfile(f)
	f.want(400, "POST", "auth/reauthenticate", `{"password":"wrong"}`)
	f.want(200, "POST", "auth/reauthenticate", `{"password":"`+w.password+`"}`)
	w.walkPasswordChange(f)
	w.walkSessions(f)
	w.sweep(f)
	if tok, _ := authenticated.Path("meta.refresh_token").(string); tok != "" {
		f.want(200, "POST", "tokens/refresh", `{"refresh_token":"`+tok+`"}`)
	}
	w.walkReauthentication(f)
	w.walkDeadToken(f.logout())
	again := w.frontend()
	again.want(200, "POST", "auth/login", w.loginBody(w.user, w.email, w.password))
	again.logout()
	w.walkPasswordReset(box)
	if s.LoginByCodeEnabled {
		w.walkLoginByCode(box)
	}
	w.sweep(w.frontend())
	w.walkAnonymous()
	if s.EmailVerification == tenants.EmailVerificationMandatory {
		w.walkUnverifiedLogin()
	}
	if s.MFAPasskeyLoginEnabled {
		w.walkMFA()
	}
	if s.MFAPasskeySignupEnabled {
		w.walkPasskeySignup()
	}
	if w.idp != nil {
		w.walkSocial()
	}
}

// verifySignup completes a signup's verify_email stage from the mail, with
// the wrong key or code first; it returns the authenticated response.
func (w *walker) verifySignup(f *frontend, box *inbox) *apitest.Response {
	if !w.settings().EmailVerificationByCodeEnabled {
		key := box.next(verifyLink)
		f.want(400, "GET", "auth/email/verify", "", "X-Email-Verification-Key", "bad.key.x")
		f.want(200, "GET", "auth/email/verify", "", "X-Email-Verification-Key", key)
		return f.want(200, "POST", "auth/email/verify", `{"key":"`+key+`"}`) // ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION
	}
	box.next(codeLine) // the signup's code, replaced by the resend
	f.want(200, "POST", "auth/email/verify/resend", "")
	f.do("POST", "auth/email/verify/resend", "") // 429: confirm_email allows the signup's mail and one more
	f.want(400, "POST", "auth/email/verify", `{"key":"WRONG-CODE"}`)
	code := box.next(codeLine)
	f.want(200, "GET", "auth/email/verify", "", "X-Email-Verification-Key", code)
	return f.want(200, "POST", "auth/email/verify", `{"key":"`+code+`"}`)
}

// walkEmails manages the user's addresses: add one, try to make it
// primary (refused while unverified, where verification applies), add and
// remove a third, resend the second's verification.
func (w *walker) walkEmails(f *frontend) {
	second, third := "second-"+w.email, "third-"+w.email
	f.want(200, "GET", "account/email", "")
	f.want(200, "POST", "account/email", `{"email":"`+second+`"}`)
	f.do("PATCH", "account/email", `{"email":"`+second+`","primary":true}`)
	f.want(400, "DELETE", "account/email", `{"email":"nope@example.com"}`)
	f.want(200, "POST", "account/email", `{"email":"`+third+`"}`)
	f.want(200, "DELETE", "account/email", `{"email":"`+third+`"}`)
	// Last, so that in code mode the session's verification process is the
	// second address's again (a process left on the removed third address
	// ends with 409: api/account TestResendCodeForDeletedAddress).
	f.do("PUT", "account/email", `{"email":"`+second+`"}`) // 200 sent, or 403 within the cooldown
}

// walkPasswordChange changes the password, with the wrong current one first.
func (w *walker) walkPasswordChange(f *frontend) {
	next := "another horse battery"
	f.want(400, "POST", "account/password/change", `{"current_password":"wrong","new_password":"`+next+`"}`)
	f.want(200, "POST", "account/password/change", `{"current_password":"`+w.password+`","new_password":"`+next+`"}`)
	w.password = next
}

// walkSessions logs the user in on a second frontend and ends that
// session from the first.
func (w *walker) walkSessions(f *frontend) {
	if !slices.Contains(w.settings().Apps, tenants.AppUserSessions) {
		return
	}
	other := w.frontend()
	other.want(200, "POST", "auth/login", w.loginBody(w.user, w.email, w.password))
	list, _ := f.want(200, "GET", "auth/sessions", "").Path("data").([]any)
	var ids []string
	for _, item := range list {
		if m, _ := item.(map[string]any); m["is_current"] == false {
			// As a frontend's JSON.stringify writes it: the integer, not
			// Go's %v of a float64 (1.2e+15 for a large random id).
			id, _ := m["id"].(float64)
			ids = append(ids, strconv.FormatFloat(id, 'f', -1, 64))
		}
	}
	if len(ids) == 0 {
		w.t.Fatalf("%s/%s: the second session is not listed: %v", w.config, w.client, list)
	}
	f.want(200, "DELETE", "auth/sessions", `{"sessions":[`+strings.Join(ids, ",")+`]}`)
	other.do("GET", "auth/session", "") // ended: 410 for the app, 401 for the browser
}

// sweep sends every routed endpoint an empty request (as the frontend's
// session is: logged in or not), keeping the session.
func (w *walker) sweep(f *frontend) {
	for _, r := range w.env.Server.Catalog.Served(w.settings(), w.client) {
		body := ""
		if r.Method != "GET" {
			body = "{}"
		}
		if r.Path == "/auth/session" && r.Method == "DELETE" {
			continue
		}
		f.do(r.Method, strings.TrimPrefix(r.Path, "/"), body)
	}
}

// walkReauthentication lets the authentication age past
// ACCOUNT_REAUTHENTICATION_TIMEOUT (by moving the accounts' clock) where
// address changes require a recent one: the change asks to reauthenticate,
// and goes through once the user has.
func (w *walker) walkReauthentication(f *frontend) {
	s := w.settings()
	if !s.ReauthenticationRequired {
		return
	}
	prev := w.env.Accounts.Now
	w.env.Accounts.Now = func() time.Time { return time.Now().Add(time.Duration(s.ReauthenticationTimeout+60) * time.Second) }
	defer func() { w.env.Accounts.Now = prev }()
	body := `{"email":"fourth-` + w.email + `"}`
	if res := f.want(401, "POST", "account/email", body); res.Path("meta.is_authenticated") != true {
		w.t.Fatalf("%s/%s: not a reauthentication 401: %s", w.config, w.client, res.Body)
	}
	f.want(200, "POST", "auth/reauthenticate", `{"password":"`+w.password+`"}`)
	f.want(200, "POST", "account/email", body)
}

// walkDeadToken presents an app's token after its session ended: 410.
func (w *walker) walkDeadToken(dead string) {
	if w.client != "app" || dead == "" {
		return
	}
	for _, path := range []string{"auth/session", "account/authenticators"} {
		f := w.frontend()
		f.c.Token = dead
		f.want(410, "GET", path, "")
	}
}

// walkPasswordReset resets the password from the mail: by key (link
// mode) or by code, with a wrong key or code first.
func (w *walker) walkPasswordReset(box *inbox) {
	s := w.settings()
	next := "reset horse battery"
	f := w.frontend()
	email := `{"email":"` + w.email + `"}`
	var key string
	if s.PasswordResetByCodeEnabled {
		// Without a reset process in this session: 409.
		w.frontend().want(409, "GET", "auth/password/reset", "", "X-Password-Reset-Key", "ABCD-EFGH")
		w.frontend().want(409, "POST", "auth/password/reset", `{"key":"ABCD-EFGH","password":"`+next+`"}`)
		if res := f.want(401, "POST", "auth/password/request", email); pendingStage(res) != "" ||
			!strings.Contains(string(res.Body), `"password_reset_by_code","is_pending":true`) {
			w.t.Fatalf("%s/%s: reset by code not pending: %s", w.config, w.client, res.Body)
		}
		f.want(400, "GET", "auth/password/reset", "", "X-Password-Reset-Key", "WRONG-CODE")
		key = box.next(codeLine)
	} else {
		f.want(200, "POST", "auth/password/request", email)
		f.want(400, "GET", "auth/password/reset", "", "X-Password-Reset-Key", "1-abc-00")
		key = box.next(resetLink)
	}
	f.want(200, "GET", "auth/password/reset", "", "X-Password-Reset-Key", key)
	status := 401
	if s.LoginOnPasswordReset {
		status = 200
	}
	f.want(status, "POST", "auth/password/reset", `{"key":"`+key+`","password":"`+next+`"}`)
	w.password = next
	if status == 200 {
		f.logout()
	}
}

// walkLoginByCode logs in with a mailed code: a wrong code first, then
// (where resends are allowed) a new code, until the rate limit.
func (w *walker) walkLoginByCode(box *inbox) {
	s := w.settings()
	f := w.frontend()
	if res := f.want(401, "POST", "auth/code/request", `{"email":"`+w.email+`"}`); pendingStage(res) != "login_by_code" {
		w.t.Fatalf("%s/%s: %s", w.config, w.client, res.Body)
	}
	f.want(400, "POST", "auth/code/confirm", `{"code":"WRONG-CODE"}`)
	code := box.next(codeLine)
	if s.LoginByCodeMaxResendCount > 0 {
		f.want(200, "POST", "auth/code/resend", "")
		code = box.next(codeLine)
		f.do("POST", "auth/code/resend", "") // 429: request_login_code allows the request and one resend
	}
	f.want(200, "POST", "auth/code/confirm", `{"code":"`+code+`"}`)
	f.want(409, "POST", "auth/code/resend", "") // nothing pending any more
	f.logout()
}

// walkAnonymous sends an anonymous frontend to step endpoints without
// their process: 409.
func (w *walker) walkAnonymous() {
	f := w.frontend()
	f.want(409, "POST", "account/email", `{"email":"anonymous@example.com"}`) // no signup verification to correct
	if w.settings().EmailVerificationByCodeEnabled {
		f.want(409, "POST", "auth/email/verify", `{"key":"ABCD-EFGH"}`) // code mode: the process is the session's
	}
}

// walkUnverifiedLogin (mandatory verification): a user who has not
// verified cannot log in (verify_email stays pending); verifying from
// another browser or device verifies without logging that one in.
func (w *walker) walkUnverifiedLogin() {
	user := "unverified-" + w.client
	email := user + "@example.com"
	box := w.inbox(email)
	signup := w.frontend()
	if res := signup.want(401, "POST", "auth/signup", w.signupBody(user, email, w.password)); pendingStage(res) != "verify_email" {
		w.t.Fatalf("%s/%s: %s", w.config, w.client, res.Body)
	}
	if res := w.frontend().want(401, "POST", "auth/login", w.loginBody(user, email, w.password)); pendingStage(res) != "verify_email" {
		w.t.Fatalf("%s/%s: %s", w.config, w.client, res.Body)
	}
	if w.settings().EmailVerificationByCodeEnabled {
		return // the code only works in the session that asked for it
	}
	key := box.next(verifyLink)
	elsewhere := w.frontend()
	elsewhere.want(200, "GET", "auth/email/verify", "", "X-Email-Verification-Key", key)
	elsewhere.want(401, "POST", "auth/email/verify", `{"key":"`+key+`"}`)
}

// walkSignupClosed runs last on a tenant: with provider signups pending
// (in the social configuration), the operator closes signup; local,
// passkey and provider signups are then refused.
func walkSignupClosed(t *testing.T, env *apitest.Env, v *servedValidator, idp *oidctest.Server, config string) {
	s := env.Tenant.Settings
	pending := map[string]*frontend{}
	for _, client := range apitest.Clients {
		w := &walker{t: t, env: env, v: v, idp: idp, config: config, client: client}
		if idp != nil {
			f := w.frontend()
			if res := w.providerLogin(f, "conf-closing-"+client, "login"); pendingStage(res) != "provider_signup" {
				t.Fatalf("%s/%s: %s", config, client, res.Body)
			}
			pending[client] = f
		}
	}
	if _, err := env.Store.UpdateSettings(context.Background(), env.Tenant.Slug, []byte(`{"HALLPASS_SIGNUP_OPEN": false}`), "conformance"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if env.Do("app", "GET", "config", "").Path("data.account.is_open_for_signup") == false {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: closing signup did not reach the server", config)
		}
	}
	for _, client := range apitest.Clients {
		w := &walker{t: t, env: env, v: v, idp: idp, config: config, client: client}
		f := w.frontend()
		user := "closed-" + client
		f.want(403, "POST", "auth/signup", w.signupBody(user, user+"@example.com", "correct horse battery"))
		if s.MFAPasskeySignupEnabled {
			f.want(403, "POST", "auth/webauthn/signup", `{"email":"`+user+`@example.com"}`)
		}
		if idp != nil {
			if res := w.providerLogin(f, user, "login"); res.Code != 403 { // a new provider account
				t.Fatalf("%s/%s: provider signup with signup closed answered %d: %s", config, client, res.Code, res.Body)
			}
			p := pending[client]
			p.want(403, "GET", "auth/provider/signup", "")
			p.want(403, "POST", "auth/provider/signup", `{"email":"conf-closing-`+client+`@example.com"}`)
		}
	}
}
