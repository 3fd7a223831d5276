package manage_test

import (
	"errors"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/tenants"
)

// allTenantScopes are every scope a tenant key may hold.
func allTenantScopes() []string {
	out := make([]string, len(apikeys.TenantScopes))
	for i, s := range apikeys.TenantScopes {
		out[i] = string(s)
	}
	return out
}

// A tenant key, holding every scope, reaches nothing of another tenant
// through any operation with a {slug}: each answers exactly what an
// unknown slug answers, and writes nothing.
func TestNoOperationReachesAnotherTenant(t *testing.T) {
	env := apitest.New(t, nil)
	other := apitest.New(t, nil)
	_, key := newKey(t, env, env.Tenant.ID, nil, allTenantScopes()...)
	before, err := other.Store.Get(t.Context(), other.Tenant.Slug)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, op := range env.Assembly.Manage.Operations() {
		if !strings.Contains(op.Path, "{slug}") {
			continue
		}
		n++
		fill := func(slug string) string {
			p := strings.ReplaceAll(op.Path, "{slug}", slug)
			p = strings.ReplaceAll(p, "{kid}", "some-kid")
			p = strings.ReplaceAll(p, "{domain}", "auth.example.com")
			return strings.ReplaceAll(p, "{id}", uuid.NewString())
		}
		body := ""
		if op.Request != nil {
			body = `{}`
		}
		hdr := []string{"If-Match", `"1"`}
		got := call(env, op.Method, fill(other.Tenant.Slug), key, body, hdr...)
		unknown := call(env, op.Method, fill("no-such-"+uuid.NewString()[:8]), key, body, hdr...)
		wantProblem(t, got, http.StatusNotFound, "not_found")
		delete(got.JSON, "request_id")
		delete(unknown.JSON, "request_id")
		if got.Code != unknown.Code || !reflect.DeepEqual(got.JSON, unknown.JSON) {
			t.Errorf("%s %s: another tenant %s, unknown %s", op.Method, op.Path, got.Body, unknown.Body)
		}
	}
	if n < 10 {
		t.Errorf("only %d operations with {slug}", n)
	}
	after, err := other.Store.Get(t.Context(), other.Tenant.Slug)
	if err != nil || after.SettingsVersion != before.SettingsVersion || after.Name != before.Name || len(after.Domains) != len(before.Domains) {
		t.Errorf("the other tenant changed: %+v, %v", after, err)
	}
}

func TestTenantLifecycle(t *testing.T) {
	env := apitest.New(t, nil)
	k, writer := newKey(t, env, uuid.Nil, nil, "tenants:read", "tenants:write", "audit:read")
	_, reader := newKey(t, env, uuid.Nil, nil, "tenants:read")
	slug := "api-" + uuid.NewString()[:8]
	t.Cleanup(func() { _ = env.Store.Delete(t.Context(), slug, "test") })
	ctx := t.Context()
	absent := func() {
		t.Helper()
		if _, err := env.Store.Get(ctx, slug); !errors.Is(err, tenants.ErrNotFound) {
			t.Fatalf("%s was written: %v", slug, err)
		}
	}

	// Bad input writes nothing.
	for _, tc := range []struct {
		body   string
		status int
		code   string
		field  string
	}{
		{`not json`, 400, "malformed_json", ""},
		{`{"slug":"` + slug + `","extra":1}`, 422, "invalid_request", "/extra"},
		{`{"slug":7}`, 422, "invalid_request", "/slug"},
		{`{"slug":"` + slug + `"} {}`, 400, "malformed_json", ""},
		{`{"slug":"Bad Slug"}`, 422, "invalid_request", "/slug"},
		{`{"slug":"` + slug + `","settings":{"ACCOUNT_PASSWORD_MIN_LENGTH":"long"}}`, 422, "invalid_settings", "/settings/ACCOUNT_PASSWORD_MIN_LENGTH"},
		{`{"slug":"` + slug + `","settings":{"NO_SUCH_SETTING":1}}`, 422, "invalid_settings", "/settings/NO_SUCH_SETTING"},
	} {
		r := call(env, "POST", "/tenants", writer, tc.body)
		wantProblem(t, r, tc.status, tc.code)
		if tc.field != "" {
			errs, _ := r.JSON["errors"].([]any)
			if len(errs) == 0 || errs[0].(map[string]any)["field"] != tc.field {
				t.Errorf("%s: fields %s", tc.body, r.Body)
			}
		}
		absent()
	}
	wantProblem(t, call(env, "POST", "/tenants", writer, `{"slug":"`+slug+`"}`, "Content-Type", "text/plain"), 415, "unsupported_media_type")
	wantProblem(t, call(env, "POST", "/tenants", reader, `{"slug":"`+slug+`"}`), 403, "insufficient_scope")
	absent()

	r := call(env, "POST", "/tenants", writer, `{"slug":"`+slug+`","name":"Via API","settings":{"ACCOUNT_PASSWORD_MIN_LENGTH":12}}`)
	if r.Code != 201 || r.JSON["slug"] != slug || r.JSON["name"] != "Via API" || r.Header.Get("Location") != "/api/v1/tenants/"+slug {
		t.Fatalf("create: %d %v %s", r.Code, r.Header, r.Body)
	}
	tn, err := env.Store.Get(ctx, slug)
	if err != nil || tn.Settings.PasswordMinLength != 12 {
		t.Fatalf("stored: %+v %v", tn, err)
	}
	wantProblem(t, call(env, "POST", "/tenants", writer, `{"slug":"`+slug+`"}`), 409, "slug_taken")

	if g := call(env, "GET", "/tenants/"+slug, reader, ""); g.Code != 200 || g.JSON["id"] != tn.ID.String() {
		t.Errorf("get: %d %s", g.Code, g.Body)
	}
	// Listing pages through every tenant; this one is among them.
	found, pages := false, 0
	for cur := ""; ; pages++ {
		l := call(env, "GET", "/tenants?limit=200&cursor="+cur, reader, "")
		if l.Code != 200 {
			t.Fatalf("list: %d %s", l.Code, l.Body)
		}
		for _, it := range l.JSON["items"].([]any) {
			found = found || it.(map[string]any)["slug"] == slug
		}
		cur, _ = l.JSON["next_cursor"].(string)
		if cur == "" || pages > 1000 {
			break
		}
	}
	if !found {
		t.Error("created tenant not listed")
	}

	wantProblem(t, call(env, "PATCH", "/tenants/"+slug, writer, `{"name":""}`), 422, "invalid_request")
	wantProblem(t, call(env, "PATCH", "/tenants/"+slug, writer, `{"name":"x","slug":"y"}`), 422, "invalid_request")
	if p := call(env, "PATCH", "/tenants/"+slug, writer, `{"name":"Renamed"}`); p.Code != 200 || p.JSON["name"] != "Renamed" {
		t.Fatalf("rename: %d %s", p.Code, p.Body)
	}

	// Each change is audited with the key as its actor. Every use of the
	// key is in the trail too (api.request, written asynchronously, so
	// some of this test's may or may not be there yet): the changes are
	// the key's other events.
	ev := call(env, "GET", "/tenants/"+slug+"/audit-events?limit=100&actor="+k.Actor(), writer, "")
	var actions []string
	for _, it := range ev.JSON["items"].([]any) {
		if a := it.(map[string]any)["action"].(string); a != "api.request" {
			actions = append(actions, a)
		}
	}
	if strings.Join(actions, ",") != "tenant.rename,tenant.create" {
		t.Errorf("audited %v: %s", actions, ev.Body)
	}

	if d := call(env, "DELETE", "/tenants/"+slug, writer, ""); d.Code != 204 || len(d.Body) != 0 {
		t.Fatalf("delete: %d %s", d.Code, d.Body)
	}
	absent()
	wantProblem(t, call(env, "DELETE", "/tenants/"+slug, writer, ""), 404, "not_found")
}
