package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/api/manage"
	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/mfa/webauthntest"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/social/oidctest"
	"github.com/hallpass/hallpass/internal/testenv"
)

// want is one event a step must append: its type and, for some dotted
// paths into its data, the values (compared as fmt.Sprint).
type want struct {
	typ  string
	data map[string]any
}

// tracker hands out the events a tenant appended since the last call, and
// checks each against its type's schema in the catalog and the payload
// builder.
type tracker struct {
	t    *testing.T
	env  *apitest.Env
	seen map[int64]bool
}

func newTracker(t *testing.T, env *apitest.Env) *tracker {
	return &tracker{t: t, env: env, seen: map[int64]bool{}}
}

func (k *tracker) fresh() []events.Event {
	k.t.Helper()
	all, err := events.List(context.Background(), testenv.Pool(k.t), k.env.Tenant.ID, 10000)
	if err != nil {
		k.t.Fatal(err)
	}
	var out []events.Event
	for _, e := range all {
		if !k.seen[e.ID] {
			k.seen[e.ID] = true
			out = append(out, e)
			checkSchema(k.t, e)
			checkPayload(k.t, e, k.env.Tenant.Slug)
		}
	}
	return out
}

// expect checks that exactly the wanted events were appended since the
// last call (in any order, each once), and returns them.
func (k *tracker) expect(step string, ws ...want) []events.Event {
	k.t.Helper()
	got := k.fresh()
	var gotTypes, wantTypes []string
	for _, e := range got {
		gotTypes = append(gotTypes, e.Type)
	}
	for _, w := range ws {
		wantTypes = append(wantTypes, w.typ)
	}
	slices.Sort(gotTypes)
	slices.Sort(wantTypes)
	if !slices.Equal(gotTypes, wantTypes) {
		k.t.Errorf("%s: events %v, want %v: %s", step, gotTypes, wantTypes, describe(got))
		return got
	}
	used := map[int]bool{}
	for _, w := range ws {
		found := false
		for i, e := range got {
			if !used[i] && e.Type == w.typ && matches(e, w.data) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			k.t.Errorf("%s: no %s with %v among %s", step, w.typ, w.data, describe(got))
		}
	}
	return got
}

// matches reports whether e's data has each dotted path's value.
func matches(e events.Event, paths map[string]any) bool {
	var data any
	if err := json.Unmarshal(e.Data, &data); err != nil {
		return false
	}
	for path, v := range paths {
		if fmt.Sprint(lookup(data, path)) != fmt.Sprint(v) {
			return false
		}
	}
	return true
}

func lookup(v any, path string) any {
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			var i int
			if _, err := fmt.Sscan(p, &i); err != nil || i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func describe(es []events.Event) string {
	var parts []string
	for _, e := range es {
		parts = append(parts, e.Type+string(e.Data))
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

var (
	schemaOnce sync.Once
	schemas    map[string]*jsonschema.Schema
	schemaErr  error
)

// checkSchema validates e's data against its type's schema from Catalog,
// with an independent JSON Schema implementation.
func checkSchema(t *testing.T, e events.Event) {
	t.Helper()
	schemaOnce.Do(func() {
		schemas = map[string]*jsonschema.Schema{}
		c := jsonschema.NewCompiler()
		for _, ti := range events.Catalog() {
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(ti.Schema))
			if err != nil {
				schemaErr = err
				return
			}
			url := "https://hallpass.test/events/" + ti.Type + ".json"
			if err := c.AddResource(url, doc); err != nil {
				schemaErr = err
				return
			}
			if schemas[ti.Type], err = c.Compile(url); err != nil {
				schemaErr = fmt.Errorf("%s: %w", ti.Type, err)
				return
			}
		}
	})
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(e.Data))
	if err != nil {
		t.Fatal(err)
	}
	if err := schemas[e.Type].Validate(inst); err != nil {
		t.Errorf("%s %s does not match its schema: %v", e.Type, e.Data, err)
	}
	if bytes.Contains(e.Data, []byte("private_metadata\":{")) || bytes.Contains(e.Data, []byte("secret-plan")) {
		t.Errorf("%s carries private metadata: %s", e.Type, e.Data)
	}
}

// checkPayload checks the receiver's envelope of e.
func checkPayload(t *testing.T, e events.Event, slug string) {
	t.Helper()
	raw, err := events.Payload(e, slug)
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatal(err)
	}
	ts, _ := p["timestamp"].(string)
	at, err := time.Parse(time.RFC3339Nano, ts)
	if len(p) != 4 || p["type"] != e.Type || p["tenant"] != slug || err != nil || !at.Equal(e.At) || p["data"] == nil {
		t.Errorf("payload %s", raw)
	}
}

var mailLink = regexp.MustCompile(`https://app\.example\.com/(?:verify|reset)/(\S+)`)

// TestHeadlessFlowsEmitEvents walks a user through the headless API as a
// frontend does; after each step the tenant has exactly the step's events,
// with the right data, each matching its catalog schema.
func TestHeadlessFlowsEmitEvents(t *testing.T) {
	const origin = "http://" + apitest.PlatformHost
	env := apitest.New(t, apitest.Settings{
		"ACCOUNT_LOGIN_METHODS":              []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":              []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION":         "optional",
		"ACCOUNT_RATE_LIMITS":                false,
		"MFA_SUPPORTED_TYPES":                []string{"totp", "recovery_codes", "webauthn"},
		"MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN": true,
		"HALLPASS_WEBAUTHN_RP_ID":            apitest.PlatformHost,
		"HALLPASS_WEBAUTHN_ORIGINS":          []string{origin},
		"HEADLESS_FRONTEND_URLS": map[string]string{
			"account_confirm_email":           "https://app.example.com/verify/{key}",
			"account_reset_password_from_key": "https://app.example.com/reset/{key}",
		},
	})
	k := newTracker(t, env)
	const first, second = "ivy@example.com", "ivy.new@example.com"
	pw1, pw2, pw3 := "ivy horse battery one", "ivy horse battery two", "ivy horse battery three"
	mails := 0
	mailKey := func() string {
		mails++
		return mailLink.FindStringSubmatch(env.WaitMail(t, mails).Text)[1]
	}

	app := env.Client("app")
	res := app.Do("POST", "auth/signup", `{"email":"`+first+`","password":"`+pw1+`"}`).Status(200)
	id := res.Path("data.user.id")
	mailKey()
	k.expect("signup",
		want{events.UserCreated, map[string]any{"source": "signup", "user.id": id, "user.email": first, "user.has_usable_password": true,
			"user.public_metadata": map[string]any{}}},
		want{events.SessionCreated, map[string]any{"session.client": "app", "user.id": id}})

	env.Client("app").Do("POST", "auth/login", `{"email":"`+first+`","password":"wrong horse battery"}`).Status(400)
	k.expect("sign-in failure", want{events.LoginFailed, map[string]any{"method": "email", "reason": "email_password_mismatch", "user.id": id}})
	env.Client("app").Do("POST", "auth/login", `{"email":"`+first+`","password":"wrong horse battery"}`).Status(400)
	env.Client("app").Do("POST", "auth/login", `{"email":"`+first+`","password":"wrong horse battery"}`).Status(400)
	k.expect("more sign-in failures within the minute")
	env.Client("app").Do("POST", "auth/login", `{"email":"nobody@example.com","password":"wrong horse battery"}`).Status(400)
	k.expect("sign-in failure of no account")

	fe := env.Client("browser")
	fe.Do("POST", "auth/login", `{"email":"`+first+`","password":"`+pw1+`"}`).Status(200)
	got := k.expect("sign-in", want{events.SessionCreated, map[string]any{"session.client": "browser", "session.methods.0.method": "password",
		"session.methods.0.email": first}})
	if len(got) == 1 {
		var d struct {
			Session struct{ ID int64 } `json:"session"`
		}
		_ = json.Unmarshal(got[0].Data, &d)
		listed := fe.Do("GET", "auth/sessions", "").Status(200)
		found := false
		for _, s := range listed.Path("data").([]any) {
			s := s.(map[string]any)
			found = found || (s["is_current"] == true && int64(s["id"].(float64)) == d.Session.ID)
		}
		if !found {
			t.Errorf("session.created names session %d, not the current one of %s", d.Session.ID, listed.Body)
		}
	}

	fe.Do("POST", "account/email", `{"email":"`+second+`"}`).Status(200)
	k.expect("email added", want{events.EmailAdded, map[string]any{"email.email": second, "email.verified": false, "email.primary": false}})
	fe.Do("POST", "auth/email/verify", `{"key":"`+mailKey()+`"}`).Status(200)
	k.expect("email verified", want{events.EmailVerified, map[string]any{"email.email": second, "email.verified": true}})
	fe.Do("PATCH", "account/email", `{"email":"`+second+`","primary":true}`).Status(200)
	k.expect("primary changed", want{events.EmailPrimaryChanged, map[string]any{"email.email": second, "previous": first, "user.email": second}})
	fe.Do("DELETE", "account/email", `{"email":"`+first+`"}`).Status(200)
	k.expect("email removed", want{events.EmailRemoved, map[string]any{"email.email": first}})

	fe.Do("POST", "account/password/change", `{"current_password":"`+pw1+`","new_password":"`+pw2+`"}`).Status(200)
	// The app's session ends with the change: no session.ended of its own.
	k.expect("password changed", want{events.PasswordChanged, map[string]any{"kind": "change"}})

	res = fe.Do("GET", "account/authenticators/totp", "").Status(404)
	secret := res.Path("meta.secret").(string)
	fe.Do("POST", "account/authenticators/totp", `{"code":"`+mfa.TOTPCode(secret, time.Now(), env.Tenant.Settings)+`"}`).Status(200)
	k.expect("TOTP activated", want{events.MFAEnabled, map[string]any{"authenticator.type": "totp"}},
		want{events.MFAEnabled, map[string]any{"authenticator.type": "recovery_codes"}})
	fe.Do("POST", "account/authenticators/recovery-codes", "").Status(200)
	k.expect("recovery codes regenerated")

	auth := webauthntest.New(origin, apitest.PlatformHost)
	res = fe.Do("GET", "account/authenticators/webauthn", "").Status(200)
	opts, _ := json.Marshal(res.Path("data.creation_options"))
	cred, err := auth.Create(opts, true, false)
	if err != nil {
		t.Fatal(err)
	}
	res = fe.Do("POST", "account/authenticators/webauthn", `{"name":"Key","credential":`+string(cred)+`}`).Status(200)
	key := res.Path("data.id")
	k.expect("WebAuthn key added", want{events.MFAEnabled, map[string]any{"authenticator.type": "webauthn", "authenticator.id": key}})
	fe.Do("DELETE", "account/authenticators/webauthn", fmt.Sprintf(`{"authenticators":[%d]}`, int64(key.(float64)))).Status(200)
	k.expect("WebAuthn key removed", want{events.MFADisabled, map[string]any{"authenticator.type": "webauthn", "authenticator.id": key}})
	fe.Do("DELETE", "account/authenticators/totp", "").Status(200)
	k.expect("TOTP removed", want{events.MFADisabled, map[string]any{"authenticator.type": "totp"}},
		want{events.MFADisabled, map[string]any{"authenticator.type": "recovery_codes"}})

	other := env.Client("app")
	other.Do("POST", "auth/login", `{"email":"`+second+`","password":"`+pw2+`"}`).Status(200)
	got = k.expect("second sign-in", want{events.SessionCreated, map[string]any{"session.client": "app"}})
	var otherID any
	if len(got) == 1 {
		if f, ok := lookup(decode(got[0].Data), "session.id").(float64); ok {
			otherID = int64(f)
		}
	}
	fe.Do("DELETE", "auth/sessions", fmt.Sprintf(`{"sessions":[%v]}`, otherID)).Status(200)
	k.expect("session ended from the list", want{events.SessionEnded, map[string]any{"reason": "user", "session.id": fmt.Sprint(float64(otherID.(int64))), "user.id": id}})

	fe.Do("DELETE", "auth/session", "").Status(401)
	k.expect("logout", want{events.SessionEnded, map[string]any{"reason": "logout"}})

	anon := env.Client("app")
	anon.Do("POST", "auth/password/request", `{"email":"`+second+`"}`).Status(200)
	anon.Do("POST", "auth/password/reset", `{"key":"`+mailKey()+`","password":"`+pw3+`"}`).Status(401)
	k.expect("password reset", want{events.PasswordReset, map[string]any{"user.id": id}})
}

func decode(raw []byte) any {
	var v any
	_ = json.Unmarshal(raw, &v)
	return v
}

// TestProviderEventsEmitted: a provider signup is user.created (source
// provider_signup) with social.connected; connecting and disconnecting a
// provider account to a signed-in user are social.connected and
// social.disconnected.
func TestProviderEventsEmitted(t *testing.T) {
	srv := oidctest.Start(t)
	env := apitest.New(t, apitest.Settings{
		"ACCOUNT_LOGIN_METHODS":      []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":      []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "none",
		"SOCIALACCOUNT_PROVIDERS": map[string]any{"google": map[string]any{
			"APPS": []any{map[string]any{"client_id": srv.ClientID, "secret": srv.ClientSecret}}}},
	})
	env.Social.Endpoints["google"] = social.Endpoints{Authorize: srv.AuthorizeURL(), Token: srv.TokenURL(), Userinfo: srv.UserinfoURL(),
		TokenInfo: srv.TokenInfoURL(), JWKS: srv.JWKSURL(), Issuer: srv.Issuer()}
	k := newTracker(t, env)
	body := func(process string) string {
		b, _ := json.Marshal(map[string]any{"provider": "google", "process": process,
			"token": map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{})}})
		return string(b)
	}

	srv.SetUser(oidctest.User{Sub: "g-1", Email: "pia@example.com", EmailVerified: true})
	env.Client("app").Do("POST", "auth/provider/token", body("login")).Status(200)
	k.expect("provider signup", want{events.UserCreated, map[string]any{"source": "provider_signup", "user.email": "pia@example.com",
		"user.has_usable_password": false}},
		want{events.SocialConnected, map[string]any{"account.provider": "google", "account.uid": "g-1"}},
		want{events.SessionCreated, map[string]any{"session.methods.0.method": "socialaccount", "session.methods.0.provider": "google"}})

	c := env.Client("app")
	c.Do("POST", "auth/signup", `{"email":"gu@example.com","password":"a long password 1"}`).Status(200)
	k.expect("signup", want{events.UserCreated, nil}, want{events.SessionCreated, nil})
	srv.SetUser(oidctest.User{Sub: "g-4", Email: "gu.other@example.com", EmailVerified: true})
	c.Do("POST", "auth/provider/token", body("connect")).Status(200)
	k.expect("connect", want{events.SocialConnected, map[string]any{"account.provider": "google", "account.uid": "g-4", "user.email": "gu@example.com"}})
	c.Do("DELETE", "account/providers", `{"provider":"google","account":"nope"}`).Status(400)
	k.expect("refused disconnect")
	c.Do("DELETE", "account/providers", `{"provider":"google","account":"g-4"}`).Status(200)
	k.expect("disconnect", want{events.SocialDisconnected, map[string]any{"account.provider": "google", "account.uid": "g-4"}})
}

// manageClient calls the management API with a key of env's tenant.
type manageClient struct {
	env    *apitest.Env
	secret string
}

func newManageClient(t *testing.T, env *apitest.Env) *manageClient {
	t.Helper()
	_, secret, err := env.Assembly.APIKeys.Create(context.Background(), audit.Actor{Name: "test"}, apikeys.NewKey{TenantID: env.Tenant.ID, Name: "events",
		Scopes: []string{string(apikeys.UsersRead), string(apikeys.UsersWrite), string(apikeys.SessionsWrite)}})
	if err != nil {
		t.Fatal(err)
	}
	return &manageClient{env: env, secret: secret}
}

func (m *manageClient) do(method, path, body string) *apitest.Response {
	headers := []string{"Authorization", "Bearer " + m.secret}
	if body != "" {
		headers = append(headers, "Content-Type", "application/json")
	}
	return m.env.Raw(method, manage.Prefix+"/tenants/"+m.env.Tenant.Slug+path, body, headers...)
}

// TestManagementAPIEmitsEvents: the tenant's backend creating, changing,
// disabling, enabling and deleting a user, ending their sessions and
// resetting their second factors appends the events of each change; a
// refused change appends none.
func TestManagementAPIEmitsEvents(t *testing.T) {
	env := apitest.New(t, apitest.Settings{"ACCOUNT_RATE_LIMITS": false, "ACCOUNT_EMAIL_VERIFICATION": "none"})
	k := newTracker(t, env)
	m := newManageClient(t, env)

	res := m.do("POST", "/users", `{"username":"otto","emails":[{"email":"otto@example.com","verified":true,"primary":true}],
		"password":"otto horse battery one","public_metadata":{"plan":"pro"},"private_metadata":{"plan":"secret-plan"}}`).Status(201)
	id := res.JSON["id"]
	k.expect("create", want{events.UserCreated, map[string]any{"source": "admin", "user.id": id, "user.username": "otto",
		"user.email": "otto@example.com", "user.public_metadata.plan": "pro"}})
	m.do("POST", "/users", `{"username":"otto2","emails":[{"email":"otto@example.com","verified":true,"primary":true}]}`).Status(409)
	k.expect("create with a taken address")

	path := fmt.Sprintf("/users/%v", id)
	m.do("PATCH", path, `{"public_metadata":{"plan":"team"},"private_metadata":{"plan":"secret-plan-2"}}`).Status(200)
	k.expect("metadata", want{events.UserUpdated, map[string]any{"changed": []any{"public_metadata", "private_metadata"}, "user.public_metadata.plan": "team"}})
	m.do("PATCH", path, `{"username":"otto.b"}`).Status(200)
	k.expect("username", want{events.UserUpdated, map[string]any{"changed": []any{"username"}, "user.username": "otto.b"}})

	m.do("POST", path+"/disable", "").Status(200)
	k.expect("disable", want{events.UserDisabled, map[string]any{"user.id": id}})
	m.do("POST", path+"/disable", "").Status(200)
	k.expect("disable again (no change)")
	m.do("POST", path+"/enable", "").Status(200)
	k.expect("enable", want{events.UserEnabled, map[string]any{"user.id": id}})

	for range 2 {
		env.Client("app").Do("POST", "auth/login", `{"username":"otto.b","password":"otto horse battery one"}`).Status(200)
	}
	k.expect("two sign-ins", want{events.SessionCreated, nil}, want{events.SessionCreated, nil})
	m.do("DELETE", path+"/sessions", "").Status(200)
	k.expect("sessions ended", want{events.SessionEnded, map[string]any{"reason": "admin"}}, want{events.SessionEnded, map[string]any{"reason": "admin"}})

	secret := mfa.NewTOTPSecret()
	if _, err := env.Assembly.MFA.ActivateTOTP(context.Background(), env.Tenant.ID, int64(id.(float64)), secret,
		mfa.TOTPCode(secret, time.Now(), env.Tenant.Settings), env.Tenant.Settings); err != nil {
		t.Fatal(err)
	}
	k.expect("TOTP", want{events.MFAEnabled, map[string]any{"authenticator.type": "totp"}})
	m.do("DELETE", path+"/authenticators", "").Status(200)
	k.expect("second factors reset", want{events.MFADisabled, map[string]any{"authenticator.type": "totp"}})

	m.do("DELETE", path, "").Status(204)
	k.expect("delete", want{events.UserDeleted, map[string]any{"user.id": id, "user.username": "otto.b", "user.email": "otto@example.com"}})
}

// failingFanout fails every event: the change it belongs to must fail too.
type failingFanout struct{}

func (failingFanout) Fanout(context.Context, pgx.Tx, events.Event) error {
	return fmt.Errorf("queue refused")
}

// failing posts body to the app client's path and returns the status,
// outside apitest's check against allauth's spec (which has no 500).
func failing(t *testing.T, env *apitest.Env, path, body string) int {
	t.Helper()
	req := httptest.NewRequest("POST", "/t/"+env.Tenant.Slug+"/_allauth/app/v1/"+path, strings.NewReader(body))
	req.Host = apitest.PlatformHost
	req.Header.Set("Content-Type", "application/json")
	res, err := env.Server.Platform.Test(req, 30000)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	return res.StatusCode
}

// TestNoEventWithoutItsChange: when recording an event fails, the change
// fails with it (no user, no event); a change refused on a conflict
// appends nothing.
func TestNoEventWithoutItsChange(t *testing.T) {
	env := apitest.New(t, apitest.Settings{"ACCOUNT_LOGIN_METHODS": []string{"email"}, "ACCOUNT_SIGNUP_FIELDS": []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "none", "ACCOUNT_RATE_LIMITS": false})
	k := newTracker(t, env)
	env.Assembly.Events.Fanout = failingFanout{}
	if code := failing(t, env, "auth/signup", `{"email":"lost@example.com","password":"a long password 1"}`); code != 500 {
		t.Errorf("signup whose event failed: %d", code)
	}
	var users int
	if err := testenv.Pool(t).QueryRow(context.Background(), `SELECT count(*) FROM users WHERE tenant_id = $1`, env.Tenant.ID).Scan(&users); err != nil {
		t.Fatal(err)
	}
	if users != 0 {
		t.Errorf("%d users after a signup whose event failed", users)
	}
	k.expect("signup whose event failed")

	env.Assembly.Events.Fanout = nil
	env.Client("app").Do("POST", "auth/signup", `{"email":"kept@example.com","password":"a long password 1"}`).Status(200)
	k.expect("signup", want{events.UserCreated, nil}, want{events.SessionCreated, nil})
	env.Client("app").Do("POST", "auth/signup", `{"email":"kept@example.com","password":"a long password 1"}`).Status(400)
	k.expect("signup with a taken address")

	// A sign-in whose session cannot be saved with its event fails whole:
	// no session row stays behind.
	env.Assembly.Events.Fanout = failingFanout{}
	if code := failing(t, env, "auth/login", `{"email":"kept@example.com","password":"a long password 1"}`); code != 500 {
		t.Errorf("sign-in whose event failed: %d", code)
	}
	env.Assembly.Events.Fanout = nil
	var sessions int
	if err := testenv.Pool(t).QueryRow(context.Background(), `SELECT count(*) FROM sessions WHERE tenant_id = $1`, env.Tenant.ID).Scan(&sessions); err != nil {
		t.Fatal(err)
	}
	if sessions != 1 {
		t.Errorf("%d sessions, want only the signup's", sessions)
	}
	k.expect("sign-in whose event failed")
}

// TestLoginFailedLimitedPerUser: a burst of wrong passwords for two users
// gives one login.failed each.
func TestLoginFailedLimitedPerUser(t *testing.T) {
	env := apitest.New(t, apitest.Settings{"ACCOUNT_LOGIN_METHODS": []string{"email"}, "ACCOUNT_SIGNUP_FIELDS": []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "none", "ACCOUNT_RATE_LIMITS": false})
	// A cheap hash keeps the burst well within the minute on a busy machine.
	env.Accounts.Hasher = passwords.Hasher{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	k := newTracker(t, env)
	for _, who := range []string{"a@example.com", "b@example.com"} {
		env.Client("app").Do("POST", "auth/signup", `{"email":"`+who+`","password":"a long password 1"}`).Status(200)
	}
	k.fresh()
	start := time.Now()
	for i := range 10 {
		who := []string{"a@example.com", "b@example.com"}[i%2]
		env.Client("app").Do("POST", "auth/login", `{"email":"`+who+`","password":"wrong password `+fmt.Sprint(i)+`"}`).Status(400)
	}
	if time.Since(start) > 50*time.Second {
		t.Fatalf("the burst took %v, past the one-minute window the limit counts in: the machine is too slow for this test's premise", time.Since(start))
	}
	k.expect("burst", want{events.LoginFailed, map[string]any{"user.email": "a@example.com"}}, want{events.LoginFailed, map[string]any{"user.email": "b@example.com"}})
}
