package manage_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
)

// TestWalkthrough runs docs/API.md's walk-through through HTTP: a key for
// the tenant, a user created with the hash Django stored, that user signing
// in through the headless API with the original password, found by
// address, disabled, and their session ended.
func TestWalkthrough(t *testing.T) {
	env := apitest.New(t, apitest.Settings{"ACCOUNT_LOGIN_METHODS": []string{"email"}})
	slug := env.Tenant.Slug
	_, key := newKey(t, env, env.Tenant.ID, nil, "users:read", "users:write", "sessions:write")

	// 2. The user, with the hash from Django's auth_user.password.
	const djangoHash = "pbkdf2_sha256$600000$Xq3VbC7yKpL2mN8r$drnJOm/Oo2IKIHLqMJsgHTqHozDSog1PSQNA8K4dW4o="
	body := `{"username": "ada",
	          "emails": [{"email": "ada@example.com", "verified": true, "primary": true}],
	          "password_hash": "` + djangoHash + `"}`
	created := call(env, "POST", "/tenants/"+slug+"/users", key, body, "Idempotency-Key", "import-ada")
	if created.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", created.Code, created.Body)
	}
	id, ok := created.JSON["id"].(float64)
	if !ok || id <= 0 {
		t.Fatalf("create answered no id: %s", created.Body)
	}
	// The same request again answers the same, and makes no second user.
	again := call(env, "POST", "/tenants/"+slug+"/users", key, body, "Idempotency-Key", "import-ada")
	if again.Code != http.StatusCreated || string(again.Body) != string(created.Body) {
		t.Fatalf("replayed create: %d %s", again.Code, again.Body)
	}

	// 3. Sign-in with the password they had in Django.
	login := env.Do("app", "POST", "auth/login", `{"email": "ada@example.com", "password": "correct horse battery staple"}`)
	login.Status(http.StatusOK)
	token, _ := login.Path("meta.session_token").(string)
	if token == "" {
		t.Fatalf("login gave no session token: %s", login.Body)
	}
	if got := login.Path("data.user.id"); got != id {
		t.Fatalf("headless user.id %v, management API id %v", got, id)
	}
	env.Do("app", "GET", "auth/session", "", "X-Session-Token", token).Status(http.StatusOK)

	// 4. Found by address; disabled.
	found := call(env, "GET", "/tenants/"+slug+"/users?email=ada@example.com", key, "")
	items, _ := found.JSON["items"].([]any)
	if found.Code != http.StatusOK || len(items) != 1 || items[0].(map[string]any)["id"] != id {
		t.Fatalf("find by address: %d %s", found.Code, found.Body)
	}
	userPath := "/tenants/" + slug + "/users/" + strconv.FormatInt(int64(id), 10)
	disabled := call(env, "POST", userPath+"/disable", key, "")
	if disabled.Code != http.StatusOK || disabled.JSON["active"] != false {
		t.Fatalf("disable: %d %s", disabled.Code, disabled.Body)
	}

	// 5. Their session has ended; they cannot sign in again until enabled.
	env.Do("app", "GET", "auth/session", "", "X-Session-Token", token).Status(http.StatusGone)
	// (allauth answers an inactive account's login as not authenticated.)
	refused := env.Do("app", "POST", "auth/login", `{"email": "ada@example.com", "password": "correct horse battery staple"}`)
	if refused.Code != http.StatusUnauthorized || refused.Path("meta.is_authenticated") != false {
		t.Fatalf("a disabled user signed in: %d %s", refused.Code, refused.Body)
	}
	if r := call(env, "POST", userPath+"/enable", key, ""); r.Code != http.StatusOK || r.JSON["active"] != true {
		t.Fatalf("enable: %d %s", r.Code, r.Body)
	}
	env.Do("app", "POST", "auth/login", `{"email": "ada@example.com", "password": "correct horse battery staple"}`).Status(http.StatusOK)
}
