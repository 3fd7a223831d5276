package sessions

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/testenv"
)

// BenchmarkRotate is the refresh-token rotation of POST tokens/refresh
// (Store.UseRefresh with rotation), each rotation in a statement of its
// own (single) and grouped by rotateBatcher (batched), from about 32
// goroutines as hpbench's scenario (d) runs 32 clients, on a pool sized as
// the server's. Each goroutine rotates its chains round robin, spending a
// chain's token and keeping its successor. With one chain per goroutine (as
// hpbench) a token is spent moments after it was written; with many (as
// apps refreshing every few minutes) its heap page has long been filled by
// others' tokens. Besides rotations/s it reports the Postgres CPU (all of
// the cluster's processes, read from /proc) and this process's CPU per
// rotation, and the share of the spending UPDATEs that were HOT.
func BenchmarkRotate(b *testing.B) {
	for _, perClient := range []int{256, 1} {
		for _, batched := range []bool{false, true} {
			name := "chains=" + strconv.Itoa(perClient) + "/single"
			if batched {
				name = "chains=" + strconv.Itoa(perClient) + "/batched"
			}
			b.Run(name, func(b *testing.B) { benchmarkRotate(b, perClient, batched) })
		}
	}
}

// benchmarkRotate runs BenchmarkRotate with perClient chains per goroutine.
func benchmarkRotate(b *testing.B, perClient int, batched bool) {
	ctx := context.Background()
	cfg, err := pgxpool.ParseConfig(testenv.DatabaseURL(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg.MaxConns = 20 // as cmd/hallpass on two cores
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	s := NewStore(pool, testenv.Redis(b))
	procs := runtime.GOMAXPROCS(0)
	parallelism := (32 + procs - 1) / procs
	clients := parallelism * procs
	tenant, heads := rotateFixture(b, pool, clients*perClient)
	spend := rotateFunc(func(ctx context.Context, tenantID, jti, nextJTI uuid.UUID, nextExpires time.Time) (rotation, error) {
		return rotateAlone(ctx, pool, tenantID, jti, nextJTI, nextExpires)
	})
	if batched {
		spend = newRotateBatcher(pool).rotate
	}
	warmPool(b, pool)
	postmaster := postmasterPID(b, pool)
	upd, hot := tableUpdates(b, pool)

	var worker atomic.Int32
	var failures atomic.Int64
	b.SetParallelism(parallelism)
	pgBefore, selfBefore := clusterCPU(postmaster), selfCPU()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		w := int(worker.Add(1) - 1)
		mine := heads[w*perClient : (w+1)*perClient]
		for i := 0; pb.Next(); i = (i + 1) % len(mine) {
			_, succ, err := s.useRefresh(ctx, spend, tenant, mine[i], true, time.Hour)
			if err != nil {
				failures.Add(1)
				continue
			}
			mine[i] = succ.JTI
		}
	})
	b.StopTimer()
	pgCPU, ownCPU := clusterCPU(postmaster)-pgBefore, selfCPU()-selfBefore
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d rotations failed", n)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rotations/s")
	if pgCPU > 0 {
		b.ReportMetric(float64(pgCPU.Microseconds())/float64(b.N), "pg-µs/op")
	}
	b.ReportMetric(float64(ownCPU.Microseconds())/float64(b.N), "go-µs/op")
	// Backends report their counters when idle or at exit: close the pool
	// and read them from a fresh connection.
	pool.Close()
	if u, h := tableUpdatesAfter(b, cfg.ConnString(), upd, hot); u > 0 {
		b.ReportMetric(100*float64(h)/float64(u), "hot-%")
	}
}

// rotateFixture makes a tenant with one user and n logged-in sessions, each
// with the first refresh token of its chain.
func rotateFixture(b testing.TB, pool *pgxpool.Pool, n int) (uuid.UUID, []uuid.UUID) {
	b.Helper()
	ctx := context.Background()
	tenant := uuid.New()
	if _, err := pool.Exec(ctx, `INSERT INTO tenants (id, slug, name) VALUES ($1, $2, 'rotate bench')`, tenant, testenv.Slug("rotate")); err != nil {
		b.Fatal(err)
	}
	user, err := insertTestUser(ctx, pool, tenant, "rot", "rot@example.com")
	if err != nil {
		b.Fatal(err)
	}
	rows, err := pool.Query(ctx, `WITH s AS (
			INSERT INTO sessions (tenant_id, id, user_id, client, expires_at)
			SELECT $1, sha256(uuid_send(gen_random_uuid())), $2, 'app', now() + interval '1 day' FROM generate_series(1, $3)
			RETURNING tenant_id, id)
		INSERT INTO refresh_tokens (tenant_id, jti, session_id, family, expires_at)
		SELECT tenant_id, gen_random_uuid(), id, gen_random_uuid(), now() + interval '1 day' FROM s
		RETURNING jti`, tenant, user, n)
	if err != nil {
		b.Fatal(err)
	}
	heads, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		b.Fatal(err)
	}
	return tenant, heads
}

// warmPool opens all of the pool's connections, so that backend start-up
// is not measured.
func warmPool(b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	conns := make([]*pgxpool.Conn, 0, pool.Config().MaxConns)
	for range pool.Config().MaxConns {
		c, err := pool.Acquire(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		c.Release()
	}
}

// postmasterPID is the pid of the Postgres server's main process (the
// parent of every backend), or 0 when /proc does not show it (another host).
func postmasterPID(b *testing.B, pool *pgxpool.Pool) int {
	b.Helper()
	var backend int
	if err := pool.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		b.Fatal(err)
	}
	st, ok := procStat(backend)
	if !ok {
		return 0
	}
	return st.ppid
}

type procStatus struct {
	ppid int
	// cpu is user+system time; cchildren that of its reaped children.
	cpu, children time.Duration
}

// procStat reads /proc/<pid>/stat.
func procStat(pid int) (procStatus, bool) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStatus{}, false
	}
	// The command name, in parentheses, may hold spaces: fields count from
	// after its closing parenthesis (field 3, state).
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return procStatus{}, false
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 15 {
		return procStatus{}, false
	}
	tick := func(s string) time.Duration {
		n, _ := strconv.ParseInt(s, 10, 64)
		return time.Duration(n) * time.Second / 100 // USER_HZ
	}
	ppid, _ := strconv.Atoi(f[1])
	return procStatus{ppid: ppid, cpu: tick(f[11]) + tick(f[12]), children: tick(f[13]) + tick(f[14])}, true
}

// clusterCPU is the CPU used so far by the Postgres server whose main
// process is postmaster: its own, its live children's (backends, WAL
// writer, autovacuum...), and that of the children it has reaped.
func clusterCPU(postmaster int) time.Duration {
	if postmaster == 0 {
		return 0
	}
	pm, ok := procStat(postmaster)
	if !ok {
		return 0
	}
	total := pm.cpu + pm.children
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if st, ok := procStat(pid); ok && st.ppid == postmaster {
			total += st.cpu
		}
	}
	return total
}

// selfCPU is this process's CPU time so far.
func selfCPU() time.Duration {
	st, _ := procStat(os.Getpid())
	return st.cpu
}

// tableUpdates reads refresh_tokens' update counters: all, and HOT.
func tableUpdates(b *testing.B, pool *pgxpool.Pool) (upd, hot int64) {
	b.Helper()
	if err := pool.QueryRow(context.Background(), `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'refresh_tokens'`).Scan(&upd, &hot); err != nil {
		b.Fatal(err)
	}
	return upd, hot
}

// tableUpdatesAfter is how many updates (and HOT ones) refresh_tokens had
// since upd and hot were read, once every backend has reported.
func tableUpdatesAfter(b *testing.B, url string, upd, hot int64) (dUpd, dHot int64) {
	b.Helper()
	ctx := context.Background()
	for range 20 {
		time.Sleep(100 * time.Millisecond)
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			b.Fatal(err)
		}
		var u, h int64
		err = conn.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'refresh_tokens'`).Scan(&u, &h)
		_ = conn.Close(ctx)
		if err != nil {
			b.Fatal(err)
		}
		dUpd, dHot = u-upd, h-hot
		if dUpd >= int64(b.N) {
			break
		}
	}
	return dUpd, dHot
}
