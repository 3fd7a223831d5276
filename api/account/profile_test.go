package account_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/testenv"
)

// declaredFields is a tenant's HALLPASS_USER_FIELDS: signup fields of each
// type, user-editable ones, and one only the tenant's backend sets.
var declaredFields = []map[string]any{
	{"name": "first_name", "type": "string", "required": true, "max_length": 30, "signup": true, "user_editable": true},
	{"name": "plan", "type": "choice", "choices": []string{"free", "pro"}, "signup": true},
	{"name": "age", "type": "integer", "signup": true, "user_editable": true},
	{"name": "newsletter", "type": "boolean", "user_editable": true},
	{"name": "birthday", "type": "date", "user_editable": true},
	{"name": "tier", "type": "string"},
}

func withFields(extra apitest.Settings) apitest.Settings {
	return with(with(emailOnly, apitest.Settings{"HALLPASS_USER_FIELDS": declaredFields, "ACCOUNT_EMAIL_VERIFICATION": "none"}), extra)
}

func compact(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A signup carries the tenant's signup fields flat beside allauth's; the
// profile they make is what GET account/profile reads back, with public
// metadata and never private metadata. Config lists the declared fields.
func TestSignupStoresDeclaredFields(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, withFields(nil))
			fe := env.Client(client)
			fe.Do("POST", "auth/signup", `{"email":"ada@example.com","password":"correct horse battery","first_name":"Ada","plan":"pro","age":36}`).Status(200)
			res := fe.Do("GET", "account/profile", "").Status(200)
			if got := compact(res.Path("data")); got != `{"profile":{"age":36,"first_name":"Ada","plan":"pro"},"public_metadata":{}}` {
				t.Fatalf("profile: %s", got)
			}
			if strings.Contains(string(res.Body), "private_metadata") {
				t.Fatalf("private metadata shown: %s", res.Body)
			}
			cfg := fe.Do("GET", "config", "").Status(200)
			fields, _ := cfg.Path("data.hallpass.user_fields").([]any)
			if len(fields) != len(declaredFields) || !strings.Contains(string(cfg.Body), `"hallpass":{"user_fields":[`+
				`{"name":"first_name","type":"string","required":true,"max_length":30,"signup":true,"user_editable":true},`+
				`{"name":"plan","type":"choice","required":false,"choices":["free","pro"],"signup":true,"user_editable":false},`) {
				t.Fatalf("config user_fields: %s", cfg.Body)
			}
		})
	}
	t.Run("config without declared fields", func(t *testing.T) {
		env := apitest.New(t, emailOnly)
		res := env.Do("app", "GET", "config", "").Status(200)
		if strings.Contains(string(res.Body), "hallpass") {
			t.Fatalf("config grew a hallpass key: %s", res.Body)
		}
	})
}

// Every bad signup field answers 400 in allauth's envelope, param the
// field, with allauth's own errors in the same answer; nothing is created
// and no mail is queued.
func TestSignupDeclaredFieldErrors(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, withFields(apitest.Settings{"ACCOUNT_EMAIL_VERIFICATION": "mandatory",
				"HEADLESS_FRONTEND_URLS": map[string]string{"account_confirm_email": "https://app.example.com/verify/{key}"}}))
			fe := env.Client(client)
			good := `"email":"bo@example.com","password":"correct horse battery"`
			cases := []struct{ name, body, param, code string }{
				{"wrong type", `{` + good + `,"first_name":"Bo","age":"old"}`, "age", "invalid"},
				{"fraction", `{` + good + `,"first_name":"Bo","age":36.5}`, "age", "invalid"},
				{"string for a string field", `{` + good + `,"first_name":42}`, "first_name", "invalid"},
				{"too long", `{` + good + `,"first_name":"` + strings.Repeat("a", 31) + `"}`, "first_name", "max_length"},
				{"60 KB value", `{` + good + `,"first_name":"` + strings.Repeat("a", 60_000) + `"}`, "first_name", "max_length"},
				{"NUL", `{` + good + `,"first_name":"B\u0000o"}`, "first_name", "null_characters_not_allowed"},
				{"bad choice", `{` + good + `,"first_name":"Bo","plan":"gold"}`, "plan", "invalid_choice"},
				{"missing required", `{` + good + `,"plan":"pro"}`, "first_name", "required"},
				{"empty required", `{` + good + `,"first_name":""}`, "first_name", "required"},
				{"null required", `{` + good + `,"first_name":null}`, "first_name", "required"},
			}
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					fe.Do("POST", "auth/signup", tc.body).Status(400).Error(tc.param, tc.code)
				})
			}
			// allauth's errors and the declared fields' in one answer.
			res := fe.Do("POST", "auth/signup", `{"email":"not-an-address","password":"abc","plan":"gold"}`).Status(400)
			res.Error("email", "invalid").Error("password", "password_too_short").Error("first_name", "required").Error("plan", "invalid_choice")
			// A 1 MB value never reaches the fields: the headless body cap
			// (64 KiB) answers first.
			fe.Do("POST", "auth/signup", `{`+good+`,"first_name":"`+strings.Repeat("a", 1_000_000)+`"}`).Status(413)
			fe.Do("POST", "auth/signup", `not json`).Status(400).Error("", "invalid")
			fe.Do("POST", "auth/signup", `["first_name"]`).Status(400).Error("", "invalid")
			if users, mail := countRows(t, env, "users"), countRows(t, env, "outbox"); users != 0 || mail != 0 {
				t.Fatalf("refused signups left %d users, %d mails", users, mail)
			}
			// The same signup, corrected, goes through.
			fe.Do("POST", "auth/signup", `{`+good+`,"first_name":"Bo"}`).Status(401)
			if users := countRows(t, env, "users"); users != 1 {
				t.Fatalf("users: %d", users)
			}
		})
	}
}

// POST account/profile changes the user's own editable fields: null
// clears one, a field the user may not edit or that is not declared is
// refused naming it, and a refusal changes nothing. The change is audited
// as the user's.
func TestProfileChange(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, withFields(nil))
			fe := env.Client(client)
			fe.Do("POST", "auth/signup", `{"email":"cy@example.com","password":"correct horse battery","first_name":"Cy","plan":"free"}`).Status(200)
			res := fe.Do("POST", "account/profile", `{"age":37,"newsletter":true,"birthday":"1989-12-10"}`).Status(200)
			want := `{"profile":{"age":37,"birthday":"1989-12-10","first_name":"Cy","newsletter":true,"plan":"free"},"public_metadata":{}}`
			if got := compact(res.Path("data")); got != want {
				t.Fatalf("after change: %s", got)
			}
			refused := []struct{ body, param, code string }{
				{`{"plan":"pro"}`, "plan", "not_editable"},
				{`{"tier":"gold"}`, "tier", "not_editable"},
				{`{"nickname":"c"}`, "nickname", "unknown"},
				{`{"public_metadata":{"role":"admin"}}`, "public_metadata", "unknown"},
				{`{"private_metadata":{"role":"admin"}}`, "private_metadata", "unknown"},
				{`{"first_name":null}`, "first_name", "required"},
				{`{"birthday":"1989-13-10"}`, "birthday", "invalid"},
				{`{"newsletter":"yes"}`, "newsletter", "invalid"},
				{`{"first_name":"` + strings.Repeat("x", 60_000) + `"}`, "first_name", "max_length"},
				{`{"age":38,"plan":"pro"}`, "plan", "not_editable"}, // the valid half is not applied either
			}
			for _, tc := range refused {
				fe.Do("POST", "account/profile", tc.body).Status(400).Error(tc.param, tc.code)
			}
			fe.Do("POST", "account/profile", `{"first_name":"`+strings.Repeat("x", 1_000_000)+`"}`).Status(413)
			fe.Do("POST", "account/profile", `[1,2]`).Status(400).Error("", "invalid")
			fe.Do("POST", "account/profile", `"first_name"`).Status(400).Error("", "invalid")
			if got := compact(fe.Do("GET", "account/profile", "").Status(200).Path("data")); got != want {
				t.Fatalf("a refused change changed the profile: %s", got)
			}
			res = fe.Do("POST", "account/profile", `{"birthday":null,"age":null}`).Status(200)
			if got := compact(res.Path("data.profile")); got != `{"first_name":"Cy","newsletter":true,"plan":"free"}` {
				t.Fatalf("null clears: %s", got)
			}
			fe.Do("POST", "account/profile", `{}`).Status(200)
			var events int
			var changed string
			if err := testenv.Pool(t).QueryRow(context.Background(), `SELECT count(*), max(details->>'changed') FROM audit_events
				WHERE tenant_id = $1 AND action = 'user.profile.change'`, env.Tenant.ID).Scan(&events, &changed); err != nil {
				t.Fatal(err)
			}
			if events != 2 || !strings.Contains(changed, "profile.") || strings.Contains(changed, "1989") {
				t.Fatalf("audit: %d events, changed %s", events, changed)
			}
		})
	}
}

// account/profile needs a logged-in user: anonymous callers, and
// credentials of another tenant, get allauth's unauthenticated answers.
func TestProfileNeedsAUserOfTheTenant(t *testing.T) {
	a, b := apitest.New(t, withFields(nil)), apitest.New(t, withFields(nil))
	for _, client := range apitest.Clients {
		anon := a.Client(client)
		anon.Do("GET", "account/profile", "").Status(401)
		anon.Do("POST", "account/profile", `{"age":1}`).Status(401)
	}
	app := a.Client("app")
	token := app.Do("POST", "auth/signup", `{"email":"di@example.com","password":"correct horse battery","first_name":"Di"}`).Status(200).Path("meta.session_token").(string)
	browser := a.Client("browser")
	browser.Do("POST", "auth/login", `{"email":"di@example.com","password":"correct horse battery"}`).Status(200)
	// The same address at B: B's own user, whom A's credentials must not reach.
	b.Client("app").Do("POST", "auth/signup", `{"email":"di@example.com","password":"correct horse battery","first_name":"Bee"}`).Status(200)

	// A token naming no session of B's: allauth's 410 (after which the
	// harness's frontend, as allauth's, forgets the token).
	for _, req := range [][2]string{{"GET", ""}, {"POST", `{"first_name":"Mallory"}`}} {
		atB := b.Client("app")
		atB.Token = token
		atB.Do(req[0], "account/profile", req[1]).Status(410)
	}
	browserAtB := b.Client("browser")
	browserAtB.SetCookie("sessionid", browser.Cookie("sessionid"))
	browserAtB.Do("GET", "account/profile", "").Status(401)
	browserAtB.Do("POST", "account/profile", `{"first_name":"Mallory"}`).Status(401)

	res := b.Client("app").Do("POST", "auth/login", `{"email":"di@example.com","password":"correct horse battery"}`).Status(200)
	fe := b.Client("app")
	fe.Token = res.Path("meta.session_token").(string)
	if got := fe.Do("GET", "account/profile", "").Status(200).Path("data.profile.first_name"); got != "Bee" {
		t.Fatalf("B's user: %v", got)
	}
}
