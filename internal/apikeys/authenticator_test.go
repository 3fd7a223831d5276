package apikeys_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/leasebus"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// countingTracer counts the queries a pool sends.
type countingTracer struct{ n atomic.Int64 }

func (c *countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// tracedPool is a pool to the test database whose queries are counted.
func tracedPool(t testing.TB) (*pgxpool.Pool, *countingTracer) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(testenv.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	tr := &countingTracer{}
	cfg.ConnConfig.Tracer = tr
	cfg.MaxConns = 4
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool, tr
}

// startNode builds an Authenticator over pool that is a node of the bus
// namespace ns, and waits until it serves from memory.
func startNode(t testing.TB, pool *pgxpool.Pool, ns string) *apikeys.Authenticator {
	t.Helper()
	bus := leasebus.New(testenv.Redis(t), "apikeys", leasebus.Config{Namespace: ns})
	a := apikeys.NewAuthenticator(apikeys.NewStore(pool), apikeys.AuthenticatorConfig{Bus: bus})
	stop := a.Start(context.Background())
	t.Cleanup(stop)
	deadline := time.Now().Add(10 * time.Second)
	for !bus.Serving() {
		if time.Now().After(deadline) {
			t.Fatal("the node holds no lease after 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return a
}

// A warm lookup sends no query; expiry is checked at each use from memory;
// a revocation through another node reaches this one before it returns.
func TestAuthenticatorCachesAndRevokesEverywhere(t *testing.T) {
	ctx := context.Background()
	pool, queries := tracedPool(t)
	ts := tenants.NewStore(testenv.Pool(t), testenv.Sealer(t), nil)
	tenant := newTenant(t, ts)
	ns := "apikeys-test-" + uuid.NewString()
	nodeA := startNode(t, pool, ns)
	nodeB := startNode(t, testenv.Pool(t), ns)

	k, secret, err := nodeA.Create(ctx, audit.Actor{Name: "cli"}, apikeys.NewKey{TenantID: tenant, Scopes: []string{"users:read"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodeA.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	before := queries.n.Load()
	for range 100 {
		got, err := nodeA.Authenticate(ctx, secret)
		if err != nil || got.ID != k.ID {
			t.Fatalf("warm: %+v %v", got, err)
		}
	}
	if n := queries.n.Load() - before; n != 0 {
		t.Fatalf("100 warm lookups sent %d queries", n)
	}
	// Unknown and malformed keys are refused; nothing is cached for them.
	if _, err := nodeA.Authenticate(ctx, secret[:len(secret)-1]+"x"); !errors.Is(err, apikeys.ErrUnknownKey) {
		t.Errorf("mangled: %v", err)
	}

	// Revoked through B: A refuses the key on its next lookup.
	if _, err := nodeB.Revoke(ctx, audit.Actor{Name: "cli"}, uuid.Nil, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := nodeA.Authenticate(ctx, secret); !errors.Is(err, apikeys.ErrRevoked) {
		t.Fatalf("after the revocation on B, A says %v", err)
	}

	// Expiry is read from the cached entry at each use.
	_, short, err := nodeA.Create(ctx, audit.Actor{Name: "cli"}, apikeys.NewKey{TenantID: tenant, Scopes: []string{"users:read"},
		ExpiresAt: ptr(time.Now().Add(time.Second))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nodeA.Authenticate(ctx, short); err != nil {
		t.Fatal(err)
	}
	for {
		_, err := nodeA.Authenticate(ctx, short)
		if errors.Is(err, apikeys.ErrExpired) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Uses are written to last_used by FlushUses, once per key per minute.
func TestAuthenticatorRecordsLastUse(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	tenant := newTenant(t, tenants.NewStore(pool, testenv.Sealer(t), nil))
	a := startNode(t, pool, "apikeys-test-"+uuid.NewString())
	k, secret, err := a.Create(ctx, audit.Actor{Name: "cli"}, apikeys.NewKey{TenantID: tenant, Scopes: []string{"users:read"}})
	if err != nil {
		t.Fatal(err)
	}
	if k.LastUsed != nil {
		t.Fatalf("a new key was used at %v", k.LastUsed)
	}
	for range 3 {
		if _, err := a.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	a.FlushUses(ctx)
	got, err := a.Get(ctx, tenant, k.ID)
	if err != nil || got.LastUsed == nil || time.Since(*got.LastUsed) > time.Minute {
		t.Fatalf("after use: %+v %v", got, err)
	}
	first := *got.LastUsed
	if _, err := a.Authenticate(ctx, secret); err != nil {
		t.Fatal(err)
	}
	a.FlushUses(ctx)
	got, _ = a.Get(ctx, tenant, k.ID)
	if !got.LastUsed.Equal(first) {
		t.Errorf("a use within the minute wrote last_used again: %v, then %v", first, got.LastUsed)
	}
}

// A node without a lease (no Redis) serves nothing from memory.
func TestAuthenticatorWithoutBusAsksPostgres(t *testing.T) {
	ctx := context.Background()
	pool, queries := tracedPool(t)
	tenant := newTenant(t, tenants.NewStore(testenv.Pool(t), testenv.Sealer(t), nil))
	a := apikeys.NewAuthenticator(apikeys.NewStore(pool), apikeys.AuthenticatorConfig{})
	defer a.Start(ctx)()
	_, secret, err := a.Create(ctx, audit.Actor{Name: "cli"}, apikeys.NewKey{TenantID: tenant, Scopes: []string{"users:read"}})
	if err != nil {
		t.Fatal(err)
	}
	before := queries.n.Load()
	for range 3 {
		if _, err := a.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}
	if n := queries.n.Load() - before; n != 3 || a.Cached() != 0 {
		t.Errorf("without a lease: %d queries for 3 lookups, %d cached", n, a.Cached())
	}
}

func BenchmarkAuthenticateWarm(b *testing.B) {
	ctx := context.Background()
	pool := testenv.Pool(b)
	tenant := newTenant(b, tenants.NewStore(pool, testenv.Sealer(b), nil))
	a := startNode(b, pool, "apikeys-bench-"+uuid.NewString())
	_, secret, err := a.Create(ctx, audit.Actor{Name: "bench"}, apikeys.NewKey{TenantID: tenant, Scopes: []string{"users:read"}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := a.Authenticate(ctx, secret); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := a.Authenticate(ctx, secret); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAuthenticateStore is the lookup without the cache (one indexed
// read), for comparison.
func BenchmarkAuthenticateStore(b *testing.B) {
	ctx := context.Background()
	pool := testenv.Pool(b)
	tenant := newTenant(b, tenants.NewStore(pool, testenv.Sealer(b), nil))
	store := apikeys.NewStore(pool)
	_, secret, err := store.Create(ctx, audit.Actor{Name: "bench"}, apikeys.NewKey{TenantID: tenant, Scopes: []string{"users:read"}})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := store.Authenticate(ctx, secret); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
