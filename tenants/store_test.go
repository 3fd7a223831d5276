package tenants_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

const hsSecret = "this-is-a-very-long-hmac-secret-0123456789"

func newStore(t *testing.T) *tenants.Store {
	t.Helper()
	return tenants.NewStore(testenv.Pool(t), testenv.Sealer(t), nil)
}

func TestStoreRoundTripSealsSecrets(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	store := tenants.NewStore(pool, testenv.Sealer(t), nil)
	slug := testenv.Slug("round-trip")
	settings := `{
		"HEADLESS_JWT_ALGORITHM": "HS256",
		"HEADLESS_JWT_PRIVATE_KEY": "` + hsSecret + `",
		"ACCOUNT_LOGIN_METHODS": ["email"],
		"SOCIALACCOUNT_PROVIDERS": {"google": {"APPS": [{"client_id": "gid", "secret": "google-app-secret"}]}}
	}`
	created, err := store.Create(ctx, tenants.CreateInput{Slug: slug, Name: "Round Trip", Settings: []byte(settings)}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if created.SettingsVersion != 1 || created.Settings.JWTAlgorithm != "HS256" {
		t.Fatalf("created: version %d alg %q", created.SettingsVersion, created.Settings.JWTAlgorithm)
	}
	got, err := store.Get(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != created.ID || got.Name != "Round Trip" || got.Settings.JWTPrivateKey != hsSecret {
		t.Fatalf("get: %+v", got)
	}
	if got.Overrides["HEADLESS_JWT_PRIVATE_KEY"] != hsSecret {
		t.Fatalf("overrides lost the secret: %v", got.Overrides["HEADLESS_JWT_PRIVATE_KEY"])
	}
	// At rest, neither secret appears in clear: not in the tenant row, not in history.
	var row, history string
	if err := pool.QueryRow(ctx, `SELECT settings::text FROM tenants WHERE id = $1`, got.ID).Scan(&row); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT settings::text FROM settings_history WHERE tenant_id = $1 AND version = 1`, got.ID).Scan(&history); err != nil {
		t.Fatal(err)
	}
	for _, stored := range []string{row, history} {
		if strings.Contains(stored, hsSecret) || strings.Contains(stored, "google-app-secret") {
			t.Fatalf("secret stored in clear: %s", stored)
		}
		if !strings.Contains(stored, "hps1:") || !strings.Contains(stored, `"gid"`) {
			t.Fatalf("expected sealed secrets and clear client id: %s", stored)
		}
	}
	// Another master key cannot read the tenant.
	other := tenants.NewStore(pool, testenv.NewSealer(t), nil)
	if _, err := other.Get(ctx, slug); err == nil {
		t.Fatal("a store with another master key must fail to open the secrets")
	}
}

func TestStoreUpdateVersionsAndAudits(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	store := tenants.NewStore(pool, testenv.Sealer(t), nil)
	slug := testenv.Slug("update")
	tn, err := store.Create(ctx, tenants.CreateInput{Slug: slug, Settings: []byte(`{"HEADLESS_JWT_ALGORITHM":"HS256","HEADLESS_JWT_PRIVATE_KEY":"` + hsSecret + `"}`)}, "creator")
	if err != nil {
		t.Fatal(err)
	}
	if tn.Name != slug {
		t.Fatalf("name defaults to slug, got %q", tn.Name)
	}
	updated, err := store.UpdateSettings(ctx, slug, []byte(`{"ACCOUNT_EMAIL_VERIFICATION":"mandatory","ACCOUNT_LOGIN_METHODS":["email"],"ACCOUNT_SIGNUP_FIELDS":["email*","password1*"]}`), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if updated.SettingsVersion != 2 || updated.Settings.EmailVerification != "mandatory" || updated.Settings.JWTAlgorithm != "HS256" {
		t.Fatalf("merge lost or ignored keys: v%d %q %q", updated.SettingsVersion, updated.Settings.EmailVerification, updated.Settings.JWTAlgorithm)
	}
	// null removes a key: back to allauth's default.
	updated, err = store.UpdateSettings(ctx, slug, []byte(`{"ACCOUNT_EMAIL_VERIFICATION":null}`), "bob")
	if err != nil {
		t.Fatal(err)
	}
	if updated.SettingsVersion != 3 || updated.Settings.EmailVerification != "optional" {
		t.Fatalf("null should restore the default: v%d %q", updated.SettingsVersion, updated.Settings.EmailVerification)
	}
	if _, ok := updated.Overrides["ACCOUNT_EMAIL_VERIFICATION"]; ok {
		t.Fatal("removed key still in overrides")
	}
	// A secret pasted back as <redacted> keeps its value.
	updated, err = store.UpdateSettings(ctx, slug, []byte(`{"HEADLESS_JWT_PRIVATE_KEY":"<redacted>"}`), "carol")
	if err != nil {
		t.Fatal(err)
	}
	if updated.Settings.JWTPrivateKey != hsSecret {
		t.Fatal("redacted placeholder must keep the current secret")
	}

	history, err := store.SettingsHistory(ctx, tn.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(history) != 4 || history[0].Version != 4 || history[0].ChangedBy != "carol" || history[3].ChangedBy != "creator" {
		t.Fatalf("history: %+v", history)
	}
	events, err := audit.List(ctx, pool, tn.ID, 10)
	if err != nil {
		t.Fatal(err)
	}
	var update *audit.Event
	for i := range events {
		if events[i].Action == "tenant.settings.update" && events[i].Actor == "alice" {
			update = &events[i]
		}
	}
	if update == nil {
		t.Fatalf("no audit event for alice's update: %+v", events)
	}
	raw, _ := json.Marshal(update.Details)
	if !strings.Contains(string(raw), `"after":{`) || !strings.Contains(string(raw), "mandatory") || !strings.Contains(string(raw), `"before":{`) {
		t.Fatalf("audit details lack before/after: %s", raw)
	}
	if strings.Contains(string(raw), hsSecret) {
		t.Fatalf("audit leaks the secret: %s", raw)
	}
}

func TestStoreRejectsBadInputAndWritesNothing(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	slug := testenv.Slug("bad-input")
	if _, err := store.Create(ctx, tenants.CreateInput{Slug: slug}, "test"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		patch string
		key   string
	}{
		{"unknown key", `{"ACCOUNT_NOPE": 1}`, "ACCOUNT_NOPE"},
		{"wrong type", `{"ACCOUNT_LOGIN_BY_CODE_ENABLED": "yes"}`, "ACCOUNT_LOGIN_BY_CODE_ENABLED"},
		{"bad enum", `{"ACCOUNT_EMAIL_VERIFICATION": "sometimes"}`, "ACCOUNT_EMAIL_VERIFICATION"},
		{"redacted without value", `{"HEADLESS_JWT_PRIVATE_KEY": "<redacted>"}`, "HEADLESS_JWT_PRIVATE_KEY"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := store.UpdateSettings(ctx, slug, []byte(tc.patch), "test")
			if !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("error %v should name %s", err, tc.key)
			}
			tn, err := store.Get(ctx, slug)
			if err != nil {
				t.Fatal(err)
			}
			if tn.SettingsVersion != 1 || len(tn.Overrides) != 0 {
				t.Fatalf("a rejected update changed the tenant: v%d %v", tn.SettingsVersion, tn.Overrides)
			}
		})
	}
	for _, raw := range []string{`[1,2]`, `{"a":1} {"b":2}`, `{`, `null`} {
		if _, err := store.UpdateSettings(ctx, slug, []byte(raw), "test"); err == nil {
			t.Errorf("malformed document %q accepted", raw)
		}
	}
	if _, err := store.Create(ctx, tenants.CreateInput{Slug: slug}, "test"); !errors.Is(err, tenants.ErrSlugTaken) {
		t.Fatalf("duplicate slug: %v", err)
	}
	for _, bad := range []string{"", "UPPER", "-lead", "trail-", "under_score", "console", strings.Repeat("a", 64)} {
		if _, err := store.Create(ctx, tenants.CreateInput{Slug: bad}, "test"); !errors.Is(err, tenants.ErrInvalidSlug) {
			t.Errorf("slug %q: %v", bad, err)
		}
	}
	bad := testenv.Slug("bad-settings")
	if _, err := store.Create(ctx, tenants.CreateInput{Slug: bad, Settings: []byte(`{"HEADLESS_CLIENTS": []}`)}, "test"); err == nil {
		t.Fatal("invalid settings accepted at create")
	}
	if _, err := store.Get(ctx, bad); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("a rejected create left a tenant behind: %v", err)
	}
}

func TestStoreRenameDomainsDelete(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	slug := testenv.Slug("lifecycle")
	if _, err := store.Create(ctx, tenants.CreateInput{Slug: slug}, "test"); err != nil {
		t.Fatal(err)
	}
	if tn, err := store.Rename(ctx, slug, "Renamed Inc.", "test"); err != nil || tn.Name != "Renamed Inc." {
		t.Fatalf("rename: %v %v", tn, err)
	}
	domain := slug + ".example.com"
	d, err := store.AddDomain(ctx, slug, strings.ToUpper(domain)+".", "test")
	if err != nil {
		t.Fatal(err)
	}
	if d.Domain != domain || d.Verified() || !strings.HasPrefix(d.VerificationToken, "hallpass-verify=") {
		t.Fatalf("domain: %+v", d)
	}
	if _, err := store.GetByDomain(ctx, domain); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("an unverified domain must not resolve: %v", err)
	}
	other := testenv.Slug("other")
	if _, err := store.Create(ctx, tenants.CreateInput{Slug: other}, "test"); err != nil {
		t.Fatal(err)
	}
	// Unverified claims are not exclusive (issue #16): another tenant may
	// claim the name too; the same tenant cannot claim it twice.
	if _, err := store.AddDomain(ctx, other, domain, "test"); err != nil {
		t.Fatalf("an unverified claim blocks another tenant: %v", err)
	}
	if _, err := store.AddDomain(ctx, slug, domain, "test"); !errors.Is(err, tenants.ErrDomainTaken) {
		t.Fatalf("a domain claimed twice by one tenant: %v", err)
	}
	if err := store.MarkDomainVerified(ctx, slug, domain, "test"); err != nil {
		t.Fatal(err)
	}
	// Verified, it is exclusive: the other claim is gone and cannot return.
	if tn, err := store.Get(ctx, other); err != nil || len(tn.Domains) != 0 {
		t.Fatalf("the other tenant's claim survived verification: %+v %v", tn, err)
	}
	if _, err := store.AddDomain(ctx, other, domain, "test"); !errors.Is(err, tenants.ErrDomainTaken) {
		t.Fatalf("a verified domain claimed by another tenant: %v", err)
	}
	byDomain, err := store.GetByDomain(ctx, domain)
	if err != nil || byDomain.Slug != slug || len(byDomain.Domains) != 1 || !byDomain.Domains[0].Verified() {
		t.Fatalf("by domain: %+v %v", byDomain, err)
	}
	if _, err := store.AddDomain(ctx, slug, "not a domain", "test"); !errors.Is(err, tenants.ErrInvalidDomain) {
		t.Fatalf("invalid domain: %v", err)
	}
	if err := store.Delete(ctx, slug, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Get(ctx, slug); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("deleted tenant still there: %v", err)
	}
	if _, err := store.GetByDomain(ctx, domain); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("deleted tenant's domain still resolves: %v", err)
	}
	list, err := store.List(ctx, tenants.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range list {
		if tn.Slug == slug {
			t.Fatal("deleted tenant listed")
		}
	}
}
