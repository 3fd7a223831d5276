package manage_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/testenv"
)

// Settings of the users tests' tenants: email login, mandatory
// verification (so an imported address's verified flag matters).
var emailLogin = apitest.Settings{
	"ACCOUNT_LOGIN_METHODS":      []string{"email"},
	"ACCOUNT_SIGNUP_FIELDS":      []string{"email*", "password1*"},
	"ACCOUNT_EMAIL_VERIFICATION": "mandatory",
}

// noUsernames' users have no username (ACCOUNT_USER_MODEL_USERNAME_FIELD
// None).
var noUsernames = apitest.Settings{
	"ACCOUNT_LOGIN_METHODS":             []string{"email"},
	"ACCOUNT_SIGNUP_FIELDS":             []string{"email*", "password1*"},
	"ACCOUNT_USER_MODEL_USERNAME_FIELD": nil,
}

// usernameLogin's users have usernames, required at signup.
var usernameLogin = apitest.Settings{
	"ACCOUNT_LOGIN_METHODS":      []string{"email", "username"},
	"ACCOUNT_SIGNUP_FIELDS":      []string{"email*", "username*", "password1*"},
	"ACCOUNT_EMAIL_VERIFICATION": "none",
	"ACCOUNT_USERNAME_BLACKLIST": []string{"admin"},
}

// Django's make_password('letmein', 'pepper') with 1000 iterations
// (internal/passwords' reference vector).
const djangoPBKDF2 = "pbkdf2_sha256$1000$pepper$Zqg5qZ0YgAVPFQY6aXOim43ksDOCLzSV9N1j7ywDsik="

// bcrypt of "correct horse" (internal/passwords' reference vector).
const bcryptHash = "$2b$05$VtuiR9i/SSeTlq5LdmG8iejejiggeOA3IFhM0y7SiPYzGP.1D4c5a"

// allUserScopes are the scopes the users operations need.
var allUserScopes = []string{"users:read", "users:write", "sessions:write"}

func usersKey(t *testing.T, env *apitest.Env) string {
	t.Helper()
	_, secret := newKey(t, env, env.Tenant.ID, nil, allUserScopes...)
	return secret
}

// createUser creates a user through the API and returns its answer.
func createUser(t *testing.T, env *apitest.Env, secret, body string) map[string]any {
	t.Helper()
	r := call(env, "POST", "/tenants/"+env.Tenant.Slug+"/users", secret, body)
	if r.Code != http.StatusCreated {
		t.Fatalf("create %s: %d %s", body, r.Code, r.Body)
	}
	return r.JSON
}

func userPath(env *apitest.Env, id any, rest ...string) string {
	return fmt.Sprintf("/tenants/%s/users/%v", env.Tenant.Slug, id) + strings.Join(rest, "")
}

// idOf reads a user's id as the path takes it.
func idOf(u map[string]any) string { return fmt.Sprint(int64(u["id"].(float64))) }

// login signs in through the headless API (app client) and returns the
// client, holding the session.
func login(t *testing.T, env *apitest.Env, email, password string) (*apitest.Client, *apitest.Response) {
	t.Helper()
	fe := env.Client("app")
	res := fe.Do("POST", "auth/login", fmt.Sprintf(`{"email":%q,"password":%q}`, email, password))
	return fe, res
}

// listEmails returns the users a ?email= lookup finds.
func listByEmail(t *testing.T, env *apitest.Env, secret, email string) []any {
	t.Helper()
	r := call(env, "GET", "/tenants/"+env.Tenant.Slug+"/users?email="+url.QueryEscape(email), secret, "")
	if r.Code != 200 {
		t.Fatalf("list by email: %d %s", r.Code, r.Body)
	}
	items, _ := r.JSON["items"].([]any)
	return items
}

// A user created through the API, with a Django hash, a bcrypt hash or a
// password, signs in through the headless API with the original password,
// and the headless user.id is the API's id.
func TestUsersCreateThenSignIn(t *testing.T) {
	env := apitest.New(t, emailLogin)
	secret := usersKey(t, env)
	for _, tc := range []struct {
		name, email, field, value, password string
	}{
		{"django pbkdf2_sha256", "dj@example.com", "password_hash", djangoPBKDF2, "letmein"},
		{"bcrypt", "bc@example.com", "password_hash", bcryptHash, "correct horse"},
		{"password", "pw@example.com", "password", "correct horse battery", "correct horse battery"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u := createUser(t, env, secret, fmt.Sprintf(`{"emails":[{"email":%q,"verified":true,"primary":true}],%q:%q}`,
				strings.ToUpper(tc.email[:1])+tc.email[1:], tc.field, tc.value))
			emails := u["emails"].([]any)
			if u["has_usable_password"] != true || u["active"] != true || len(emails) != 1 ||
				emails[0].(map[string]any)["email"] != tc.email || emails[0].(map[string]any)["verified"] != true {
				t.Fatalf("created: %v", u)
			}
			_, res := login(t, env, tc.email, tc.password)
			if res.Code != 200 {
				t.Fatalf("headless login: %d %s", res.Code, res.Body)
			}
			if got := res.Path("data.user.id"); got != u["id"] {
				t.Fatalf("headless user.id %v, API id %v", got, u["id"])
			}
			if _, res := login(t, env, tc.email, tc.password+"x"); res.Code != 400 {
				t.Fatalf("a wrong password signs in: %d %s", res.Code, res.Body)
			}
		})
	}
	// The creation is audited, the key as actor. (Asked by action: the
	// trail also holds the key's uses, api.request, written asynchronously.)
	events, err := audit.ListFiltered(context.Background(), testenv.Pool(t), env.Tenant.ID, audit.Filter{Action: "user.create"}, audit.Cursor{}, 50)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range events {
		if e.Action == "user.create" {
			n++
			if !strings.HasPrefix(e.Actor, "apikey:") {
				t.Errorf("user.create actor %q", e.Actor)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d user.create events, want 3", n)
	}
}

// Without a password or hash the user has an unusable password; an
// unverified address under mandatory verification is not signed in.
func TestUsersCreateDefaults(t *testing.T) {
	env := apitest.New(t, emailLogin)
	secret := usersKey(t, env)
	u := createUser(t, env, secret, `{"emails":[{"email":"a@example.com"},{"email":"b@example.com","verified":true,"primary":true}],"active":false}`)
	emails := u["emails"].([]any)
	// allauth derives a username from the primary address, as at signup.
	if u["has_usable_password"] != false || u["active"] != false || u["username"] != "b" || len(u["mfa"].([]any)) != 0 ||
		emails[0].(map[string]any)["email"] != "b@example.com" || emails[0].(map[string]any)["primary"] != true ||
		emails[1].(map[string]any)["primary"] != false {
		t.Fatalf("created: %v", u)
	}
	// With no primary given, the first address is.
	u = createUser(t, env, secret, `{"emails":[{"email":"c@example.com"},{"email":"d@example.com"}],"password_hash":"!unusable"}`)
	emails = u["emails"].([]any)
	if emails[0].(map[string]any)["email"] != "c@example.com" || emails[0].(map[string]any)["primary"] != true || u["has_usable_password"] != false {
		t.Fatalf("created: %v", u)
	}
	// A tenant without usernames shows none.
	nenv := apitest.New(t, noUsernames)
	if u := createUser(t, nenv, usersKey(t, nenv), `{"emails":[{"email":"n@example.com"}]}`); u["username"] != nil {
		t.Fatalf("username: %v", u)
	}
	// A given username follows the tenant's rules (casing preserved, the
	// allauth default); it signs in compared case-insensitively.
	uenv := apitest.New(t, usernameLogin)
	usecret := usersKey(t, uenv)
	if u := createUser(t, uenv, usecret, `{"username":"Ana.B","emails":[{"email":"ana@example.com"}],"password":"correct horse battery"}`); u["username"] != "Ana.B" {
		t.Fatalf("username: %v", u)
	}
	res := uenv.Client("app").Do("POST", "auth/login", `{"username":"ANA.B","password":"correct horse battery"}`)
	if res.Code != 200 {
		t.Fatalf("username login: %d %s", res.Code, res.Body)
	}
}

// Refused creations name the field, and write nothing.
func TestUsersCreateRefused(t *testing.T) {
	env := apitest.New(t, emailLogin)
	uenv := apitest.New(t, usernameLogin)
	nenv := apitest.New(t, noUsernames)
	secret, usecret, nsecret := usersKey(t, env), usersKey(t, uenv), usersKey(t, nenv)
	createUser(t, env, secret, `{"emails":[{"email":"taken@example.com"}]}`)
	createUser(t, uenv, usecret, `{"username":"taken","emails":[{"email":"x@example.com"}]}`)
	for _, tc := range []struct {
		name        string
		env         *apitest.Env
		body        string
		contentType string
		status      int
		code        string
		field       string
	}{
		{"not JSON", env, `{"emails":`, "", 400, "malformed_json", ""},
		{"not JSON content type", env, `{"emails":[{"email":"new@example.com"}]}`, "text/plain", 415, "unsupported_media_type", ""},
		{"unknown field", env, `{"emails":[{"email":"new@example.com"}],"admin":true}`, "", 422, "invalid_request", "/admin"},
		{"unknown nested field", env, `{"emails":[{"email":"new@example.com","owner":1}]}`, "", 422, "invalid_request", "/owner"},
		{"wrong type", env, `{"emails":[{"email":"new@example.com"}],"active":"yes"}`, "", 422, "invalid_request", "/active"},
		{"emails not a list", env, `{"emails":"new@example.com"}`, "", 422, "invalid_request", "/emails"},
		{"bad email", env, `{"emails":[{"email":"new@example.com"},{"email":"not an address"}]}`, "", 422, "invalid_request", "/emails/1/email"},
		{"missing email", env, `{"emails":[{"verified":true}]}`, "", 422, "invalid_request", "/emails/0/email"},
		{"no email where required", env, `{"emails":[]}`, "", 422, "invalid_request", "/emails"},
		{"duplicate email", env, `{"emails":[{"email":"new@example.com"},{"email":"NEW@example.com"}]}`, "", 422, "invalid_request", "/emails/1/email"},
		{"two primaries", env, `{"emails":[{"email":"new@example.com","primary":true},{"email":"new2@example.com","primary":true}]}`, "", 422, "invalid_request", "/emails"},
		{"email taken", env, `{"emails":[{"email":"new@example.com"},{"email":"Taken@Example.com"}]}`, "", 409, "email_taken", "/emails/1/email"},
		{"password and hash", env, `{"emails":[{"email":"new@example.com"}],"password":"correct horse battery","password_hash":"` + bcryptHash + `"}`, "", 422, "invalid_request", "/password_hash"},
		{"unknown hash format", env, `{"emails":[{"email":"new@example.com"}],"password_hash":"md5$abc$def"}`, "", 422, "invalid_request", "/password_hash"},
		{"hash beyond limits", env, `{"emails":[{"email":"new@example.com"}],"password_hash":"pbkdf2_sha256$999999999$pepper$Zqg5qZ0YgAVPFQY6aXOim43ksDOCLzSV9N1j7ywDsik="}`, "", 422, "invalid_request", "/password_hash"},
		{"short password", env, `{"emails":[{"email":"new@example.com"}],"password":"abc"}`, "", 422, "invalid_request", "/password"},
		{"common password", env, `{"emails":[{"email":"new@example.com"}],"password":"password"}`, "", 422, "invalid_request", "/password"},
		{"username on a tenant without", nenv, `{"username":"new","emails":[{"email":"new@example.com"}]}`, "", 422, "invalid_request", "/username"},
		{"username taken", uenv, `{"username":"TAKEN","emails":[{"email":"new@example.com"}]}`, "", 409, "username_taken", "/username"},
		{"username invalid", uenv, `{"username":"a b","emails":[{"email":"new@example.com"}]}`, "", 422, "invalid_request", "/username"},
		{"username blacklisted", uenv, `{"username":"Admin","emails":[{"email":"new@example.com"}]}`, "", 422, "invalid_request", "/username"},
		{"username required", uenv, `{"emails":[{"email":"new@example.com"}]}`, "", 422, "invalid_request", "/username"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := map[*apitest.Env]string{env: secret, uenv: usecret, nenv: nsecret}[tc.env]
			var headers []string
			if tc.contentType != "" {
				headers = []string{"Content-Type", tc.contentType}
			}
			r := call(tc.env, "POST", "/tenants/"+tc.env.Tenant.Slug+"/users", s, tc.body, headers...)
			wantProblem(t, r, tc.status, tc.code)
			if tc.field != "" {
				errs, _ := r.JSON["errors"].([]any)
				found := false
				for _, e := range errs {
					found = found || e.(map[string]any)["field"] == tc.field
				}
				if !found {
					t.Fatalf("no error on %s: %s", tc.field, r.Body)
				}
			}
			if items := listByEmail(t, tc.env, s, "new@example.com"); len(items) != 0 {
				t.Fatalf("a refused creation wrote a user: %v", items)
			}
		})
	}
	r := call(env, "GET", "/tenants/"+env.Tenant.Slug+"/users", secret, "")
	if items := r.JSON["items"].([]any); len(items) != 1 {
		t.Fatalf("%d users after the refusals, want 1", len(items))
	}
}

func TestUsersList(t *testing.T) {
	env := apitest.New(t, usernameLogin)
	secret := usersKey(t, env)
	var ids []string
	for i := range 5 {
		u := createUser(t, env, secret, fmt.Sprintf(`{"username":"member%d","emails":[{"email":"Member%d@Example.com"}]}`, i, i))
		ids = append(ids, idOf(u))
	}
	base := "/tenants/" + env.Tenant.Slug + "/users"
	if r := call(env, "PATCH", userPath(env, ids[1]), secret, `{"active":false}`); r.Code != 200 {
		t.Fatalf("disable: %d %s", r.Code, r.Body)
	}

	// Pages of two, newest first, to the end.
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		q := "?limit=2"
		if cursor != "" {
			q += "&cursor=" + url.QueryEscape(cursor)
		}
		r := call(env, "GET", base+q, secret, "")
		if r.Code != 200 || pages > 3 {
			t.Fatalf("page %d: %d %s", pages, r.Code, r.Body)
		}
		for _, it := range r.JSON["items"].([]any) {
			got = append(got, idOf(it.(map[string]any)))
		}
		cursor, _ = r.JSON["next_cursor"].(string)
		if cursor == "" {
			break
		}
	}
	if strings.Join(got, ",") != strings.Join([]string{ids[4], ids[3], ids[2], ids[1], ids[0]}, ",") {
		t.Fatalf("paged ids %v, created %v", got, ids)
	}

	now := time.Now().UTC()
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"email exact, folded", "email=" + url.QueryEscape("MEMBER2@example.COM"), []string{ids[2]}},
		{"email is not a substring", "email=member2@example", nil},
		{"username", "username=Member3", []string{ids[3]}},
		{"query", "query=MBER4", []string{ids[4]}},
		{"query on address", "query=" + url.QueryEscape("r0@exa"), []string{ids[0]}},
		{"query wildcard literal", "query=%25", nil},
		{"inactive", "active=false", []string{ids[1]}},
		{"active", "active=true&limit=10", []string{ids[4], ids[3], ids[2], ids[0]}},
		{"created before", "created_before=" + now.Add(-time.Hour).Format(time.RFC3339), nil},
		{"created after", "created_after=" + url.QueryEscape(now.Add(-time.Hour).Format(time.RFC3339)) + "&active=false", []string{ids[1]}},
		{"created after now", "created_after=" + url.QueryEscape(now.Add(time.Hour).Format(time.RFC3339)), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(env, "GET", base+"?"+tc.query, secret, "")
			if r.Code != 200 {
				t.Fatalf("%d %s", r.Code, r.Body)
			}
			var got []string
			for _, it := range r.JSON["items"].([]any) {
				got = append(got, idOf(it.(map[string]any)))
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}

	// A cursor of the first page, tampered with, and one of another
	// tenant's list.
	r := call(env, "GET", base+"?limit=1", secret, "")
	cur := r.JSON["next_cursor"].(string)
	other := apitest.New(t, usernameLogin)
	osecret := usersKey(t, other)
	createUser(t, other, osecret, `{"username":"o1","emails":[{"email":"o1@example.com"}]}`)
	createUser(t, other, osecret, `{"username":"o2","emails":[{"email":"o2@example.com"}]}`)
	ocur := call(other, "GET", "/tenants/"+other.Tenant.Slug+"/users?limit=1", osecret, "").JSON["next_cursor"].(string)
	for _, tc := range []struct {
		name, query string
		status      int
		code, field string
	}{
		{"tampered cursor", "cursor=" + url.QueryEscape("A"+cur[1:]), 400, "invalid_cursor", "cursor"},
		{"forged cursor", "cursor=eyJiIjo5OTl9.AAAA", 400, "invalid_cursor", "cursor"},
		{"another tenant's cursor", "cursor=" + url.QueryEscape(ocur), 400, "invalid_cursor", "cursor"},
		{"huge page", "limit=1000000000", 422, "invalid_request", "limit"},
		{"zero page", "limit=0", 422, "invalid_request", "limit"},
		{"bad active", "active=yes", 422, "invalid_request", "active"},
		{"bad time", "created_after=yesterday", 422, "invalid_request", "created_after"},
		{"bad time before", "created_before=2026-13-01", 422, "invalid_request", "created_before"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(env, "GET", base+"?"+tc.query, secret, "")
			wantProblem(t, r, tc.status, tc.code)
			if errs, _ := r.JSON["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["field"] != tc.field {
				t.Fatalf("errors: %s", r.Body)
			}
		})
	}
}

func TestUsersGetPatchDelete(t *testing.T) {
	env := apitest.New(t, usernameLogin)
	secret := usersKey(t, env)
	u := createUser(t, env, secret, `{"username":"first","emails":[{"email":"first@example.com","verified":true}],"password":"correct horse battery"}`)
	createUser(t, env, secret, `{"username":"second","emails":[{"email":"second@example.com"}]}`)
	id := idOf(u)
	r := call(env, "GET", userPath(env, id), secret, "")
	if r.Code != 200 || r.JSON["username"] != "first" || r.JSON["created_at"] == "" || r.JSON["last_login_at"] != nil {
		t.Fatalf("get: %d %s", r.Code, r.Body)
	}
	if _, res := login(t, env, "first@example.com", "correct horse battery"); res.Code != 200 {
		t.Fatalf("login: %s", res.Body)
	}
	if r = call(env, "GET", userPath(env, id), secret, ""); r.JSON["last_login_at"] == nil {
		t.Fatalf("last_login_at after a login: %s", r.Body)
	}

	r = call(env, "PATCH", userPath(env, id), secret, `{"username":"Renamed"}`)
	if r.Code != 200 || r.JSON["username"] != "Renamed" {
		t.Fatalf("rename: %d %s", r.Code, r.Body)
	}
	res := env.Client("app").Do("POST", "auth/login", `{"username":"renamed","password":"correct horse battery"}`)
	if res.Code != 200 {
		t.Fatalf("login by the new username: %d %s", res.Code, res.Body)
	}
	for _, tc := range []struct {
		name, body string
		status     int
		code       string
	}{
		{"taken username", `{"username":"SECOND"}`, 409, "username_taken"},
		{"invalid username", `{"username":"no spaces"}`, 422, "invalid_request"},
		{"unknown field", `{"emails":[]}`, 422, "invalid_request"},
		{"wrong type", `{"active":1}`, 422, "invalid_request"},
		{"not JSON", `nope`, 400, "malformed_json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, call(env, "PATCH", userPath(env, id), secret, tc.body), tc.status, tc.code)
			if r := call(env, "GET", userPath(env, id), secret, ""); r.JSON["username"] != "Renamed" || r.JSON["active"] != true {
				t.Fatalf("a refused patch wrote: %s", r.Body)
			}
		})
	}
	r = call(env, "PATCH", userPath(env, id), secret, `{"active":false}`)
	if r.Code != 200 || r.JSON["active"] != false {
		t.Fatalf("deactivate: %d %s", r.Code, r.Body)
	}
	r = call(env, "PATCH", userPath(env, id), secret, `{"active":true}`)
	if r.Code != 200 || r.JSON["active"] != true {
		t.Fatalf("activate: %d %s", r.Code, r.Body)
	}

	r = call(env, "DELETE", userPath(env, id), secret, "")
	if r.Code != 204 || len(r.Body) != 0 {
		t.Fatalf("delete: %d %s", r.Code, r.Body)
	}
	wantProblem(t, call(env, "GET", userPath(env, id), secret, ""), 404, "not_found")
	wantProblem(t, call(env, "DELETE", userPath(env, id), secret, ""), 404, "not_found")
	if items := listByEmail(t, env, secret, "first@example.com"); len(items) != 0 {
		t.Fatalf("deleted user still listed: %v", items)
	}
}

// Disabling a user ends their sessions at once; their next headless
// request is signed out. Ending sessions, one or all, does the same.
func TestUsersDisableAndSessions(t *testing.T) {
	env := apitest.New(t, emailLogin)
	secret := usersKey(t, env)
	u := createUser(t, env, secret, `{"emails":[{"email":"s@example.com","verified":true}],"password":"correct horse battery"}`)
	id := idOf(u)
	signIn := func() *apitest.Client {
		t.Helper()
		fe, res := login(t, env, "s@example.com", "correct horse battery")
		if res.Code != 200 {
			t.Fatalf("login: %d %s", res.Code, res.Body)
		}
		fe.Do("GET", "auth/session", "").Status(200)
		return fe
	}
	sessionsOf := func() []any {
		t.Helper()
		r := call(env, "GET", userPath(env, id, "/sessions"), secret, "")
		if r.Code != 200 {
			t.Fatalf("sessions: %d %s", r.Code, r.Body)
		}
		return r.JSON["items"].([]any)
	}

	a, b := signIn(), signIn()
	live := sessionsOf()
	if len(live) != 2 || live[0].(map[string]any)["client"] != "app" {
		t.Fatalf("sessions: %v", live)
	}
	// End one: b's (the most recent first).
	sid := fmt.Sprint(int64(live[0].(map[string]any)["id"].(float64)))
	if r := call(env, "DELETE", userPath(env, id, "/sessions/", sid), secret, ""); r.Code != 204 {
		t.Fatalf("end one: %d %s", r.Code, r.Body)
	}
	wantProblem(t, call(env, "DELETE", userPath(env, id, "/sessions/", sid), secret, ""), 404, "not_found")
	wantProblem(t, call(env, "DELETE", userPath(env, id, "/sessions/abc"), secret, ""), 404, "not_found")
	if n := len(sessionsOf()); n != 1 {
		t.Fatalf("%d sessions after ending one", n)
	}
	b.Do("GET", "auth/session", "").Status(410)
	a.Do("GET", "auth/session", "").Status(200)

	// End all.
	r := call(env, "DELETE", userPath(env, id, "/sessions"), secret, "")
	if r.Code != 200 || r.JSON["ended"] != float64(1) {
		t.Fatalf("end all: %d %s", r.Code, r.Body)
	}
	a.Do("GET", "auth/session", "").Status(410)

	// Disable: the session ends right away, and no new one starts.
	c := signIn()
	r = call(env, "POST", userPath(env, id, "/disable"), secret, "")
	if r.Code != 200 || r.JSON["active"] != false {
		t.Fatalf("disable: %d %s", r.Code, r.Body)
	}
	c.Do("GET", "auth/session", "").Status(410)
	if n := len(sessionsOf()); n != 0 {
		t.Fatalf("%d sessions after disable", n)
	}
	if _, res := login(t, env, "s@example.com", "correct horse battery"); res.Code == 200 {
		t.Fatalf("a disabled user signs in: %s", res.Body)
	}
	// Disabling twice is fine; enable lets them back in.
	if r = call(env, "POST", userPath(env, id, "/disable"), secret, ""); r.Code != 200 {
		t.Fatalf("disable again: %d %s", r.Code, r.Body)
	}
	r = call(env, "POST", userPath(env, id, "/enable"), secret, "")
	if r.Code != 200 || r.JSON["active"] != true {
		t.Fatalf("enable: %d %s", r.Code, r.Body)
	}
	signIn()

	// The operations are audited with the key as actor. (Asked by action:
	// the trail also holds the key's uses, api.request, written
	// asynchronously, as many as the requests.)
	for _, action := range []string{"user.create", "user.session.end", "user.sessions.end", "user.disable", "user.enable"} {
		events, err := audit.ListFiltered(context.Background(), testenv.Pool(t), env.Tenant.ID, audit.Filter{Action: action}, audit.Cursor{}, 50)
		if err != nil {
			t.Fatal(err)
		}
		byKey := false
		for _, e := range events {
			byKey = byKey || strings.HasPrefix(e.Actor, "apikey:")
		}
		if !byKey {
			t.Errorf("no %s event by the key (%d events of that action)", action, len(events))
		}
	}
}

func TestUsersAuthenticators(t *testing.T) {
	env := apitest.New(t, emailLogin)
	secret := usersKey(t, env)
	u := createUser(t, env, secret, `{"emails":[{"email":"m@example.com","verified":true}],"password":"correct horse battery"}`)
	id := idOf(u)
	r := call(env, "GET", userPath(env, id, "/authenticators"), secret, "")
	if r.Code != 200 || len(r.JSON["items"].([]any)) != 0 {
		t.Fatalf("none: %d %s", r.Code, r.Body)
	}
	uid := int64(u["id"].(float64))
	// Signed in before the second factor exists (after, the login would
	// wait at mfa_authenticate).
	fe, res := login(t, env, "m@example.com", "correct horse battery")
	if res.Code != 200 {
		t.Fatal(res.Body)
	}
	totp := mfa.NewTOTPSecret()
	if _, err := env.Assembly.MFA.ActivateTOTP(context.Background(), env.Tenant.ID, uid, totp,
		mfa.TOTPCode(totp, time.Now(), env.Tenant.Settings), env.Tenant.Settings); err != nil {
		t.Fatal(err)
	}
	r = call(env, "GET", userPath(env, id, "/authenticators"), secret, "")
	items := r.JSON["items"].([]any)
	if r.Code != 200 || len(items) != 1 || items[0].(map[string]any)["type"] != "totp" || strings.Contains(string(r.Body), totp) {
		t.Fatalf("one: %d %s", r.Code, r.Body)
	}
	if r = call(env, "GET", userPath(env, id), secret, ""); fmt.Sprint(r.JSON["mfa"]) != "[totp]" {
		t.Fatalf("user mfa: %s", r.Body)
	}
	if r = call(env, "GET", "/tenants/"+env.Tenant.Slug+"/users", secret, ""); fmt.Sprint(r.JSON["items"].([]any)[0].(map[string]any)["mfa"]) != "[totp]" {
		t.Fatalf("list mfa: %s", r.Body)
	}
	r = call(env, "DELETE", userPath(env, id, "/authenticators"), secret, "")
	if r.Code != 200 || r.JSON["removed"] != float64(1) {
		t.Fatalf("reset: %d %s", r.Code, r.Body)
	}
	fe.Do("GET", "auth/session", "").Status(410)
	if r = call(env, "GET", userPath(env, id, "/authenticators"), secret, ""); len(r.JSON["items"].([]any)) != 0 {
		t.Fatalf("after reset: %s", r.Body)
	}
}

func TestUsersVerificationMail(t *testing.T) {
	env := apitest.New(t, emailLogin)
	secret := usersKey(t, env)
	u := createUser(t, env, secret, `{"emails":[{"email":"v1@example.com","verified":true},{"email":"V2@example.com"}]}`)
	id := idOf(u)
	r := call(env, "POST", userPath(env, id, "/verification-mail"), secret, "")
	if r.Code != 202 || r.JSON["email"] != "v2@example.com" {
		t.Fatalf("send: %d %s", r.Code, r.Body)
	}
	m := env.WaitMail(t, 1)
	if len(m.To) != 1 || m.To[0] != "v2@example.com" {
		t.Fatalf("mail to %v", m.To)
	}
	wantProblem(t, call(env, "POST", userPath(env, id, "/verification-mail"), secret, `{"email":"v1@example.com"}`), 409, "already_verified")
	wantProblem(t, call(env, "POST", userPath(env, id, "/verification-mail"), secret, `{"email":"nobody@example.com"}`), 422, "invalid_request")
	wantProblem(t, call(env, "POST", userPath(env, id, "/verification-mail"), secret, `{"mail":"v2@example.com"}`), 422, "invalid_request")
	// A resend within the cooldown is refused, as allauth's own.
	wantProblem(t, call(env, "POST", userPath(env, id, "/verification-mail"), secret, `{"email":"V2@EXAMPLE.com"}`), 429, "rate_limited")
}

// Every users operation: another tenant's user is a missing user (the same
// answer), an id that is not a number too, another tenant's slug is a
// missing tenant, and the scope is enforced. Nothing of the other tenant's
// user changes.
func TestUsersOtherTenant(t *testing.T) {
	env := apitest.New(t, emailLogin)
	other := apitest.New(t, emailLogin)
	secret, osecret := usersKey(t, env), usersKey(t, other)
	createUser(t, env, secret, `{"emails":[{"email":"mine@example.com","verified":true}],"password":"correct horse battery"}`)
	var theirs map[string]any
	for i := range 3 {
		theirs = createUser(t, other, osecret, fmt.Sprintf(`{"emails":[{"email":"theirs%d@example.com","verified":true}],"password":"correct horse battery"}`, i))
	}
	tid := idOf(theirs) // 3: no user of env has it
	fe, res := login(t, other, "theirs2@example.com", "correct horse battery")
	if res.Code != 200 {
		t.Fatal(res.Body)
	}
	_, readOnly := newKey(t, env, env.Tenant.ID, nil, "users:read")

	for _, op := range []struct {
		method, rest, body string
		write              bool
	}{
		{"GET", "", "", false},
		{"PATCH", "", `{"active":false}`, true},
		{"DELETE", "", "", true},
		{"POST", "/disable", "", true},
		{"POST", "/enable", "", true},
		{"GET", "/sessions", "", false},
		{"DELETE", "/sessions", "", true},
		{"DELETE", "/sessions/1", "", true},
		{"GET", "/authenticators", "", false},
		{"DELETE", "/authenticators", "", true},
		{"POST", "/verification-mail", "", true},
	} {
		t.Run(op.method+op.rest, func(t *testing.T) {
			missing := call(env, op.method, userPath(env, 999999, op.rest), secret, op.body)
			wantProblem(t, missing, 404, "not_found")
			for _, id := range []string{tid, "abc", "0", "-3", "1.5", "99999999999999999999"} {
				r := call(env, op.method, userPath(env, id, op.rest), secret, op.body)
				wantProblem(t, r, 404, "not_found")
				if r.JSON["detail"] != missing.JSON["detail"] || r.JSON["type"] != missing.JSON["type"] {
					t.Fatalf("id %s answers %s, a missing user %s", id, r.Body, missing.Body)
				}
			}
			r := call(env, op.method, "/tenants/"+other.Tenant.Slug+"/users/"+tid+op.rest, secret, op.body)
			wantProblem(t, r, 404, "not_found")
			if op.write {
				wantProblem(t, call(env, op.method, userPath(env, 1, op.rest), readOnly, op.body), 403, "insufficient_scope")
			}
		})
	}
	for _, tc := range []struct{ method, body string }{{"GET", ""}, {"POST", `{"emails":[{"email":"x@example.com"}]}`}} {
		wantProblem(t, call(env, tc.method, "/tenants/"+other.Tenant.Slug+"/users", secret, tc.body), 404, "not_found")
	}
	wantProblem(t, call(env, "POST", "/tenants/"+env.Tenant.Slug+"/users", readOnly, `{"emails":[{"email":"x@example.com"}]}`), 403, "insufficient_scope")

	// The other tenant's user is untouched, still signed in.
	r := call(other, "GET", userPath(other, tid), osecret, "")
	if r.Code != 200 || r.JSON["active"] != true {
		t.Fatalf("their user: %d %s", r.Code, r.Body)
	}
	fe.Do("GET", "auth/session", "").Status(200)
}

// Parallel creations of one address: exactly one wins, the others are
// told it is taken (the address lock signup takes serialises them).
func TestUsersCreateConcurrent(t *testing.T) {
	env := apitest.New(t, emailLogin)
	secret := usersKey(t, env)
	const n = 6
	codes := make(chan int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := call(env, "POST", "/tenants/"+env.Tenant.Slug+"/users", secret,
				fmt.Sprintf(`{"emails":[{"email":"race%d@example.com"},{"email":"Same@Example.com"}]}`, i))
			codes <- r.Code
		}()
	}
	wg.Wait()
	close(codes)
	got := map[int]int{}
	for c := range codes {
		got[c]++
	}
	if got[201] != 1 || got[409] != n-1 {
		t.Fatalf("statuses %v, want one 201 and %d 409", got, n-1)
	}
	if items := listByEmail(t, env, secret, "same@example.com"); len(items) != 1 {
		t.Fatalf("%d users hold the address", len(items))
	}
}

// GET a user with a valid key, one request at a time (the in-process
// app, no network): the cost of the handler and its round trips.
func BenchmarkGetUser(b *testing.B) {
	env := apitest.New(b, emailLogin)
	_, secret, err := env.Assembly.APIKeys.Create(context.Background(), audit.Actor{Name: "bench"},
		apikeys.NewKey{TenantID: env.Tenant.ID, Name: "bench", Scopes: allUserScopes})
	if err != nil {
		b.Fatal(err)
	}
	r := call(env, "POST", "/tenants/"+env.Tenant.Slug+"/users", secret, `{"emails":[{"email":"b@example.com","verified":true}],"password_hash":"`+djangoPBKDF2+`"}`)
	if r.Code != 201 {
		b.Fatal(r.Code, string(r.Body))
	}
	path := userPath(env, idOf(r.JSON))
	for b.Loop() {
		if r := call(env, "GET", path, secret, ""); r.Code != 200 {
			b.Fatal(r.Code, string(r.Body))
		}
	}
}
