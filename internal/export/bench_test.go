package export

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/portable"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// BenchmarkExportImport seeds a tenant (HALLPASS_BENCH_USERS users, default
// 100,000), exports it to a file and imports the file into a new tenant
// (verification pass, then batches of HALLPASS_BENCH_BATCH, default 1000,
// through portable.Writer),
// reporting each phase's users/s. One round whatever b.N:
//
//	go test -run '^$' -bench BenchmarkExportImport -benchtime 1x ./internal/export
func BenchmarkExportImport(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("HALLPASS_BENCH_USERS")); err == nil && v > 0 {
		n = v
	}
	batch := 1000
	if v, err := strconv.Atoi(os.Getenv("HALLPASS_BENCH_BATCH")); err == nil && v > 0 {
		batch = v
	}
	ctx := context.Background()
	pool, sealer := testenv.Pool(b), testenv.Sealer(b)
	src := seedTenant(b, n)
	file := filepath.Join(b.TempDir(), "export.jsonl")
	for range b.N {
		f, err := os.Create(file)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		w, err := NewWriter(f, Options{Tenant: src.Slug, Passphrase: []byte(testPass)})
		if err != nil {
			b.Fatal(err)
		}
		if err := WriteTenant(ctx, pool, sealer, src, w, TenantOptions{}); err != nil {
			b.Fatal(err)
		}
		_ = f.Close()
		exported := time.Since(start)
		dst, err := tenants.NewStore(pool, sealer, nil).Create(ctx, tenants.CreateInput{Slug: testenv.Slug("bench-dst")}, "bench")
		if err != nil {
			b.Fatal(err)
		}
		start = time.Now()
		for pass := range 2 {
			f, err := os.Open(file)
			if err != nil {
				b.Fatal(err)
			}
			r, err := NewReader(f, []byte(testPass))
			if err != nil {
				b.Fatal(err)
			}
			if pass == 0 {
				if _, err := r.Verify(); err != nil {
					b.Fatal(err)
				}
			} else {
				rep, err := WriteUsers(ctx, r, dst, portable.NewWriter(pool, sealer), batch, nil)
				if err != nil || rep.Created != n {
					b.Fatalf("%+v %v", rep, err)
				}
			}
			_ = f.Close()
		}
		imported := time.Since(start)
		b.ReportMetric(float64(n)/exported.Seconds(), "exported_users/s")
		b.ReportMetric(float64(n)/imported.Seconds(), "imported_users/s")
		b.Logf("%d users, batches of %d: export %v, import (verify + write) %v", n, batch, exported.Round(time.Millisecond), imported.Round(time.Millisecond))
	}
}
