package manage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/api/manage"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/testenv"
)

// userDataFields are the declared fields of the user data tests' tenants:
// one required, one bounded, one integer, one choice.
var userDataFields = []any{
	map[string]any{"name": "first_name", "type": "string", "required": true, "max_length": 30},
	map[string]any{"name": "last_name", "type": "string", "max_length": 30},
	map[string]any{"name": "bio", "type": "string", "max_length": 4096},
	map[string]any{"name": "age", "type": "integer"},
	map[string]any{"name": "plan", "type": "choice", "choices": []string{"free", "pro"}},
}

// withUserData is emailLogin with userDataFields and a serializer.
func withUserData() apitest.Settings {
	s := apitest.Settings{"HALLPASS_USER_FIELDS": userDataFields,
		"HALLPASS_USER_SERIALIZER": map[string]string{"full_name": "user.profile.first_name + ' ' + user.profile.?last_name.orValue('')"}}
	for k, v := range emailLogin {
		s[k] = v
	}
	s["ACCOUNT_EMAIL_VERIFICATION"] = "none"
	return s
}

// jsonOf is v as compact JSON, for comparing decoded answers.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantData fails unless the user answer u holds these documents (as JSON).
func wantData(t *testing.T, u map[string]any, profile, public, private string) {
	t.Helper()
	for _, d := range []struct{ key, want string }{{"profile", profile}, {"public_metadata", public}, {"private_metadata", private}} {
		if got := jsonOf(t, u[d.key]); got != d.want {
			t.Errorf("%s = %s, want %s (user %v)", d.key, got, d.want, u)
		}
	}
}

// The management API writes and shows a user's profile and metadata:
// created with the user, read by get and list, changed by PATCH (a
// profile field at a time, a metadata document whole), each change
// audited with the key as actor; private metadata never reaches the user.
func TestUsersData(t *testing.T) {
	env := apitest.New(t, withUserData())
	secret := usersKey(t, env)
	ctx := context.Background()

	u := createUser(t, env, secret, `{"emails":[{"email":"ada@example.com","verified":true}],"password":"correct horse battery",
		"profile":{"first_name":"Ada","last_name":"Lovelace","age":36},
		"public_metadata":{"role":"admin","avatar":"https://cdn.example/ada.png"},
		"private_metadata":{"stripe_customer":"cus_123","notes":{"vip":true}}}`)
	wantData(t, u, `{"age":36,"first_name":"Ada","last_name":"Lovelace"}`,
		`{"avatar":"https://cdn.example/ada.png","role":"admin"}`, `{"notes":{"vip":true},"stripe_customer":"cus_123"}`)
	id := idOf(u)

	// Get and list show the same.
	g := call(env, "GET", userPath(env, id), secret, "")
	if g.Code != 200 {
		t.Fatalf("get: %d %s", g.Code, g.Body)
	}
	wantData(t, g.JSON, `{"age":36,"first_name":"Ada","last_name":"Lovelace"}`,
		`{"avatar":"https://cdn.example/ada.png","role":"admin"}`, `{"notes":{"vip":true},"stripe_customer":"cus_123"}`)
	plain := createUser(t, env, secret, `{"emails":[{"email":"bob@example.com"}],"profile":{"first_name":"Bob"}}`)
	wantData(t, plain, `{"first_name":"Bob"}`, `{}`, `{}`)
	l := call(env, "GET", "/tenants/"+env.Tenant.Slug+"/users", secret, "")
	items, _ := l.JSON["items"].([]any)
	if l.Code != 200 || len(items) != 2 {
		t.Fatalf("list: %d %s", l.Code, l.Body)
	}
	wantData(t, items[0].(map[string]any), `{"first_name":"Bob"}`, `{}`, `{}`)
	wantData(t, items[1].(map[string]any), `{"age":36,"first_name":"Ada","last_name":"Lovelace"}`,
		`{"avatar":"https://cdn.example/ada.png","role":"admin"}`, `{"notes":{"vip":true},"stripe_customer":"cus_123"}`)

	// PATCH: profile fields set one by one (null removes, unnamed stay),
	// a metadata document replaced whole, the other left.
	p := call(env, "PATCH", userPath(env, id), secret, `{"profile":{"last_name":null,"plan":"pro","age":37},"public_metadata":{"role":"editor"}}`)
	if p.Code != 200 {
		t.Fatalf("patch: %d %s", p.Code, p.Body)
	}
	wantData(t, p.JSON, `{"age":37,"first_name":"Ada","plan":"pro"}`, `{"role":"editor"}`, `{"notes":{"vip":true},"stripe_customer":"cus_123"}`)
	p = call(env, "PATCH", userPath(env, id), secret, `{"private_metadata":{}}`)
	if p.Code != 200 {
		t.Fatalf("patch private: %d %s", p.Code, p.Body)
	}
	wantData(t, p.JSON, `{"age":37,"first_name":"Ada","plan":"pro"}`, `{"role":"editor"}`, `{}`)
	wantData(t, call(env, "GET", userPath(env, id), secret, "").JSON, `{"age":37,"first_name":"Ada","plan":"pro"}`, `{"role":"editor"}`, `{}`)

	// Audited: the creation says which documents it set, each change
	// which parts changed, never the values; the key is the actor.
	events, err := audit.ListFiltered(ctx, testenv.Pool(t), env.Tenant.ID, audit.Filter{Action: "user.data.change"}, audit.Cursor{}, 50)
	if err != nil {
		t.Fatal(err)
	}
	var changes []string
	for _, e := range events {
		if !strings.HasPrefix(e.Actor, "apikey:") || strings.Contains(jsonOf(t, e.Details), "cus_123") || strings.Contains(jsonOf(t, e.Details), "editor") {
			t.Errorf("event %+v", e)
		}
		changes = append(changes, jsonOf(t, e.Details["changed"]))
	}
	if want := []string{`["private_metadata"]`, `["profile.age","profile.last_name","profile.plan","public_metadata"]`}; jsonOf(t, changes) != jsonOf(t, want) {
		t.Errorf("user.data.change events changed %v, want %v", changes, want)
	}
	created, err := audit.ListFiltered(ctx, testenv.Pool(t), env.Tenant.ID, audit.Filter{Action: "user.create"}, audit.Cursor{}, 50)
	if err != nil {
		t.Fatal(err)
	}
	// (Newest first: Bob set only his profile.)
	if len(created) != 2 || jsonOf(t, created[0].Details["data"]) != `["profile.first_name"]` || jsonOf(t, created[1].Details["data"]) != `["profile.age","profile.first_name","profile.last_name","public_metadata","private_metadata"]` ||
		strings.Contains(jsonOf(t, created[1].Details), "cus_123") {
		t.Errorf("user.create events: %+v", created)
	}

	// The user signs in: the serializer reads the profile the API wrote;
	// private metadata is nowhere in the headless answers.
	fe, res := login(t, env, "ada@example.com", "correct horse battery")
	if res.Code != 200 {
		t.Fatalf("login: %d %s", res.Code, res.Body)
	}
	s := fe.Do("GET", "auth/session", "")
	if s.Code != 200 || strings.Contains(string(s.Body), "stripe_customer") || strings.Contains(string(res.Body), "stripe_customer") {
		t.Fatalf("session: %d %s", s.Code, s.Body)
	}
	// A data change drops the user's cached summaries: the next session
	// read shows it through the serializer's keys.
	if got := s.Path("data.user.full_name"); got != "Ada " {
		t.Errorf("full_name %v", got)
	}
	call(env, "PATCH", userPath(env, id), secret, `{"profile":{"last_name":"King"}}`)
	if got := fe.Do("GET", "auth/session", "").Path("data.user.full_name"); got != "Ada King" {
		t.Errorf("full_name after the change: %v", got)
	}

	// Scopes: users:read reads the data, never writes it.
	_, readOnly := newKey(t, env, env.Tenant.ID, nil, "users:read")
	if r := call(env, "GET", userPath(env, id), readOnly, ""); r.Code != 200 || r.JSON["private_metadata"] == nil {
		t.Fatalf("read-only get: %d %s", r.Code, r.Body)
	}
	wantProblem(t, call(env, "PATCH", userPath(env, id), readOnly, `{"public_metadata":{}}`), http.StatusForbidden, "insufficient_scope")
}

// Bad user data is refused over the management API with a problem naming
// the field or document, and nothing is written: no user created, no
// document, username or active state changed. Never a 500.
func TestUsersDataRefused(t *testing.T) {
	env := apitest.New(t, withUserData())
	other := apitest.New(t, withUserData())
	secret, osecret := usersKey(t, env), usersKey(t, other)
	u := createUser(t, env, secret, `{"emails":[{"email":"ada@example.com"}],"username":"ada",
		"profile":{"first_name":"Ada","age":36},"public_metadata":{"role":"admin"},"private_metadata":{"k":1}}`)
	id := idOf(u)
	before := call(env, "GET", userPath(env, id), secret, "").Body
	// Their third user: an id env's tenant does not have (each tenant
	// numbers its users from 1).
	var theirs map[string]any
	for i := range 3 {
		theirs = createUser(t, other, osecret, fmt.Sprintf(`{"emails":[{"email":"theirs%d@example.com"}],"profile":{"first_name":"T"}}`, i))
	}
	wantProblem(t, call(env, "GET", userPath(env, idOf(theirs)), secret, ""), 404, "not_found")

	megabyte := strings.Repeat("a", 1_000_000)
	big := fmt.Sprintf(`{"blob":%q}`, strings.Repeat("x", 100_000))
	deep := strings.Repeat(`{"a":`, 12) + `1` + strings.Repeat(`}`, 12)
	cases := []struct {
		name, data     string // the data members of the body
		status         int
		code, field    string
		createOnly     bool
		skipOnCreation bool
	}{
		{"malformed JSON in metadata", `"public_metadata":{"role":"admin",}`, 400, "malformed_json", "", false, false},
		{"metadata given as a JSON string", `"public_metadata":"{\"role\":\"admin\"}"`, 422, "invalid_request", "/public_metadata", false, false},
		{"metadata a list", `"private_metadata":[1,2]`, 422, "invalid_request", "/private_metadata", false, false},
		{"metadata null", `"public_metadata":null`, 422, "invalid_request", "/public_metadata", false, false},
		{"profile null", `"profile":null`, 422, "invalid_request", "/profile", false, false},
		{"100 KB of metadata", `"public_metadata":` + big, 422, "invalid_request", "/public_metadata", false, false},
		{"metadata nested too deep", `"private_metadata":` + deep, 422, "invalid_request", "/private_metadata", false, false},
		{"a 1 MB profile value", `"profile":{"first_name":"Ada","bio":"` + megabyte + `"}`, 422, "invalid_request", "/profile/bio", false, false},
		{"a value beyond max_length", `"profile":{"first_name":"` + strings.Repeat("é", 31) + `"}`, 422, "invalid_request", "/profile/first_name", false, false},
		{"wrong type", `"profile":{"first_name":"Ada","age":"thirty"}`, 422, "invalid_request", "/profile/age", false, false},
		{"a fraction for an integer", `"profile":{"first_name":"Ada","age":36.5}`, 422, "invalid_request", "/profile/age", false, false},
		{"not a choice", `"profile":{"first_name":"Ada","plan":"gold"}`, 422, "invalid_request", "/profile/plan", false, false},
		{"undeclared field", `"profile":{"first_name":"Ada","nickname":"A"}`, 422, "invalid_request", "/profile/nickname", false, false},
		{"a number for a string", `"profile":{"first_name":7}`, 422, "invalid_request", "/profile/first_name", false, false},
		{"required field removed", `"profile":{"first_name":null}`, 422, "invalid_request", "/profile/first_name", false, true},
		{"required field missing", `"profile":{"last_name":"L"}`, 422, "invalid_request", "/profile/first_name", true, false},
		{"no profile where a field is required", `"public_metadata":{}`, 422, "invalid_request", "/profile/first_name", true, false},
	}
	checkFields := func(t *testing.T, r *apitest.Response, field string) {
		t.Helper()
		if field == "" {
			return
		}
		errs, _ := r.JSON["errors"].([]any)
		for _, e := range errs {
			if e.(map[string]any)["field"] == field {
				return
			}
		}
		t.Fatalf("no error on %s: %s", field, r.Body)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !tc.skipOnCreation {
				r := call(env, "POST", "/tenants/"+env.Tenant.Slug+"/users", secret, `{"emails":[{"email":"new@example.com"}],`+tc.data+`}`)
				wantProblem(t, r, tc.status, tc.code)
				checkFields(t, r, tc.field)
				if items := listByEmail(t, env, secret, "new@example.com"); len(items) != 0 {
					t.Fatalf("a refused creation wrote a user: %v", items)
				}
			}
			if tc.createOnly {
				return
			}
			// With a username and active change in the same body: neither
			// is written either.
			r := call(env, "PATCH", userPath(env, id), secret, `{"username":"changed","active":false,`+tc.data+`}`)
			wantProblem(t, r, tc.status, tc.code)
			checkFields(t, r, tc.field)
			if after := call(env, "GET", userPath(env, id), secret, "").Body; string(after) != string(before) {
				t.Fatalf("a refused change wrote:\nbefore %s\nafter  %s", before, after)
			}
		})
	}

	// A body beyond the server's limit (1 MiB) is 413 before any handler.
	huge := `{"profile":{"bio":"` + strings.Repeat("a", 2<<20) + `"}}`
	wantProblem(t, overListener(t, env, "PATCH", manage.Prefix+userPath(env, id), huge, "Authorization", "Bearer "+secret),
		http.StatusRequestEntityTooLarge, "body_too_large")
	// The profile as a whole is bounded too (8 KB): two fields at 4096
	// characters each fit apart, not together.
	long := strings.Repeat("b", 4096)
	if r := call(env, "PATCH", userPath(env, id), secret, `{"profile":{"bio":"`+long+`"}}`); r.Code != 200 {
		t.Fatalf("a 4 KB bio: %d %s", r.Code, r.Body)
	}
	before = call(env, "GET", userPath(env, id), secret, "").Body
	r := call(env, "PATCH", userPath(env, id), secret, `{"profile":{"first_name":"Ada","last_name":"`+strings.Repeat("c", 30)+`","bio":"`+strings.Repeat("é", 4096)+`"}}`)
	wantProblem(t, r, 422, "invalid_request")
	checkFields(t, r, "/profile")
	if after := call(env, "GET", userPath(env, id), secret, "").Body; string(after) != string(before) {
		t.Fatalf("an oversized profile was written")
	}

	// Another tenant's user is 404, as a missing one, and untouched.
	for _, body := range []string{`{"public_metadata":{"x":1}}`, `{"profile":{"first_name":"Mallory"}}`} {
		wantProblem(t, call(env, "PATCH", userPath(env, idOf(theirs)), secret, body), 404, "not_found")
		wantProblem(t, call(env, "PATCH", "/tenants/"+other.Tenant.Slug+"/users/"+idOf(theirs), secret, body), 404, "not_found")
	}
	wantData(t, call(other, "GET", userPath(other, idOf(theirs)), osecret, "").JSON, `{"first_name":"T"}`, `{}`, `{}`)
}
