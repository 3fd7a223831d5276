package manage_test

import (
	"context"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
)

// docSettings returns the JSON settings blocks of docs/USER-DATA.md that
// are whole objects holding key (the examples, as written).
func docSettings(t *testing.T, key string) []string {
	t.Helper()
	raw, err := os.ReadFile("../../docs/USER-DATA.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	parts := strings.Split(string(raw), "```json\n")
	for _, p := range parts[1:] {
		block, _, _ := strings.Cut(p, "```")
		var m map[string]any
		if json.Unmarshal([]byte(block), &m) == nil && m[key] != nil {
			out = append(out, block)
		}
	}
	if len(out) == 0 {
		t.Fatalf("docs/USER-DATA.md has no settings example with %s", key)
	}
	return out
}

// The examples of docs/USER-DATA.md work as written: the seed's adapter
// as settings and the claims example are saved through the management
// API, the backend writes a user's profile and metadata through it, and
// the expressions give what the page says.
func TestUserDataDocExamples(t *testing.T) {
	env := apitest.New(t, emailLogin)
	_, key := newKey(t, env, env.Tenant.ID, nil, "settings:read", "settings:write", "users:read", "users:write")
	ctx := context.Background()
	path := "/tenants/" + env.Tenant.Slug + "/settings"
	for _, doc := range append(docSettings(t, "HALLPASS_USER_SERIALIZER"), docSettings(t, "HALLPASS_JWT_CLAIMS")...) {
		etag := call(env, "GET", path, key, "").Header.Get("ETag")
		if r := call(env, "PATCH", path, key, doc, "If-Match", etag); r.Code != 200 {
			t.Fatalf("the documented settings are refused: %d %s\n%s", r.Code, r.Body, doc)
		}
	}
	ada := createUser(t, env, key, `{"emails":[{"email":"ada@example.com","verified":true,"primary":true}],
		"profile":{"first_name":"Ada","last_name":"Lovelace","image_url":"https://cdn.example/ada.png"}}`)
	solo := createUser(t, env, key, `{"emails":[{"email":"solo@example.com"}],"profile":{"first_name":"Ada"}}`)
	if r := call(env, "PATCH", userPath(env, idOf(ada)), key, `{"public_metadata": {"role": "admin", "plan": "pro"}}`); r.Code != 200 {
		t.Fatalf("patch: %d %s", r.Code, r.Body)
	}
	tn, err := env.Store.Get(ctx, env.Tenant.Slug)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user         map[string]any
		extra, claim string
	}{
		{ada, `{"full_name":"Ada Lovelace","profile_image":"https://cdn.example/ada.png"}`,
			`{"email_verified":true,"https://example.com/plan":"pro","mfa":false,"role":"admin"}`},
		{solo, `{"full_name":"Ada","profile_image":null}`,
			`{"email_verified":false,"https://example.com/plan":"free","mfa":false,"role":"member"}`},
	} {
		id, _ := strconv.ParseInt(idOf(tc.user), 10, 64)
		extra, err := env.Accounts.Profiles.Serialize(ctx, tn, id)
		if err != nil || string(extra) != tc.extra {
			t.Errorf("user %d: serializer %s (%v), want %s", id, extra, err, tc.extra)
		}
		claims, err := env.Accounts.Profiles.Claims(ctx, tn, id)
		if err != nil || jsonOf(t, claims) != tc.claim {
			t.Errorf("user %d: claims %s (%v), want %s", id, jsonOf(t, claims), err, tc.claim)
		}
	}
}
