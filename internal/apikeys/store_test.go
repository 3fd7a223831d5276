package apikeys_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

func newTenant(t testing.TB, store *tenants.Store) uuid.UUID {
	t.Helper()
	tn, err := store.Create(context.Background(), tenants.CreateInput{Slug: testenv.Slug("keys")}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return tn.ID
}

func TestSecretShape(t *testing.T) {
	pool := testenv.Pool(t)
	ts := tenants.NewStore(pool, testenv.Sealer(t), nil)
	keys := apikeys.NewStore(pool)
	tenant := newTenant(t, ts)
	seen := map[string]bool{}
	for range 20 {
		_, secret, err := keys.Create(context.Background(), audit.Actor{Name: "cli"}, apikeys.NewKey{TenantID: tenant, Scopes: []string{"users:read"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(secret) != apikeys.SecretLen || !strings.HasPrefix(secret, "hp_") || !apikeys.WellFormed(secret) || seen[secret] {
			t.Fatalf("secret %q: len %d, well-formed %v, repeated %v", secret, len(secret), apikeys.WellFormed(secret), seen[secret])
		}
		seen[secret] = true
		// One changed character breaks the checksum.
		b := []byte(secret)
		b[10] ^= 1
		if apikeys.WellFormed(string(b)) && string(b) != secret {
			t.Errorf("%q passes the checksum", b)
		}
	}
	for _, bad := range []string{"", "hp_", "hp_x", "Bearer hp_", strings.Repeat("a", apikeys.SecretLen), "hp_" + strings.Repeat("!", apikeys.SecretLen-3)} {
		if apikeys.WellFormed(bad) {
			t.Errorf("%q is well formed", bad)
		}
	}
}

func TestCreateAuthenticateRevoke(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	ts := tenants.NewStore(pool, testenv.Sealer(t), nil)
	keys := apikeys.NewStore(pool)
	tenantA, tenantB := newTenant(t, ts), newTenant(t, ts)
	actor := audit.Actor{Name: "console:42", IP: "192.0.2.1"}

	k, secret, err := keys.Create(ctx, actor, apikeys.NewKey{TenantID: tenantA, Name: "ci", Scopes: []string{"users:write", "users:read", "users:read"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(k.Scopes) != 2 || k.Scopes[0] != apikeys.UsersRead || k.Platform() || !k.Reaches(tenantA) || k.Reaches(tenantB) || k.CreatedBy != "console:42" {
		t.Fatalf("created %+v", k)
	}
	// The table holds no secret: only its hash and the shown prefix.
	var stored []byte
	if err := pool.QueryRow(ctx, `SELECT secret_hash FROM api_keys WHERE id = $1`, k.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), secret[3:]) || !strings.HasPrefix(secret, k.Prefix) || len(k.Prefix) >= len(secret)/2 {
		t.Fatalf("stored %x, prefix %q", stored, k.Prefix)
	}
	got, err := keys.Authenticate(ctx, secret)
	if err != nil || got.ID != k.ID || !got.Can(apikeys.UsersWrite) || got.Can(apikeys.SettingsWrite) {
		t.Fatalf("authenticate: %+v %v", got, err)
	}
	if _, err := keys.Authenticate(ctx, secret[:len(secret)-1]+"x"); !errors.Is(err, apikeys.ErrUnknownKey) {
		t.Errorf("mangled key: %v", err)
	}
	// Another tenant cannot see or revoke it.
	if _, err := keys.Get(ctx, tenantB, k.ID); !errors.Is(err, apikeys.ErrNotFound) {
		t.Errorf("get from B: %v", err)
	}
	if _, err := keys.Revoke(ctx, actor, tenantB, k.ID); !errors.Is(err, apikeys.ErrNotFound) {
		t.Errorf("revoke from B: %v", err)
	}
	if _, err := keys.Authenticate(ctx, secret); err != nil {
		t.Fatalf("B's revoke reached A's key: %v", err)
	}
	if _, err := keys.Revoke(ctx, actor, tenantA, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Authenticate(ctx, secret); !errors.Is(err, apikeys.ErrRevoked) {
		t.Errorf("revoked key: %v", err)
	}
	events, err := audit.List(ctx, pool, tenantA, 10)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action+" "+e.Actor)
		if strings.Contains(e.Target+" "+strings.Join(mapValues(e.Details), " "), secret[len(k.Prefix):]) {
			t.Errorf("event %s carries the secret", e.Action)
		}
	}
	if want := "apikey.revoke console:42,apikey.create console:42,tenant.create test"; strings.Join(actions, ",") != want {
		t.Errorf("audit: %v, want %s", actions, want)
	}
	list, err := keys.List(ctx, tenantA)
	if err != nil || len(list) != 1 || list[0].RevokedAt == nil {
		t.Errorf("list: %+v %v", list, err)
	}
}

func mapValues(m map[string]any) []string {
	var out []string
	for _, v := range m {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func TestScopesAndExpiry(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	ts := tenants.NewStore(pool, testenv.Sealer(t), nil)
	keys := apikeys.NewStore(pool)
	tenant := newTenant(t, ts)
	cli := audit.Actor{Name: "cli"}
	for _, tc := range []struct {
		name   string
		key    apikeys.NewKey
		target error
	}{
		{"no scopes", apikeys.NewKey{TenantID: tenant}, apikeys.ErrInvalidScope},
		{"unknown scope", apikeys.NewKey{TenantID: tenant, Scopes: []string{"users:delete"}}, apikeys.ErrInvalidScope},
		{"platform scope on a tenant key", apikeys.NewKey{TenantID: tenant, Scopes: []string{"tenants:write"}}, apikeys.ErrInvalidScope},
		{"expired at birth", apikeys.NewKey{TenantID: tenant, Scopes: []string{"users:read"}, ExpiresAt: ptr(time.Now().Add(-time.Second))}, apikeys.ErrInvalidKey},
		{"long name", apikeys.NewKey{TenantID: tenant, Scopes: []string{"users:read"}, Name: strings.Repeat("n", apikeys.MaxNameLen+1)}, apikeys.ErrInvalidKey},
	} {
		if _, _, err := keys.Create(ctx, cli, tc.key); !errors.Is(err, tc.target) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.target)
		}
	}
	before, _ := keys.List(ctx, tenant)
	if len(before) != 0 {
		t.Fatalf("refused creations wrote %d keys", len(before))
	}

	platform, secret, err := keys.Create(ctx, cli, apikeys.NewKey{Scopes: []string{"tenants:read", "users:read"}, ExpiresAt: ptr(time.Now().Add(1500 * time.Millisecond))})
	if err != nil {
		t.Fatal(err)
	}
	if !platform.Platform() || !platform.Reaches(tenant) || !platform.Can(apikeys.TenantsRead) {
		t.Fatalf("platform key %+v", platform)
	}
	if _, err := keys.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := keys.Authenticate(ctx, secret)
		if errors.Is(err, apikeys.ErrExpired) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("key past its expiry still authenticates: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func ptr[T any](v T) *T { return &v }
