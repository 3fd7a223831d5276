package manage_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
)

// badExpressionSettings are expression settings every save path refuses:
// the setting, the key, and for an error in the source its line and
// column, in the message. A key-level refusal (a reserved name, a cost
// beyond the budget) is about the whole expression, so it names the key
// without a position.
var badExpressionSettings = []struct {
	name, doc, setting, want string
}{
	{"syntax error", `{"HALLPASS_USER_SERIALIZER":{"full_name":"user.email +"}}`,
		"HALLPASS_USER_SERIALIZER", `HALLPASS_USER_SERIALIZER: "full_name": line 1, column 13: Syntax error`},
	{"unknown variable", `{"HALLPASS_JWT_CLAIMS":{"role":"usr.public_metadata.role"}}`,
		"HALLPASS_JWT_CLAIMS", `HALLPASS_JWT_CLAIMS: "role": line 1, column 1: undeclared reference to 'usr'`},
	{"type error on a later line", `{"HALLPASS_USER_SERIALIZER":{"ok":"user.email","n":"user.email\n  + 1"}}`,
		"HALLPASS_USER_SERIALIZER", `HALLPASS_USER_SERIALIZER: "n": line 2, column 3: found no matching overload`},
	{"undeclared profile field", `{"HALLPASS_USER_FIELDS":[{"name":"first_name","type":"string"}],"HALLPASS_USER_SERIALIZER":{"n":"user.profile.last_name"}}`,
		"HALLPASS_USER_SERIALIZER", `HALLPASS_USER_SERIALIZER: "n": line 1, column 13: user.profile.last_name: no such field`},
	{"a claim named sub", `{"HALLPASS_JWT_CLAIMS":{"sub":"user.email"}}`,
		"HALLPASS_JWT_CLAIMS", `HALLPASS_JWT_CLAIMS: "sub": reserved`},
	{"over budget", `{"HALLPASS_JWT_CLAIMS":{"x":"user.public_metadata.a.all(i, user.public_metadata.a.all(j, i == j))"}}`,
		"HALLPASS_JWT_CLAIMS", `HALLPASS_JWT_CLAIMS: "x": too costly`},
	{"a serializer key id", `{"HALLPASS_USER_SERIALIZER":{"id":"user.email"}}`,
		"HALLPASS_USER_SERIALIZER", `HALLPASS_USER_SERIALIZER: "id": reserved`},
	{"not a string", `{"HALLPASS_USER_SERIALIZER":{"n":["user.email"]}}`,
		"HALLPASS_USER_SERIALIZER", `HALLPASS_USER_SERIALIZER: "n": must be a string`},
}

// PATCH …/settings refuses a bad expression with 422 naming the setting
// (the error's field) and, in its message, the key and position; the
// settings version stays. A good one is saved and shown.
func TestSettingsRefuseBadExpressions(t *testing.T) {
	env := apitest.New(t, nil)
	_, key := newKey(t, env, env.Tenant.ID, nil, "settings:read", "settings:write")
	path := "/tenants/" + env.Tenant.Slug + "/settings"
	g := call(env, "GET", path, key, "")
	etag, version := g.Header.Get("ETag"), g.JSON["version"]
	for _, tc := range badExpressionSettings {
		t.Run(tc.name, func(t *testing.T) {
			r := call(env, "PATCH", path, key, tc.doc, "If-Match", etag)
			wantProblem(t, r, 422, "invalid_settings")
			errs, _ := r.JSON["errors"].([]any)
			found := false
			for _, e := range errs {
				e := e.(map[string]any)
				found = found || (e["field"] == "/"+tc.setting && strings.Contains(e["message"].(string), tc.want))
			}
			if !found {
				t.Fatalf("want an error on /%s saying %q: %s", tc.setting, tc.want, r.Body)
			}
			if now := call(env, "GET", path, key, ""); now.JSON["version"] != version || now.Header.Get("ETag") != etag {
				t.Fatalf("a refused patch was written: version %v, was %v", now.JSON["version"], version)
			}
		})
	}
	good := `{"HALLPASS_USER_FIELDS":[{"name":"first_name","type":"string"}],` +
		`"HALLPASS_USER_SERIALIZER":{"full_name":"user.profile.?first_name.orValue('')"},"HALLPASS_JWT_CLAIMS":{"role":"user.public_metadata.?role.orValue('member')"}}`
	r := call(env, "PATCH", path, key, good, "If-Match", etag)
	if r.Code != 200 || r.JSON["version"] != version.(float64)+1 {
		t.Fatalf("good expressions: %d %s", r.Code, r.Body)
	}
	var want map[string]any
	if err := json.Unmarshal([]byte(good), &want); err != nil {
		t.Fatal(err)
	}
	eff, _ := r.JSON["effective"].(map[string]any)
	for _, k := range []string{"HALLPASS_USER_SERIALIZER", "HALLPASS_JWT_CLAIMS"} {
		if jsonOf(t, eff[k]) != jsonOf(t, want[k]) {
			t.Errorf("effective %s = %v", k, eff[k])
		}
	}
	if r.Header.Get("ETag") != `"`+strconv.Itoa(int(version.(float64))+1)+`"` {
		t.Errorf("ETag %q", r.Header.Get("ETag"))
	}
}
