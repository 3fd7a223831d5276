package manage_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
)

func TestSettings(t *testing.T) {
	env := apitest.New(t, nil)
	k, key := newKey(t, env, env.Tenant.ID, nil, "settings:read", "settings:write", "audit:read")
	_, readOnly := newKey(t, env, env.Tenant.ID, nil, "settings:read")
	path := "/tenants/" + env.Tenant.Slug + "/settings"
	ctx := t.Context()
	version := func() int {
		t.Helper()
		tn, err := env.Store.Get(ctx, env.Tenant.Slug)
		if err != nil {
			t.Fatal(err)
		}
		return tn.SettingsVersion
	}

	g := call(env, "GET", path, key, "")
	v0 := version()
	if g.Code != 200 || g.Header.Get("ETag") != `"`+strconv.Itoa(v0)+`"` || g.JSON["version"] != float64(v0) || g.JSON["effective"] == nil {
		t.Fatalf("get: %d %v %s", g.Code, g.Header, g.Body)
	}
	etag := g.Header.Get("ETag")

	secretDoc := `{"SOCIALACCOUNT_PROVIDERS":{"github":{"APP":{"client_id":"gh","secret":"very-secret-value"}}},"ACCOUNT_PASSWORD_MIN_LENGTH":12}`
	// If-Match is required, and must be the current version.
	wantProblem(t, call(env, "PATCH", path, key, secretDoc), http.StatusPreconditionRequired, "precondition_required")
	wantProblem(t, call(env, "PATCH", path, key, secretDoc, "If-Match", `"999"`), http.StatusPreconditionFailed, "precondition_failed")
	wantProblem(t, call(env, "PATCH", path, key, secretDoc, "If-Match", `*`), http.StatusPreconditionFailed, "precondition_failed")
	wantProblem(t, call(env, "PATCH", path, readOnly, secretDoc, "If-Match", etag), http.StatusForbidden, "insufficient_scope")
	// Bad input: the same validation as the CLI and console, naming the key.
	for _, tc := range []struct {
		body, code, field string
		status            int
	}{
		{`{"ACCOUNT_PASSWORD_MIN_LENGTH":"twelve"}`, "invalid_settings", "/ACCOUNT_PASSWORD_MIN_LENGTH", 422},
		{`{"ACCOUNT_PASSWORD_MIN_LENGTH":3}`, "invalid_settings", "/ACCOUNT_PASSWORD_MIN_LENGTH", 422},
		{`{"NOT_A_SETTING":true}`, "invalid_settings", "/NOT_A_SETTING", 422},
		{`[1,2]`, "invalid_request", "", 422},
		{`{"a":`, "malformed_json", "", 400},
	} {
		r := call(env, "PATCH", path, key, tc.body, "If-Match", etag)
		wantProblem(t, r, tc.status, tc.code)
		if tc.field != "" && !strings.Contains(string(r.Body), `"field":"`+tc.field+`"`) {
			t.Errorf("%s: %s", tc.body, r.Body)
		}
	}
	if version() != v0 {
		t.Fatal("a refused patch was written")
	}

	p := call(env, "PATCH", path, key, secretDoc, "If-Match", etag)
	if p.Code != 200 || p.Header.Get("ETag") != `"`+strconv.Itoa(v0+1)+`"` {
		t.Fatalf("patch: %d %v %s", p.Code, p.Header, p.Body)
	}
	for _, r := range []*apitest.Response{p, call(env, "GET", path, key, "")} {
		if strings.Contains(string(r.Body), "very-secret-value") || !strings.Contains(string(r.Body), `"secret":"\u003credacted\u003e"`) {
			t.Errorf("secret not redacted: %s", r.Body)
		}
	}
	tn, _ := env.Store.Get(ctx, env.Tenant.Slug)
	if tn.Settings.PasswordMinLength != 12 {
		t.Errorf("min length %d", tn.Settings.PasswordMinLength)
	}
	// The old ETag is stale now: nothing written.
	wantProblem(t, call(env, "PATCH", path, key, `{"ACCOUNT_PASSWORD_MIN_LENGTH":null}`, "If-Match", etag), http.StatusPreconditionFailed, "precondition_failed")
	// null removes a key; a secret sent back redacted keeps its value.
	etag = p.Header.Get("ETag")
	q := call(env, "PATCH", path, key, `{"ACCOUNT_PASSWORD_MIN_LENGTH":null,"SOCIALACCOUNT_PROVIDERS":{"github":{"APP":{"client_id":"gh2","secret":"<redacted>"}}}}`, "If-Match", etag)
	if q.Code != 200 {
		t.Fatalf("patch 2: %d %s", q.Code, q.Body)
	}
	tn, _ = env.Store.Get(ctx, env.Tenant.Slug)
	if _, set := tn.Overrides["ACCOUNT_PASSWORD_MIN_LENGTH"]; set || !strings.Contains(stringify(tn.Overrides), "very-secret-value") ||
		!strings.Contains(stringify(tn.Overrides), "gh2") {
		t.Errorf("overrides after null and redacted secret: %v", tn.Overrides["SOCIALACCOUNT_PROVIDERS"])
	}

	// History, newest first, paged, redacted.
	h := call(env, "GET", path+"/history?limit=1", key, "")
	items, _ := h.JSON["items"].([]any)
	if h.Code != 200 || len(items) != 1 || items[0].(map[string]any)["version"] != float64(v0+2) || h.JSON["next_cursor"] == nil ||
		items[0].(map[string]any)["changed_by"] != k.Actor() {
		t.Fatalf("history: %d %s", h.Code, h.Body)
	}
	h2 := call(env, "GET", path+"/history?limit=1&cursor="+h.JSON["next_cursor"].(string), key, "")
	if items, _ := h2.JSON["items"].([]any); h2.Code != 200 || len(items) != 1 || items[0].(map[string]any)["version"] != float64(v0+1) ||
		strings.Contains(string(h2.Body), "very-secret-value") {
		t.Fatalf("history page 2: %d %s", h2.Code, h2.Body)
	}
	// Audited with the key as actor.
	ev := call(env, "GET", "/tenants/"+env.Tenant.Slug+"/audit-events?action=tenant.settings.update&actor="+k.Actor(), key, "")
	if items, _ := ev.JSON["items"].([]any); len(items) != 2 || strings.Contains(string(ev.Body), "very-secret-value") {
		t.Errorf("audit: %s", ev.Body)
	}
}

func stringify(v any) string {
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				b.WriteString(k + "=")
				walk(x)
				b.WriteString(";")
			}
		case []any:
			for _, x := range t {
				walk(x)
			}
		case string:
			b.WriteString(t)
		}
	}
	walk(v)
	return b.String()
}
