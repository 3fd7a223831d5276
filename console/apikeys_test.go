package console_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/audit"
)

// An admin creates a key: its secret is on the answer page, once; the list
// shows the key without it; a viewer sees the list but no forms; revoking
// ends the key at once. Both are audited with the console user as actor.
func TestTenantAPIKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tn := e.tenant("apikeys")
	admin, viewer := e.user("apikeys-admin", false), e.user("apikeys-viewer", false)
	e.grant(tn, admin, console.RoleAdmin)
	e.grant(tn, viewer, console.RoleViewer)
	b := e.session(admin)
	page := "/console/t/" + tn.Slug + "/api-keys"
	b.get(page).status(200).contains("No API keys", "Create a key", `value="users:write"`).lacks(`value="tenants:read"`)
	// The tenant's side navigation leads here.
	b.get("/console/t/" + tn.Slug).status(200).contains(`href="` + page + `"`)

	res := b.post(page, url.Values{"name": {"backend"}, "scope": {"users:read", "users:write"}, "expires": {"90d"}}).status(200)
	secret := regexpFind(t, res.Body, `id="new-api-key">(hp_[0-9A-Za-z]+)<`)
	if !apikeys.WellFormed(secret) {
		t.Fatalf("shown secret %q", secret)
	}
	res.contains("shown this once")
	k, err := e.srv.APIKeys.Authenticate(ctx, secret)
	if err != nil || k.TenantID != tn.ID || k.Name != "backend" || k.CreatedBy != "console:"+admin.ID.String() || k.ExpiresAt == nil ||
		len(k.Scopes) != 2 {
		t.Fatalf("created %+v %v", k, err)
	}
	// Never again: not on the list, not in a flash.
	b.get(page).status(200).contains(k.Prefix, "backend", "users:write", admin.Email).lacks(secret, "new-api-key")
	e.session(viewer).get(page).status(200).contains(k.Prefix).lacks(secret, "Create a key", "revoke-api-key")

	// Revoke: the key stops authenticating before the answer.
	res = b.post(page+"/"+k.ID.String()+"/revoke", nil).status(303)
	if res.Location() != page {
		t.Fatalf("revoke went to %q", res.Location())
	}
	if _, err := e.srv.APIKeys.Authenticate(ctx, secret); !errors.Is(err, apikeys.ErrRevoked) {
		t.Fatalf("after the revocation: %v", err)
	}
	b.get(page).status(200).contains("revoked", k.Prefix)
	events, err := audit.List(ctx, e.pool, tn.ID, 5)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) < 2 || events[0].Action != "apikey.revoke" || events[1].Action != "apikey.create" ||
		events[0].Actor != "console:"+admin.ID.String() || events[1].Actor != events[0].Actor {
		t.Fatalf("audit: %+v", events)
	}
}

// Bad forms are refused with the form again and nothing written; a key of
// another tenant, or a platform key, is not found from a tenant's page.
func TestTenantAPIKeysRefused(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mine, theirs := e.tenant("apikeys-mine"), e.tenant("apikeys-theirs")
	owner := e.user("apikeys-owner", false)
	e.grant(mine, owner, console.RoleOwner)
	b := e.session(owner)
	page := "/console/t/" + mine.Slug + "/api-keys"
	for _, form := range []url.Values{
		{"name": {"x"}, "expires": {"90d"}},
		{"name": {"x"}, "scope": {"tenants:read"}, "expires": {"90d"}},
		{"name": {"x"}, "scope": {"users:nope"}, "expires": {"90d"}},
		{"name": {"x"}, "scope": {"users:read"}, "expires": {"2001-01-01"}},
		{"name": {strings.Repeat("n", 101)}, "scope": {"users:read"}, "expires": {"never"}},
	} {
		b.post(page, form).status(422).contains("api-key-error").lacks("new-api-key")
	}
	if keys, _ := e.srv.APIKeys.List(ctx, mine.ID); len(keys) != 0 {
		t.Fatalf("refused forms wrote %d keys", len(keys))
	}
	theirKey, _, err := e.srv.APIKeys.Create(ctx, audit.Actor{Name: "test"}, apikeys.NewKey{TenantID: theirs.ID, Scopes: []string{"users:read"}})
	if err != nil {
		t.Fatal(err)
	}
	platformKey, _, err := e.srv.APIKeys.Create(ctx, audit.Actor{Name: "test"}, apikeys.NewKey{Scopes: []string{"tenants:read"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []uuid.UUID{theirKey.ID, platformKey.ID, uuid.New()} {
		b.post(page+"/"+id.String()+"/revoke", nil).status(404)
	}
	b.post(page+"/not-a-uuid/revoke", nil).status(404)
	for _, k := range []apikeys.Key{theirKey, platformKey} {
		if got, err := e.srv.APIKeys.Get(ctx, uuid.Nil, k.ID); err != nil || got.RevokedAt != nil {
			t.Fatalf("key %s: %+v %v", k.ID, got, err)
		}
	}
	// A customer finds no platform pages.
	b.get("/console/platform/api-keys").status(404)
	b.get("/console/tenants").status(200).lacks("Platform API keys")
}

// The platform's keys: platform admins create (with tenants:* scopes) and
// revoke them on the platform page.
func TestPlatformAPIKeys(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.user("apikeys-platform", true)
	b := e.session(admin)
	b.get("/console/tenants").status(200).contains(`href="/console/platform/api-keys"`)
	page := "/console/platform/api-keys"
	b.get(page).status(200).contains("Platform API keys", `value="tenants:write"`)
	res := b.post(page, url.Values{"name": {"provisioning"}, "scope": {"tenants:read", "tenants:write"}, "expires": {"never"}}).status(200)
	secret := regexpFind(t, res.Body, `id="new-api-key">(hp_[0-9A-Za-z]+)<`)
	k, err := e.srv.APIKeys.Authenticate(ctx, secret)
	if err != nil || !k.Platform() || !k.Can(apikeys.TenantsWrite) || k.ExpiresAt != nil {
		t.Fatalf("created %+v %v", k, err)
	}
	b.get(page).status(200).contains(k.Prefix, "provisioning").lacks(secret)
	b.post(page+"/"+k.ID.String()+"/revoke", nil).status(303)
	if _, err := e.srv.APIKeys.Authenticate(ctx, secret); !errors.Is(err, apikeys.ErrRevoked) {
		t.Fatalf("after the revocation: %v", err)
	}
	// A tenant's key is not the platform page's to revoke.
	tn := e.tenant("apikeys-platform-tenant")
	tk, _, err := e.srv.APIKeys.Create(ctx, audit.Actor{Name: "test"}, apikeys.NewKey{TenantID: tn.ID, Scopes: []string{"users:read"}})
	if err != nil {
		t.Fatal(err)
	}
	b.post(page+"/"+tk.ID.String()+"/revoke", nil).status(404)
	// The platform's trail is shared by every test (and every platform
	// key's use, api.request, lands there): ask for this key's events.
	events, err := audit.ListFiltered(ctx, e.pool, audit.Platform, audit.Filter{Target: "apikey:" + k.ID.String()}, audit.Cursor{}, 50)
	if err != nil {
		t.Fatal(err)
	}
	var mine []string
	for _, ev := range events {
		mine = append(mine, ev.Action+" "+ev.Actor)
	}
	want := "console:" + admin.ID.String()
	if len(mine) != 2 || mine[0] != "apikey.revoke "+want || mine[1] != "apikey.create "+want {
		t.Fatalf("platform audit: %v", mine)
	}
}
