package manage_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
)

// waitImport polls a job until it ends.
func waitImport(t *testing.T, env *apitest.Env, secret, id string) *apitest.Response {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := call(env, "GET", "/tenants/"+env.Tenant.Slug+"/users/import/"+id, secret, "")
		if r.Code != 200 {
			t.Fatalf("job: %d %s", r.Code, r.Body)
		}
		if s := r.JSON["status"]; s == "succeeded" || s == "failed" {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still %v: %s", r.JSON["status"], r.Body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// A bulk import through the management API: JSON Lines in, 202 and a job
// out; the job runs after the request, writes the good lines, reports the
// bad ones by line number, and the imported users sign in with their
// original (bcrypt, as Auth0 exports them) passwords. A second run of the
// same body updates instead of adding.
func TestUsersImport(t *testing.T) {
	env := apitest.New(t, apitest.Settings{"ACCOUNT_LOGIN_METHODS": []string{"email"}, "ACCOUNT_EMAIL_VERIFICATION": "none",
		"ACCOUNT_SIGNUP_FIELDS": []string{"email*", "password1*"}, "ACCOUNT_RATE_LIMITS": false})
	secret := usersKey(t, env)
	path := "/tenants/" + env.Tenant.Slug + "/users/import"
	body := strings.Join([]string{
		fmt.Sprintf(`{"user":{"source_id":"auth0|1","is_active":true,"date_joined":"2024-01-02T03:04:05Z","password_hash":%q,`+
			`"emails":[{"email":"amy@example.com","verified":true,"primary":true}],"public_metadata":{"plan":"pro"}}}`, bcryptHash),
		`not json`,
		`{"user":{"source_id":"x","is_active":true,"date_joined":"2024-01-02T03:04:05Z","password_hash":"","authenticators":[{"type":"totp","data":"hpx1:AAAA"}]}}`,
		"",
		fmt.Sprintf(`{"source_id":"auth0|2","is_active":true,"date_joined":"2024-01-02T03:04:05Z","password_hash":%q,`+
			`"emails":[{"email":"bob@example.com","verified":true,"primary":true}]}`, djangoPBKDF2),
	}, "\n")
	wantProblem(t, call(env, "POST", path, secret, body, "Content-Type", "application/json"), 415, "unsupported_media_type")
	wantProblem(t, call(env, "POST", path, secret, "\n\n", ndjson...), 400, "empty_body")
	for round := range 2 {
		r := call(env, "POST", path, secret, body, ndjson...)
		if r.Code != 202 || r.JSON["status"] != "queued" {
			t.Fatalf("import: %d %s", r.Code, r.Body)
		}
		r = waitImport(t, env, secret, fmt.Sprint(r.JSON["id"]))
		rep, _ := r.JSON["report"].(map[string]any)
		skipped, _ := rep["skipped"].([]any)
		created, updated := rep["created"], rep["updated"]
		if r.JSON["status"] != "succeeded" || len(skipped) != 2 || rep["lines"] != float64(5) ||
			(round == 0 && (created != float64(2) || updated != float64(0))) || (round == 1 && (created != float64(0) || updated != float64(2))) {
			t.Fatalf("round %d: %s", round, r.Body)
		}
		first, second := skipped[0].(map[string]any), skipped[1].(map[string]any)
		if first["line"] != float64(2) || !strings.Contains(fmt.Sprint(first["reason"]), "not a JSON object") ||
			second["line"] != float64(3) || !strings.Contains(fmt.Sprint(second["reason"]), "sealed") {
			t.Fatalf("skipped: %v", skipped)
		}
	}
	if _, res := login(t, env, "amy@example.com", "correct horse"); res.Code != 200 {
		t.Fatalf("amy: %d %s", res.Code, res.Body)
	}
	if _, res := login(t, env, "bob@example.com", "letmein"); res.Code != 200 {
		t.Fatalf("bob: %d %s", res.Code, res.Body)
	}
	wantProblem(t, call(env, "GET", path+"/not-a-uuid", secret, ""), 404, "not_found")
	wantProblem(t, call(env, "GET", path+"/7f6c1f0e-0000-4000-8000-000000000000", secret, ""), 404, "not_found")
}
