package tenants_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

func TestResolveHost(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	slug := testenv.Slug("resolve")
	if _, err := store.Create(ctx, tenants.CreateInput{Slug: slug}, "test"); err != nil {
		t.Fatal(err)
	}
	custom := slug + ".auth.example.org"
	if _, err := store.AddDomain(ctx, slug, custom, "test"); err != nil {
		t.Fatal(err)
	}
	if err := store.MarkDomainVerified(ctx, slug, custom, "test"); err != nil {
		t.Fatal(err)
	}
	pending := slug + ".pending.example.org"
	if _, err := store.AddDomain(ctx, slug, pending, "test"); err != nil {
		t.Fatal(err)
	}
	addr := tenants.MustAddressing("https://auth.platform.example:8443", "hallpass.test")
	r := tenants.NewResolver(tenants.NewCache(store, time.Minute), addr)
	platform := ""
	cases := []struct {
		host   string
		tenant string // "" = platform
		base   string // the canonical base URL, whatever the header's spelling
		err    error
	}{
		{host: slug + ".hallpass.test", tenant: slug, base: "https://" + slug + ".hallpass.test:8443"},
		{host: slug + ".HALLPASS.test:8443", tenant: slug, base: "https://" + slug + ".hallpass.test:8443"},
		{host: slug + ".hallpass.test.", tenant: slug, base: "https://" + slug + ".hallpass.test:8443"},
		{host: slug + ".hallpass.test:1", tenant: slug, base: "https://" + slug + ".hallpass.test:8443"},
		{host: custom, tenant: slug, base: "https://" + custom + ":8443"},
		{host: strings.ToUpper(custom) + ":443", tenant: slug, base: "https://" + custom + ":8443"},
		{host: "auth.platform.example", tenant: platform},
		{host: "AUTH.platform.example:8443", tenant: platform},
		// Hosts the platform never answers on: no tenant, no platform.
		{host: "hallpass.test", err: tenants.ErrUnknownHost},
		{host: "hallpass.test:8000", err: tenants.ErrUnknownHost},
		{host: "console.hallpass.test", err: tenants.ErrUnknownHost},
		{host: "www.hallpass.test", err: tenants.ErrUnknownHost},
		{host: "127.0.0.1:8000", err: tenants.ErrUnknownHost},
		{host: "10.0.0.1", err: tenants.ErrUnknownHost},
		{host: "[::1]:8000", err: tenants.ErrUnknownHost},
		{host: "", err: tenants.ErrUnknownHost},
		{host: "a." + slug + ".hallpass.test", err: tenants.ErrUnknownHost},
		{host: "nope-" + slug + ".hallpass.test", err: tenants.ErrNotFound},
		{host: pending, err: tenants.ErrNotFound},
		{host: "unknown.example.net", err: tenants.ErrNotFound},
		{host: "bad_host.hallpass.test", err: tenants.ErrMalformedHost},
		{host: "evil.com/../x", err: tenants.ErrMalformedHost},
		{host: "host:99999", err: tenants.ErrMalformedHost},
		{host: "host:", err: tenants.ErrMalformedHost},
		{host: "[::1", err: tenants.ErrMalformedHost},
		{host: "a..b", err: tenants.ErrMalformedHost},
	}
	for _, tc := range cases {
		t.Run(tc.host, func(t *testing.T) {
			target, err := r.ResolveHost(ctx, tc.host)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("want %v, got tenant %v err %v", tc.err, target.Tenant, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if target.Tenant != nil {
				got = target.Tenant.Slug
			}
			if got != tc.tenant || target.BaseURL() != tc.base || target.Prefix != "" {
				t.Fatalf("tenant %q base %q prefix %q, want %q base %q", got, target.BaseURL(), target.Prefix, tc.tenant, tc.base)
			}
		})
	}
	target, err := r.ResolvePath(ctx, slug)
	if err != nil || target.Tenant.Slug != slug || target.Prefix != "/t/"+slug || target.BaseURL() != "https://auth.platform.example:8443/t/"+slug {
		t.Fatalf("by path: %+v %q %v", target, target.BaseURL(), err)
	}
	if got := addr.BaseURLs(target.Tenant); strings.Join(got, " ") != "https://auth.platform.example:8443/t/"+slug+" https://"+slug+".hallpass.test:8443 https://"+custom+":8443" {
		t.Fatalf("BaseURLs: %q", got)
	}
	if tn, err := r.BySlug(ctx, slug); err != nil || tn.Slug != slug {
		t.Fatalf("by slug: %v %v", tn, err)
	}
	for _, bad := range []string{"", "UPPER", "../etc", "console"} {
		if _, err := r.BySlug(ctx, bad); !errors.Is(err, tenants.ErrNotFound) {
			t.Errorf("BySlug(%q): %v", bad, err)
		}
	}
}

// Two nodes, each with its own cache and bus subscription: a change made
// through node A is seen by node B within a second, including a tenant that B
// had cached as unknown.
func TestCacheInvalidationAcrossNodes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool, sealer, rdb := testenv.Pool(t), testenv.Sealer(t), testenv.Redis(t)
	channel := "hp:test:" + testenv.Slug("bus")
	node := func() (*tenants.Store, *tenants.Cache) {
		bus := tenants.NewBus(rdb, channel, nil)
		store := tenants.NewStore(pool, sealer, bus)
		cache := tenants.NewCache(store, time.Hour) // only the bus can make it fresh
		ready := make(chan struct{})
		go bus.Run(ctx, cache, ready)
		select {
		case <-ready:
		case <-time.After(5 * time.Second):
			t.Fatal("bus did not subscribe")
		}
		return store, cache
	}
	storeA, _ := node()
	_, cacheB := node()

	slug := testenv.Slug("cache")
	if _, err := cacheB.BySlug(ctx, slug); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("before create: %v", err)
	}
	if _, err := storeA.Create(ctx, tenants.CreateInput{Slug: slug}, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B sees the new tenant", func() bool {
		tn, err := cacheB.BySlug(ctx, slug)
		return err == nil && tn.Slug == slug
	})
	if _, err := storeA.UpdateSettings(ctx, slug, []byte(`{"ACCOUNT_LOGIN_BY_CODE_ENABLED": true}`), "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B sees the settings change", func() bool {
		tn, err := cacheB.BySlug(ctx, slug)
		return err == nil && tn.Settings.LoginByCodeEnabled && tn.SettingsVersion == 2
	})
	if err := storeA.Delete(ctx, slug, "test"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B forgets the deleted tenant", func() bool {
		_, err := cacheB.BySlug(ctx, slug)
		return errors.Is(err, tenants.ErrNotFound)
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s: not within 1s", what)
}

func TestNewAddressing(t *testing.T) {
	for _, tc := range []struct {
		public, base string
		origin       string // "" = refused
	}{
		{"https://auth.example.com", "example.com", "https://auth.example.com"},
		{"https://auth.example.com/", "example.com", "https://auth.example.com"},
		{"HTTP://Auth.Example.com:8000", "Example.COM.", "http://auth.example.com:8000"},
		{"http://127.0.0.1:8000", "localhost", "http://127.0.0.1:8000"},
		{"http://[::1]:8000", "localhost", "http://[::1]:8000"},
		{"https://auth.example.com/prefix", "example.com", ""},
		{"https://auth.example.com?x=1", "example.com", ""},
		{"https://user@auth.example.com", "example.com", ""},
		{"ftp://auth.example.com", "example.com", ""},
		{"auth.example.com", "example.com", ""},
		{"https://bad_host", "example.com", ""},
		{"https://auth.example.com", "", ""},
		{"https://auth.example.com", "127.0.0.1", ""},
		{"https://auth.example.com", "example.com:8000", ""},
	} {
		a, err := tenants.NewAddressing(tc.public, tc.base)
		switch {
		case tc.origin == "" && err == nil:
			t.Errorf("NewAddressing(%q, %q) accepted", tc.public, tc.base)
		case tc.origin == "" && !errors.Is(err, tenants.ErrInvalidAddressing):
			t.Errorf("NewAddressing(%q, %q): %v", tc.public, tc.base, err)
		case tc.origin != "" && (err != nil || a.PublicOrigin() != tc.origin):
			t.Errorf("NewAddressing(%q, %q) = %v, %v; want %s", tc.public, tc.base, a, err, tc.origin)
		}
	}
}
