package export

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/address"
	"github.com/hallpass/hallpass/internal/identity/bulk"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// seedTenant makes a tenant with n users (COPY), each with one address.
func seedTenant(t testing.TB, n int) *tenants.Tenant {
	t.Helper()
	ctx := context.Background()
	pool := testenv.Pool(t)
	store := tenants.NewStore(pool, testenv.Sealer(t), nil)
	ten, err := store.Create(ctx, tenants.CreateInput{Slug: testenv.Slug("exp"), Name: "Export"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	if _, err := bulk.Users(ctx, pool, func() (bulk.User, bool) {
		i++
		name := fmt.Sprintf("user%d", i)
		key, _ := address.UsernameKey(name)
		return bulk.User{TenantID: ten.ID, ID: int64(i), Username: name, UsernameKey: key, PasswordHash: "!"}, i <= n
	}); err != nil {
		t.Fatal(err)
	}
	i = 0
	if _, err := bulk.Addresses(ctx, pool, func() (bulk.Address, bool) {
		i++
		email := fmt.Sprintf("u%d@example.com", i)
		key, _ := address.EmailKey(email)
		return bulk.Address{TenantID: ten.ID, UserID: int64(i), Email: email, EmailKey: key, Verified: true, Primary: true}, i <= n
	}); err != nil {
		t.Fatal(err)
	}
	return ten
}

// countingWriter counts bytes and keeps nothing.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// TestExportMemoryIsFlat exports 100,000 users to a sink and samples the
// live heap after each page: it must not grow with the users written.
func TestExportMemoryIsFlat(t *testing.T) {
	const n = 100_000
	ten := seedTenant(t, n)
	var sink countingWriter
	w, err := NewWriter(&sink, Options{Tenant: ten.Slug, Passphrase: []byte(testPass), KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	var samples []uint64
	var ms runtime.MemStats
	pages := 0
	start := time.Now()
	err = WriteTenant(context.Background(), testenv.Pool(t), testenv.Sealer(t), ten, w, TenantOptions{AfterPage: func(Counts) {
		pages++
		if pages%10 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			samples = append(samples, ms.HeapAlloc)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	t.Logf("exported %d users in %v (%.0f users/s, with a forced GC every 10 pages)", n, took.Round(time.Millisecond), n/took.Seconds())
	if w.Counts().Users != n || w.Counts().Emails != n {
		t.Fatalf("counts %+v", w.Counts())
	}
	first, peak := samples[0], uint64(0)
	for _, s := range samples {
		peak = max(peak, s)
	}
	t.Logf("%d users, %d bytes written; live heap after page 10: %.1f MiB, peak: %.1f MiB, last: %.1f MiB (%d samples)",
		n, sink.n, mib(first), mib(peak), mib(samples[len(samples)-1]), len(samples))
	if peak > first+8<<20 {
		t.Fatalf("live heap grew from %.1f to %.1f MiB while exporting: not streaming", mib(first), mib(peak))
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// TestExportReadsBack: a seeded tenant's export reads back whole.
func TestExportReadsBack(t *testing.T) {
	ten := seedTenant(t, 2345)
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Options{Tenant: ten.Slug, Passphrase: []byte(testPass), KDF: testKDF})
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteTenant(context.Background(), testenv.Pool(t), testenv.Sealer(t), ten, w, TenantOptions{Page: 100}); err != nil {
		t.Fatal(err)
	}
	r, err := NewReader(&buf, []byte(testPass))
	if err != nil {
		t.Fatal(err)
	}
	u, err := r.Next()
	if err != nil || u.SourceID != "1" || u.Username != "user1" || len(u.Emails) != 1 || u.Emails[0].Email != "u1@example.com" {
		t.Fatalf("first user %+v, %v", u, err)
	}
	counts, err := r.Verify()
	if err != nil || counts.Users != 2345 {
		t.Fatalf("%+v %v", counts, err)
	}
}
