package base_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/identity"
	mfadomain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/internal/userdata"
)

const password = "correct horse battery"

// seedFields are the profile fields of the settings guide's user model.
var seedFields = []map[string]any{
	{"name": "first_name", "type": "string", "max_length": 150, "user_editable": true},
	{"name": "last_name", "type": "string", "max_length": 150, "user_editable": true},
	{"name": "plan", "type": "choice", "choices": []string{"free", "pro"}},
}

// seedSerializer is the settings guide's adapter (serialize_user adds
// full_name and profile_image) as HALLPASS_USER_SERIALIZER, with a third key.
var seedSerializer = map[string]string{
	"full_name":     "(user.profile.?first_name.orValue('') + ' ' + user.profile.?last_name.orValue('')).trim()",
	"profile_image": "has(user.public_metadata.avatar) ? user.public_metadata.avatar : null",
	"verified":      "user.emails.exists(e, e.primary && e.verified)",
}

func userDataSettings(extra apitest.Settings) apitest.Settings {
	s := apitest.Settings{
		"ACCOUNT_LOGIN_METHODS":      []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":      []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "none",
		"ACCOUNT_RATE_LIMITS":        false,
		"HALLPASS_USER_FIELDS":       seedFields,
		"HALLPASS_USER_SERIALIZER":   seedSerializer,
	}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

// rawUser is the response's data.user (or the user at path) as sent.
func rawUser(t *testing.T, res *apitest.Response, path ...string) string {
	t.Helper()
	var doc struct {
		Data struct {
			User json.RawMessage `json:"user"`
		} `json:"data"`
	}
	if err := json.Unmarshal(res.Body, &doc); err != nil || doc.Data.User == nil {
		t.Fatalf("no data.user in %d %s", res.Code, res.Body)
	}
	return string(doc.Data.User)
}

// backendSets changes the user's data as the tenant's backend does.
func backendSets(t *testing.T, env *apitest.Env, userID int64, ch identity.UserDataChange) {
	t.Helper()
	if _, err := env.Accounts.Profiles.Update(context.Background(), audit.Actor{Name: "backend"}, env.Tenant, userID,
		userdata.ModeBackend, ch); err != nil {
		t.Fatal(err)
	}
}

func signupUser(t *testing.T, fe *apitest.Client, email string) (*apitest.Response, int64) {
	t.Helper()
	res := fe.Do("POST", "auth/signup", `{"email":"`+email+`","password":"`+password+`"}`).Status(200)
	id, _ := res.Path("data.user.id").(float64)
	if id == 0 {
		t.Fatalf("signup: %s", res.Body)
	}
	return res, int64(id)
}

// The seed's adapter works over HTTP for both clients: the serializer's keys
// follow allauth's in the user object of signup, session, login,
// reauthentication and the 401 that asks for it.
func TestSerializerKeysInUserObjects(t *testing.T) {
	env := apitest.New(t, userDataSettings(apitest.Settings{"ACCOUNT_REAUTHENTICATION_TIMEOUT": 300, "ACCOUNT_REAUTHENTICATION_REQUIRED": true}))
	for _, client := range apitest.Clients {
		fe := env.Client(client)
		email := client + "-ada@example.com"
		res, id := signupUser(t, fe, email)
		want := `,"id":` + itoa(id) + `,"username":"` + client + `-ada","full_name":"","profile_image":null,"verified":false}`
		if got := rawUser(t, res); !strings.HasSuffix(got, want) {
			t.Fatalf("%s signup user = %s, want ...%s", client, got, want)
		}

		backendSets(t, env, id, identity.UserDataChange{Profile: map[string]any{"first_name": "Ada", "last_name": "Lovelace"},
			PublicMetadata: map[string]any{"avatar": "https://cdn.example/ada.png"}})
		want = `{"display":"` + client + `-ada","email":"` + email + `","has_usable_password":true,"id":` + itoa(id) +
			`,"username":"` + client + `-ada","full_name":"Ada Lovelace","profile_image":"https://cdn.example/ada.png","verified":false}`
		for i := range 3 { // cold, then from the session cache and its memo
			if got := rawUser(t, fe.Do("GET", "auth/session", "").Status(200)); got != want {
				t.Fatalf("%s session #%d user = %s\nwant %s", client, i, got, want)
			}
		}
		fe.Do("DELETE", "auth/session", "")
		fe = env.Client(client)
		res = fe.Do("POST", "auth/login", `{"email":"`+email+`","password":"`+password+`"}`).Status(200)
		if got := rawUser(t, res); got != want {
			t.Fatalf("%s login user = %s", client, got)
		}
		if got := rawUser(t, fe.Do("POST", "auth/reauthenticate", `{"password":"`+password+`"}`).Status(200)); got != want {
			t.Fatalf("%s reauthenticate user = %s", client, got)
		}

		// An authentication past ACCOUNT_REAUTHENTICATION_TIMEOUT: the 401
		// that asks for reauthentication carries the user too.
		prev := env.Accounts.Now
		env.Accounts.Now = func() time.Time { return time.Now().Add(time.Hour) }
		res = fe.Do("POST", "account/email", `{"email":"second-`+email+`"}`).Status(401)
		env.Accounts.Now = prev
		if got := rawUser(t, res); got != want || res.Path("meta.is_authenticated") != true {
			t.Fatalf("%s reauthentication 401 = %s", client, res.Body)
		}
	}
}

// A tenant without a serializer answers exactly allauth's user object.
func TestNoSerializerUserObjectUnchanged(t *testing.T) {
	s := userDataSettings(nil)
	delete(s, "HALLPASS_USER_SERIALIZER")
	env := apitest.New(t, s)
	for _, client := range apitest.Clients {
		fe := env.Client(client)
		email := client + "-plain@example.com"
		_, id := signupUser(t, fe, email)
		backendSets(t, env, id, identity.UserDataChange{Profile: map[string]any{"first_name": "Ada"}})
		want := `{"display":"` + client + `-plain","email":"` + email + `","has_usable_password":true,"id":` + itoa(id) +
			`,"username":"` + client + `-plain"}`
		for range 2 {
			if got := rawUser(t, fe.Do("GET", "auth/session", "").Status(200)); got != want {
				t.Fatalf("%s session user = %s, want %s", client, got, want)
			}
		}
	}
}

// logCapture collects what the process's default logger writes.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logCapture) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logCapture) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// A key whose expression fails at run time is left out; the response is
// otherwise normal, and the failure is logged once (per tenant and minute),
// not per request.
func TestSerializerFailingKeyDropped(t *testing.T) {
	logs := &logCapture{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	env := apitest.New(t, userDataSettings(apitest.Settings{"HALLPASS_USER_SERIALIZER": map[string]string{
		"full_name": seedSerializer["full_name"],
		"broken":    "user.public_metadata.missing + 'x'",
	}}))
	fe := env.Client("app")
	res, id := signupUser(t, fe, "broken@example.com")
	want := `{"display":"broken","email":"broken@example.com","has_usable_password":true,"id":` + itoa(id) + `,"username":"broken","full_name":""}`
	if got := rawUser(t, res); got != want {
		t.Fatalf("signup user = %s, want %s", got, want)
	}
	for range 3 {
		if got := rawUser(t, fe.Do("GET", "auth/session", "").Status(200)); got != want {
			t.Fatalf("session user = %s", got)
		}
	}
	backendSets(t, env, id, identity.UserDataChange{Profile: map[string]any{"first_name": "Ada"}})
	fe.Do("GET", "auth/session", "").Status(200)
	if n := strings.Count(logs.String(), "user data expressions failed"); n != 1 || !strings.Contains(logs.String(), "broken") {
		t.Fatalf("logged %d times:\n%s", n, logs)
	}
}

// A change of the serializer shows on the next GET auth/session once the
// settings reach the server, though the output was memoized.
func TestSerializerSettingsChangeShows(t *testing.T) {
	env := apitest.New(t, userDataSettings(nil))
	fe := env.Client("browser")
	_, id := signupUser(t, fe, "change@example.com")
	backendSets(t, env, id, identity.UserDataChange{Profile: map[string]any{"first_name": "Ada", "last_name": "Lovelace"}})
	for range 3 {
		if got := fe.Do("GET", "auth/session", "").Status(200).Path("data.user.full_name"); got != "Ada Lovelace" {
			t.Fatalf("full_name = %v", got)
		}
	}
	patch := `{"HALLPASS_USER_SERIALIZER": {"full_name": "user.profile.last_name + ', ' + user.profile.first_name", "org": "tenant.slug"}}`
	if _, err := env.Store.UpdateSettings(context.Background(), env.Tenant.Slug, []byte(patch), "test"); err != nil {
		t.Fatal(err)
	}
	want := `,"full_name":"Lovelace, Ada","org":"` + env.Tenant.Slug + `"}`
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got := rawUser(t, fe.Do("GET", "auth/session", "").Status(200))
		if strings.HasSuffix(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the change: %s", got)
		}
	}
}

// A change to the user's data or addresses shows on the very next GET, on
// this node and on another one, though both had the output memoized.
func TestSerializerUserChangeShowsOnEveryNode(t *testing.T) {
	env := apitest.New(t, userDataSettings(nil))
	peer := apitest.NewPeer(t, env)
	fe := env.Client("app")
	_, id := signupUser(t, fe, "nodes@example.com")
	other := peer.Client("app")
	other.Token = fe.Token
	warm := func(want string) {
		t.Helper()
		for i := range 3 {
			for _, c := range []*apitest.Client{fe, other} {
				if got := c.Do("GET", "auth/session", "").Status(200).Path("data.user.full_name"); got != want {
					t.Fatalf("GET #%d: full_name = %v, want %q", i, got, want)
				}
			}
		}
	}
	warm("")
	backendSets(t, env, id, identity.UserDataChange{Profile: map[string]any{"first_name": "Ada"}})
	warm("Ada")
	backendSets(t, peer, id, identity.UserDataChange{Profile: map[string]any{"last_name": "Lovelace"}})
	warm("Ada Lovelace")

	// An address added (user.emails) is seen as well.
	s := userDataSettings(apitest.Settings{"HALLPASS_USER_SERIALIZER": map[string]string{"emails": "user.emails.size()"}})
	env2 := apitest.New(t, s)
	fe2 := env2.Client("app")
	signupUser(t, fe2, "one@example.com")
	for range 2 {
		if got := fe2.Do("GET", "auth/session", "").Path("data.user.emails"); got != float64(1) {
			t.Fatalf("emails = %v", got)
		}
	}
	fe2.Do("POST", "account/email", `{"email":"two@example.com"}`).Status(200)
	if got := fe2.Do("GET", "auth/session", "").Path("data.user.emails"); got != float64(2) {
		t.Fatalf("emails after adding one = %v", got)
	}
}

// jwtPayload decodes an access token's claims (a backend verifies them
// against the JWKS first; api/tokens tests that).
func jwtPayload(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", token)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// HALLPASS_JWT_CLAIMS: access tokens carry the tenant's claims when issued
// at login and when minted on refresh; the registered claims stay ours.
func TestJWTClaimsOnLoginAndRefresh(t *testing.T) {
	env := apitest.New(t, userDataSettings(apitest.Settings{
		"HEADLESS_TOKEN_STRATEGY": "allauth.headless.tokens.strategies.jwt.JWTTokenStrategy",
		"HALLPASS_JWT_CLAIMS": map[string]string{
			"plan":                      "user.profile.?plan.orValue('free')",
			"https://example.com/roles": "user.public_metadata.?roles.orValue([])",
			"email":                     "user.email",
		},
	}))
	fe := env.Client("app")
	res, id := signupUser(t, fe, "claims@example.com")
	access, _ := res.Path("meta.access_token").(string)
	c := jwtPayload(t, access)
	if c["plan"] != "free" || c["email"] != "claims@example.com" || c["sub"] != itoa(id) || c["token_use"] != "access" {
		t.Fatalf("signup claims = %v", c)
	}
	if roles, _ := c["https://example.com/roles"].([]any); roles == nil || len(roles) != 0 {
		t.Fatalf("roles = %v", c["https://example.com/roles"])
	}

	backendSets(t, env, id, identity.UserDataChange{Profile: map[string]any{"plan": "pro"}, PublicMetadata: map[string]any{"roles": []any{"admin"}}})
	fe.Do("DELETE", "auth/session", "")
	fe = env.Client("app")
	res = fe.Do("POST", "auth/login", `{"email":"claims@example.com","password":"`+password+`"}`).Status(200)
	access, _ = res.Path("meta.access_token").(string)
	refresh, _ := res.Path("meta.refresh_token").(string)
	c = jwtPayload(t, access)
	if c["plan"] != "pro" || c["sub"] != itoa(id) {
		t.Fatalf("login claims = %v", c)
	}
	if roles, _ := c["https://example.com/roles"].([]any); len(roles) != 1 || roles[0] != "admin" {
		t.Fatalf("login roles = %v", c)
	}
	if rc := jwtPayload(t, refresh); rc["plan"] != nil {
		t.Fatalf("the refresh token carries claims: %v", rc)
	}

	env.Do("app", "GET", "auth/session", "", "Authorization", "Bearer "+access).Status(200)
	backendSets(t, env, id, identity.UserDataChange{Profile: map[string]any{"plan": "free"}})
	res = env.Do("app", "POST", "tokens/refresh", `{"refresh_token":"`+refresh+`"}`).Status(200)
	access, _ = res.Path("data.access_token").(string)
	c = jwtPayload(t, access)
	if c["plan"] != "free" || c["sub"] != itoa(id) || c["token_use"] != "access" {
		t.Fatalf("refreshed claims = %v", c)
	}
	// The refreshed token works.
	env.Do("app", "GET", "auth/session", "", "Authorization", "Bearer "+access).Status(200)
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// lapseHold removes the markers by which a user change keeps the user's
// sessions out of the cache for a few seconds, as if that time had passed.
func lapseHold(t *testing.T, env *apitest.Env) {
	t.Helper()
	rdb := testenv.Redis(t)
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "hp:{"+env.Tenant.ID.String()+"}:uchg:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) > 0 {
		if err := rdb.Del(ctx, keys...).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// A warm GET auth/session evaluates nothing and reads nothing from
// Postgres: a change made behind the API's back (plain SQL, no
// UserChanged) stays invisible while the session's cache entry lives.
// An expression that reads `now` is evaluated on every request.
func TestSerializerMemoizedOnSessionCache(t *testing.T) {
	for _, usesNow := range []bool{false, true} {
		ser := map[string]string{"full_name": seedSerializer["full_name"]}
		if usesNow {
			ser["year"] = "now.getFullYear()"
		}
		env := apitest.New(t, userDataSettings(apitest.Settings{"HALLPASS_USER_SERIALIZER": ser}))
		fe := env.Client("app")
		_, id := signupUser(t, fe, "memo@example.com")
		backendSets(t, env, id, identity.UserDataChange{Profile: map[string]any{"first_name": "Ada"}})
		lapseHold(t, env)
		for range 3 {
			if got := fe.Do("GET", "auth/session", "").Status(200).Path("data.user.full_name"); got != "Ada" {
				t.Fatalf("full_name = %v", got)
			}
		}
		if _, err := env.Accounts.Store.Pool().Exec(context.Background(),
			`UPDATE users SET profile = '{"first_name": "Grace"}' WHERE tenant_id = $1 AND id = $2`, env.Tenant.ID, id); err != nil {
			t.Fatal(err)
		}
		want := "Ada" // memoized with the cache entry
		if usesNow {
			want = "Grace"
		}
		if got := fe.Do("GET", "auth/session", "").Status(200).Path("data.user.full_name"); got != want {
			t.Fatalf("usesNow=%v: full_name after a change behind the API = %v, want %v", usesNow, got, want)
		}
		// A change through the API drops the entry and its memo.
		backendSets(t, env, id, identity.UserDataChange{Profile: map[string]any{"last_name": "Hopper"}})
		if got := fe.Do("GET", "auth/session", "").Status(200).Path("data.user.full_name"); got != "Grace Hopper" {
			t.Fatalf("usesNow=%v: full_name after an update = %v", usesNow, got)
		}
	}
}

// Activating and removing an authenticator (user.mfa) shows on the next
// GET auth/session, though the output was memoized.
func TestSerializerSeesMFAChanges(t *testing.T) {
	env := apitest.New(t, userDataSettings(apitest.Settings{
		"MFA_ALLOW_UNVERIFIED_EMAIL": true,
		"MFA_SUPPORTED_TYPES":        []string{"totp", "recovery_codes"},
		"MFA_TOTP_TOLERANCE":         1,
		"HALLPASS_USER_SERIALIZER":   map[string]string{"mfa": "user.mfa"},
	}))
	fe := env.Client("app")
	signupUser(t, fe, "mfa@example.com")
	lapseHold(t, env)
	mfa := func() string {
		t.Helper()
		b, _ := json.Marshal(fe.Do("GET", "auth/session", "").Status(200).Path("data.user.mfa"))
		return string(b)
	}
	for range 3 {
		if got := mfa(); got != `[]` {
			t.Fatalf("mfa = %s", got)
		}
	}
	secret, _ := fe.Do("GET", "account/authenticators/totp", "").Status(404).Path("meta.secret").(string)
	code := mfadomain.TOTPCode(secret, time.Now().Add(-30*time.Second), env.Tenant.Settings)
	fe.Do("POST", "account/authenticators/totp", `{"code":"`+code+`"}`).Status(200)
	if got := mfa(); got != `["recovery_codes","totp"]` {
		t.Fatalf("mfa after activating TOTP = %s", got)
	}
	lapseHold(t, env)
	for range 2 {
		mfa()
	}
	fe.Do("DELETE", "account/authenticators/totp", "").Status(200)
	if got := mfa(); got != `[]` {
		t.Fatalf("mfa after removing TOTP = %s", got)
	}
}
