package conformance_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/mail/smtptest"
	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/social/oidctest"
	"github.com/hallpass/hallpass/internal/testenv"
)

var summary = struct {
	sync.Mutex
	configs   int
	endpoints map[string]bool // config | client | method path
	responses int
	failures  []string
	// seen and documented are the statuses per operation ("METHOD /path"
	// with the client segment generalised), over every configuration.
	seen, documented map[string]map[string]bool
}{endpoints: map[string]bool{}, seen: map[string]map[string]bool{}, documented: map[string]map[string]bool{}}

// operationKey names an operation across clients and configurations.
func operationKey(method, path string) string {
	for _, c := range []string{"/_allauth/app/v1/", "/_allauth/browser/v1/"} {
		path = strings.Replace(path, c, "/_allauth/{client}/v1/", 1)
	}
	return method + " " + path
}

// note records a status seen and the statuses documented for an operation.
func note(key string, status int, documented []string) {
	if summary.seen[key] == nil {
		summary.seen[key], summary.documented[key] = map[string]bool{}, map[string]bool{}
	}
	summary.seen[key][strconv.Itoa(status)] = true
	for _, d := range documented {
		summary.documented[key][d] = true
	}
}

// coverage lists operations never answered with a success, and documented
// statuses never produced.
func coverage() (successes int, noSuccess, unseen []string) {
	keys := make([]string, 0, len(summary.seen))
	for k := range summary.seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ok, documentsSuccess := false, false
		for st := range summary.seen[k] {
			if st[0] == '2' || st[0] == '3' {
				ok = true
			}
		}
		for st := range summary.documented[k] {
			if st[0] == '2' || st[0] == '3' {
				documentsSuccess = true
			}
		}
		ok = ok || !documentsSuccess // e.g. DELETE auth/session: always 401
		if ok {
			successes++
		} else {
			noSuccess = append(noSuccess, k)
		}
		var missing []string
		for d := range summary.documented[k] {
			if !summary.seen[k][d] && d != "default" {
				missing = append(missing, d)
			}
		}
		sort.Strings(missing)
		if len(missing) > 0 {
			unseen = append(unseen, k+" "+strings.Join(missing, ","))
		}
	}
	return successes, noSuccess, unseen
}

func TestMain(m *testing.M) {
	code := m.Run()
	writeSummary()
	testenv.DropDatabase()
	os.Exit(code)
}

func writeSummary() {
	summary.Lock()
	defer summary.Unlock()
	dir := os.Getenv("HALLPASS_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(repoRoot(), ".data", "artifacts")
	}
	_ = os.MkdirAll(dir, 0o755)
	text := fmt.Sprintf("conformance: %d configurations × 2 clients, %d endpoint×configuration×client pairs covered, %d responses validated against the tenant's served spec, %d failures\n",
		summary.configs, len(summary.endpoints), summary.responses, len(summary.failures))
	successes, noSuccess, unseen := coverage()
	text += fmt.Sprintf("conformance: %d of %d operations answered with a success; documented statuses never produced: %d\n", successes, len(summary.seen), len(unseen))
	for _, k := range noSuccess {
		text += "  no success: " + k + "\n"
	}
	for _, k := range unseen {
		text += "  unseen: " + k + "\n"
	}
	for _, f := range summary.failures {
		text += "  FAIL " + f + "\n"
	}
	_ = os.WriteFile(filepath.Join(dir, "conformance.txt"), []byte(text), 0o644)
	fmt.Print(text)
}

func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	return dir
}

// servedValidator validates responses against the document a tenant serves.
type servedValidator struct {
	router routers.Router
	slug   string
}

func newServedValidator(t *testing.T, env *apitest.Env) *servedValidator {
	t.Helper()
	res := env.Raw("GET", "/t/"+env.Tenant.Slug+"/_allauth/openapi.json", "")
	if res.Code != 200 {
		t.Fatalf("served spec: %d", res.Code)
	}
	doc, err := openapi3.NewLoader().LoadFromData(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	doc.Servers = nil // match on path only
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return &servedValidator{router: r, slug: env.Tenant.Slug}
}

// check validates one response; statuses the spec cannot list per
// operation (410 for a dead app token, bare 403/404/409/413/429, 401 on
// auth-required endpoints) are checked by apitest's shared rules.
func (v *servedValidator) check(config, client, method, path string, res *apitest.Response) {
	rel := strings.TrimPrefix(path, "/t/"+v.slug)
	req, _ := http.NewRequest(method, "http://x"+rel, nil)
	route, params, err := v.router.FindRoute(req)
	summary.Lock()
	defer summary.Unlock()
	summary.responses++
	if err != nil {
		summary.failures = append(summary.failures, fmt.Sprintf("%s/%s %s %s: not in the served spec (%d)", config, client, method, rel, res.Code))
		return
	}
	summary.endpoints[config+"|"+client+"|"+method+" "+route.Path] = true
	var documented []string
	if route.Operation != nil && route.Operation.Responses != nil {
		for st := range route.Operation.Responses.Map() {
			documented = append(documented, st)
		}
	}
	note(operationKey(method, route.Path), res.Code, documented)
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: res.Code, Header: http.Header{"Content-Type": {contentType(res)}},
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}}
	out.SetBodyBytes(res.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		undocumented := strings.Contains(err.Error(), "status is not supported")
		if generic := apitest.Validate(method, path, res.Code, res.Header, res.Body); undocumented && (generic == nil || errors.Is(generic, apitest.ErrNotInSpec)) {
			return // a status allauth answers on every endpoint, checked by the shared rules
		}
		summary.failures = append(summary.failures, fmt.Sprintf("%s/%s %s %s → %d: %v", config, client, method, rel, res.Code, err))
	}
}

func init() {
	// The provider redirect's error page is HTML (a string in the spec).
	openapi3filter.RegisterBodyDecoder("text/html", func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(r)
		return string(b), err
	})
}

// contentType is the response's media type (JSON unless it says otherwise).
func contentType(res *apitest.Response) string {
	if ct := res.Header.Get("Content-Type"); ct != "" {
		return ct
	}
	return "application/json"
}

var codeLine = regexp.MustCompile(`(?m)^\s*([A-Z0-9]{4}-[A-Z0-9]{4})\s*$`)

// configurations the walk runs under.
var configurations = map[string]apitest.Settings{
	"session, email, mandatory link": {
		"ACCOUNT_LOGIN_METHODS": []string{"email"}, "ACCOUNT_SIGNUP_FIELDS": []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "mandatory", "ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION": true,
		"HEADLESS_FRONTEND_URLS": map[string]string{"account_confirm_email": "https://app.example.com/verify/{key}"},
	},
	"jwt, username, optional": {
		"HEADLESS_TOKEN_STRATEGY": "jwt", "HEADLESS_JWT_ALGORITHM": "EdDSA",
		"ACCOUNT_LOGIN_METHODS": []string{"username"}, "ACCOUNT_SIGNUP_FIELDS": []string{"email", "username*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "optional",
	},
	"both methods, none, codes on": {
		"ACCOUNT_LOGIN_METHODS": []string{"email", "username"}, "ACCOUNT_SIGNUP_FIELDS": []string{"email*", "username*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "none", "ACCOUNT_LOGIN_BY_CODE_ENABLED": true, "ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED": true,
		"USERSESSIONS_TRACK_ACTIVITY": true,
	},
	"mandatory by code, jwt": {
		"HEADLESS_TOKEN_STRATEGY": "jwt", "HEADLESS_JWT_ALGORITHM": "ES256",
		"ACCOUNT_LOGIN_METHODS": []string{"email"}, "ACCOUNT_SIGNUP_FIELDS": []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "mandatory", "ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true,
		"ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_RESEND": true, "ACCOUNT_RATE_LIMITS": map[string]any{"confirm_email": false},
	},
	"social providers, signup form": {
		"ACCOUNT_LOGIN_METHODS": []string{"email"}, "ACCOUNT_SIGNUP_FIELDS": []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "none", "SOCIALACCOUNT_AUTO_SIGNUP": false,
		"HEADLESS_FRONTEND_URLS": map[string]string{"socialaccount_login_error": "https://app.example.com/social-error"},
		// Replaced by a Google app served by an OpenID provider in the test.
		"SOCIALACCOUNT_PROVIDERS": providerStandIn,
	},
	"every mfa type": {
		"ACCOUNT_LOGIN_METHODS": []string{"email"}, "ACCOUNT_SIGNUP_FIELDS": []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "none", "MFA_SUPPORTED_TYPES": []string{"totp", "recovery_codes", "webauthn"},
		"MFA_PASSKEY_LOGIN_ENABLED": true, "MFA_TRUST_ENABLED": true, "MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN": true,
	},
}

func TestConformance(t *testing.T) {
	names := make([]string, 0, len(configurations))
	for n := range configurations {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		settings := apitest.Settings{"HEADLESS_SERVE_SPECIFICATION": true}
		for k, v := range configurations[name] {
			settings[k] = v
		}
		t.Run(name, func(t *testing.T) {
			summary.Lock()
			summary.configs++
			summary.Unlock()
			var idp *oidctest.Server
			if settings["SOCIALACCOUNT_PROVIDERS"] == providerStandIn {
				idp = oidctest.Start(t)
				settings["SOCIALACCOUNT_PROVIDERS"] = map[string]any{"google": map[string]any{
					"APPS": []any{map[string]any{"client_id": idp.ClientID, "secret": idp.ClientSecret}}}}
			}
			env := apitest.New(t, settings)
			if idp != nil {
				env.Social.Endpoints["google"] = social.Endpoints{Authorize: idp.AuthorizeURL(), Token: idp.TokenURL(),
					Userinfo: idp.UserinfoURL(), TokenInfo: idp.TokenInfoURL(), JWKS: idp.JWKSURL(), Issuer: idp.Issuer()}
			}
			v := newServedValidator(t, env)
			for _, client := range apitest.Clients {
				walk(t, env, v, name, client)
				if idp != nil {
					walkSocial(t, env, v, idp, name, client)
				}
			}
		})
	}
	summary.Lock()
	defer summary.Unlock()
	if len(summary.failures) > 0 {
		t.Errorf("%d responses do not match the served spec:\n%s", len(summary.failures), strings.Join(summary.failures, "\n"))
	}
}

// walk drives a frontend through the tenant's flows, then sends every
// routed endpoint an empty request anonymously and logged in.
func walk(t *testing.T, env *apitest.Env, v *servedValidator, config, client string) {
	fe := env.Client(client)
	do := func(method, path, body string, headers ...string) *apitest.Response {
		res := fe.Do(method, path, body, headers...)
		v.check(config, client, method, "/t/"+env.Tenant.Slug+"/_allauth/"+client+"/v1/"+path, res)
		return res
	}
	s := env.Tenant.Settings
	user := fmt.Sprintf("conf-%s", client)
	email := user + "@example.com"
	signup := map[string]string{}
	for _, f := range s.SignupFields {
		switch f.Name {
		case "email":
			signup["email"] = `"email":"` + email + `"`
		case "username":
			signup["username"] = `"username":"` + user + `"`
		case "password1":
			signup["password"] = `"password":"correct horse battery"`
		}
	}
	var parts []string
	for _, k := range []string{"email", "username", "password"} {
		if p, ok := signup[k]; ok {
			parts = append(parts, p)
		}
	}
	login := `{"email":"` + email + `","password":"correct horse battery"}`
	if !slices.Contains(s.LoginMethods, "email") {
		login = `{"username":"` + user + `","password":"correct horse battery"}`
	}

	do("GET", "config", "")
	do("GET", "auth/session", "")
	do("POST", "auth/login", `{}`)
	do("POST", "auth/login", login) // no such user yet: 400
	res := do("POST", "auth/signup", "{"+strings.Join(parts, ",")+"}")
	if res.Code == 401 {
		last := mailTo(t, env, email, 1)
		if m := codeLine.FindStringSubmatch(last.Text); m != nil {
			do("POST", "auth/email/verify/resend", "")
			do("POST", "auth/email/verify", `{"key":"WRONG-CODE"}`)
			m = codeLine.FindStringSubmatch(mailTo(t, env, email, 2).Text)
			do("GET", "auth/email/verify", "", "X-Email-Verification-Key", m[1])
			do("POST", "auth/email/verify", `{"key":"`+m[1]+`"}`)
		} else if k := regexp.MustCompile(`/verify/(\S+)`).FindStringSubmatch(last.Text); k != nil {
			do("GET", "auth/email/verify", "", "X-Email-Verification-Key", "bad.key.x")
			do("GET", "auth/email/verify", "", "X-Email-Verification-Key", k[1])
			do("POST", "auth/email/verify", `{"key":"`+k[1]+`"}`)
		}
	}
	do("GET", "auth/session", "")
	do("POST", "auth/signup", "{"+strings.Join(parts, ",")+"}") // logged in: 409
	dup := env.Client(client)                                   // the same address again: taken (or a decoy)
	v.check(config, client, "POST", "/t/"+env.Tenant.Slug+"/_allauth/"+client+"/v1/auth/signup",
		dup.Do("POST", "auth/signup", "{"+strings.Join(parts, ",")+"}"))
	do("GET", "account/email", "")
	do("POST", "account/email", `{"email":"second-`+email+`"}`)
	do("PATCH", "account/email", `{"email":"second-`+email+`","primary":true}`)
	do("DELETE", "account/email", `{"email":"nope@example.com"}`)
	do("PUT", "account/email", `{"email":"second-`+email+`"}`)
	do("POST", "auth/reauthenticate", `{"password":"wrong"}`)
	do("POST", "auth/reauthenticate", `{"password":"correct horse battery"}`)
	do("POST", "account/password/change", `{"current_password":"wrong","new_password":"another horse battery"}`)
	if slices.Contains(s.Apps, "usersessions") {
		do("GET", "auth/sessions", "")
	}
	for _, r := range env.Server.Registry.Served(s, client) { // every routed endpoint, logged in, empty input
		body := ""
		if r.Method != "GET" {
			body = "{}"
		}
		if r.Path == "/auth/session" && r.Method == "DELETE" {
			continue // keep the session for the rest of the walk
		}
		do(r.Method, strings.TrimPrefix(r.Path, "/"), body)
	}
	if tok, _ := res.Path("meta.refresh_token").(string); tok != "" {
		do("POST", "tokens/refresh", `{"refresh_token":"`+tok+`"}`)
	}
	do("DELETE", "auth/session", "")
	do("POST", "auth/login", login)
	do("DELETE", "auth/session", "")
	do("POST", "auth/password/request", `{"email":"`+email+`"}`)
	do("GET", "auth/password/reset", "", "X-Password-Reset-Key", "1-abc-00")
	if s.LoginByCodeEnabled {
		do("POST", "auth/code/request", `{"email":"`+email+`"}`)
		do("POST", "auth/code/confirm", `{"code":"WRONG-CODE"}`)
	}
	anon := env.Client(client)
	for _, r := range env.Server.Registry.Served(s, client) { // every routed endpoint, anonymous
		body := ""
		if r.Method != "GET" {
			body = "{}"
		}
		res := anon.Do(r.Method, strings.TrimPrefix(r.Path, "/"), body)
		v.check(config, client, r.Method, "/t/"+env.Tenant.Slug+"/_allauth/"+client+"/v1"+r.Path, res)
	}
}

// mailTo waits for the n-th mail to an address.
func mailTo(t *testing.T, env *apitest.Env, to string, n int) smtptest.Received {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		var mine []smtptest.Received
		for _, m := range env.Mails() {
			if len(m.To) > 0 && m.To[0] == to {
				mine = append(mine, m)
			}
		}
		if len(mine) >= n {
			return mine[n-1]
		}
		if time.Now().After(deadline) {
			t.Fatalf("mail %d to %s did not arrive", n, to)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// providerStandIn marks a configuration whose Google app the test serves.
const providerStandIn = "stand-in"

// walkSocial drives the provider endpoints through their successes and
// documented errors: the redirect form, a token login that stops at the
// signup form, the form's GET and POST, the connected accounts.
func walkSocial(t *testing.T, env *apitest.Env, v *servedValidator, idp *oidctest.Server, config, client string) {
	fe := env.Client(client)
	do := func(method, path, body string, headers ...string) *apitest.Response {
		res := fe.Do(method, path, body, headers...)
		v.check(config, client, method, "/t/"+env.Tenant.Slug+"/_allauth/"+client+"/v1/"+path, res)
		return res
	}
	do("GET", "config", "")
	form := "Content-Type"
	do("POST", "auth/provider/redirect", "provider=google&process=login&callback_url=https%3A%2F%2Fapp.example.com%2Fcb", form, "application/x-www-form-urlencoded")
	do("POST", "auth/provider/redirect", "provider=nope&process=login&callback_url=https%3A%2F%2Fapp.example.com%2Fcb", form, "application/x-www-form-urlencoded")
	sub := "conf-social-" + client
	idp.SetUser(oidctest.User{Sub: sub, Email: sub + "@example.com", EmailVerified: true})
	token := func(process string, tok map[string]any) string {
		b, _ := json.Marshal(map[string]any{"provider": "google", "process": process, "token": tok})
		return string(b)
	}
	idToken := idp.IDToken(t, oidctest.TokenOptions{})
	do("POST", "auth/provider/token", token("login", map[string]any{"client_id": "other", "id_token": idToken}))
	do("POST", "auth/provider/token", token("login", map[string]any{"client_id": idp.ClientID}))
	do("GET", "auth/provider/signup", "")
	if res := do("POST", "auth/provider/token", token("login", map[string]any{"client_id": idp.ClientID, "id_token": idToken})); res.Code != 401 {
		t.Errorf("%s/%s: token login without auto signup answered %d", config, client, res.Code)
	}
	do("GET", "auth/session", "")
	do("GET", "auth/provider/signup", "")
	do("POST", "auth/provider/signup", `{"email":"not an address"}`)
	if res := do("POST", "auth/provider/signup", `{"email":"`+sub+`@example.com"}`); res.Code != 200 {
		t.Errorf("%s/%s: provider signup answered %d: %s", config, client, res.Code, res.Body)
	}
	do("GET", "account/providers", "")
	do("DELETE", "account/providers", `{"provider":"google","account":"nope"}`)
	do("DELETE", "account/providers", `{"provider":"google","account":"`+sub+`"}`) // no password: refused
	do("POST", "auth/provider/token", token("connect", map[string]any{"client_id": idp.ClientID, "id_token": idToken}))
	do("DELETE", "auth/session", "")
	do("GET", "account/providers", "")
}
