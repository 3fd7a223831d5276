package tenants_test

import (
	"context"
	"errors"
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
	r := tenants.NewResolver(tenants.NewCache(store, time.Minute), "hallpass.test", "auth.platform.example")
	cases := []struct {
		host   string
		tenant string // "" = platform
		err    error
	}{
		{host: slug + ".hallpass.test", tenant: slug},
		{host: slug + ".HALLPASS.test:8443", tenant: slug},
		{host: slug + ".hallpass.test.", tenant: slug},
		{host: custom, tenant: slug},
		{host: custom + ":443", tenant: slug},
		{host: "hallpass.test"},
		{host: "hallpass.test:8000"},
		{host: "console.hallpass.test"},
		{host: "auth.platform.example"},
		{host: "127.0.0.1:8000"},
		{host: "[::1]:8000"},
		{host: ""},
		{host: "nope-" + slug + ".hallpass.test", err: tenants.ErrNotFound},
		{host: "a." + slug + ".hallpass.test", err: tenants.ErrNotFound},
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
			tn, err := r.ResolveHost(ctx, tc.host)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("want %v, got tenant %v err %v", tc.err, tn, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			if tn != nil {
				got = tn.Slug
			}
			if got != tc.tenant {
				t.Fatalf("tenant %q, want %q", got, tc.tenant)
			}
		})
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
