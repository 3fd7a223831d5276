package manage_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/audit"
)

// newKey mints a key on env's server: for tenant (uuid.Nil: a platform key).
func newKey(t *testing.T, env *apitest.Env, tenant uuid.UUID, expires *time.Time, scopes ...string) (apikeys.Key, string) {
	t.Helper()
	k, secret, err := env.Assembly.APIKeys.Create(context.Background(), audit.Actor{Name: "test"},
		apikeys.NewKey{TenantID: tenant, Name: t.Name(), Scopes: scopes, ExpiresAt: expires})
	if err != nil {
		t.Fatal(err)
	}
	return k, secret
}

func call(env *apitest.Env, method, path, secret, body string, headers ...string) *apitest.Response {
	if secret != "" {
		headers = append(headers, "Authorization", "Bearer "+secret)
	}
	return env.Raw(method, "/api/v1"+path, body, headers...)
}

func wantProblem(t *testing.T, r *apitest.Response, status int, code string) {
	t.Helper()
	if r.Code != status || r.Header.Get("Content-Type") != "application/problem+json" || r.JSON["code"] != code ||
		r.JSON["status"] != float64(status) || r.JSON["title"] == "" || r.JSON["request_id"] != r.Header.Get("X-Request-Id") {
		t.Fatalf("want %d %s problem, got %d %s: %s", status, code, r.Code, r.Header.Get("Content-Type"), r.Body)
	}
}

func TestKeysGuardTheAPI(t *testing.T) {
	env := apitest.New(t, nil)
	other := apitest.New(t, nil)
	slug := env.Tenant.Slug
	_, platform := newKey(t, env, uuid.Nil, nil, "tenants:read")
	_, platformNoScope := newKey(t, env, uuid.Nil, nil, "users:read")
	_, tenantKey := newKey(t, env, env.Tenant.ID, nil, "users:read")
	revokedKey, revoked := newKey(t, env, uuid.Nil, nil, "tenants:read")
	if _, err := env.Assembly.APIKeys.Revoke(context.Background(), audit.Actor{Name: "test"}, uuid.Nil, revokedKey.ID); err != nil {
		t.Fatal(err)
	}

	r := call(env, "GET", "/tenants/"+slug, platform, "")
	if r.Code != http.StatusOK || r.JSON["slug"] != slug || r.JSON["id"] != env.Tenant.ID.String() {
		t.Fatalf("platform key: %d %s", r.Code, r.Body)
	}
	for _, tc := range []struct {
		name, path, secret string
		status             int
		code               string
	}{
		{"no key", "/tenants/" + slug, "", 401, "unauthenticated"},
		{"malformed key", "/tenants/" + slug, "hp_nope", 401, "invalid_api_key"},
		{"mangled key", "/tenants/" + slug, platform[:len(platform)-2] + "zz", 401, "invalid_api_key"},
		{"revoked key", "/tenants/" + slug, revoked, 401, "invalid_api_key"},
		{"missing scope", "/tenants/" + slug, platformNoScope, 403, "insufficient_scope"},
		{"tenant key on a platform operation", "/tenants/" + slug, tenantKey, 403, "insufficient_scope"},
		{"tenant key on another tenant", "/tenants/" + other.Tenant.Slug, tenantKey, 404, "not_found"},
		{"unknown tenant", "/tenants/no-such-tenant-" + uuid.NewString()[:8], platform, 404, "not_found"},
		{"unknown operation", "/nothing-here", platform, 404, "not_found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, call(env, "GET", tc.path, tc.secret, ""), tc.status, tc.code)
		})
	}
	// A tenant key's answer about another tenant is the one an unknown
	// slug gets: nothing tells the two apart.
	a := call(env, "GET", "/tenants/"+other.Tenant.Slug, tenantKey, "")
	b := call(env, "GET", "/tenants/no-such-tenant", tenantKey, "")
	if a.JSON["detail"] != b.JSON["detail"] || a.Code != b.Code {
		t.Errorf("another tenant %s, unknown %s", a.Body, b.Body)
	}
}
