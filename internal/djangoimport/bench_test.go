package djangoimport_test

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"maps"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/djangoimport"
	"github.com/hallpass/hallpass/internal/portable"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// BenchmarkImport imports a synthetic Django database of
// HALLPASS_BENCH_IMPORT_USERS users (100000 if unset) into a new tenant,
// in batches of 5000: every user with a pbkdf2_sha256 hash, first and last
// name and a verified primary address; one in ten with a Google account,
// one in twenty with TOTP. The source is built by SQL in Django's schema
// (the tables and columns Django and allauth create), not by Django: a
// million create_user calls would take hours. Reports users/s.
//
//	go test -run '^$' -bench BenchmarkImport -benchtime 1x ./internal/djangoimport/
func BenchmarkImport(b *testing.B) {
	n := 100000
	if v := os.Getenv("HALLPASS_BENCH_IMPORT_USERS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			b.Fatalf("HALLPASS_BENCH_IMPORT_USERS=%q", v)
		}
	}
	ctx := context.Background()
	source := syntheticSource(b, n)
	cfg, err := pgxpool.ParseConfig(testenv.DatabaseURL(b))
	if err != nil {
		b.Fatal(err)
	}
	tr := &statementTimes{took: map[string]time.Duration{}}
	cfg.ConnConfig.Tracer = tr
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	store := tenants.NewStore(pool, testenv.Sealer(b), nil)
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		tn, err := store.Create(ctx, tenants.CreateInput{Slug: testenv.Slug("bench-import"), Settings: []byte(`{}`)}, "bench")
		if err != nil {
			b.Fatal(err)
		}
		cpu := watchCPU(ctx, b, pool, source)
		b.StartTimer()
		start := time.Now()
		rep, err := djangoimport.Run(ctx, portable.NewWriter(pool, testenv.Sealer(b)), tn, djangoimport.Options{Source: source, Batch: 5000})
		if err != nil {
			b.Fatal(err)
		}
		secs := time.Since(start).Seconds()
		if rep.Written.UsersCreated != n || len(rep.Skipped) != 0 {
			b.Fatalf("created %d of %d, skipped %d", rep.Written.UsersCreated, n, len(rep.Skipped))
		}
		used := cpu()
		b.ReportMetric(float64(n)/secs, "users/s")
		b.ReportMetric(used.Seconds(), "cpu-s")
		b.Logf("%d users in %.1fs: %.0f users/s; %+v", n, secs, float64(n)/secs, rep.Written)
		b.Logf("CPU time (this process and every Postgres backend of the two databases): %s, i.e. %.0f users per CPU-second;"+
			" on 2 idle cores at most %.0f users/s", used.Round(time.Millisecond), float64(n)/used.Seconds(), 2*float64(n)/used.Seconds())
		tr.log(b)
	}
}

// watchCPU samples, until the returned function is called, the CPU time
// of this process and of every Postgres backend connected to the test
// database or the source (read from /proc: the benchmark runs on the
// database's machine), and returns the time used since the call. On a
// machine other jobs share, wall time says little; CPU time says what the
// import costs.
func watchCPU(ctx context.Context, b *testing.B, pool *pgxpool.Pool, source string) func() time.Duration {
	src, _ := url.Parse(source)
	dbs := []string{strings.TrimPrefix(src.Path, "/"), pool.Config().ConnConfig.Database}
	seen := map[int]time.Duration{}
	base := map[int]time.Duration{}
	var mu sync.Mutex
	sample := func(first bool) {
		rows, err := pool.Query(ctx, `SELECT pid FROM pg_stat_activity WHERE datname = ANY($1) AND pid <> pg_backend_pid()`, dbs)
		if err != nil {
			return
		}
		pids, _ := pgx.CollectRows(rows, pgx.RowTo[int32])
		mu.Lock()
		defer mu.Unlock()
		for _, pid := range pids {
			if t, ok := procCPU(int(pid)); ok {
				if _, known := seen[int(pid)]; !known && first {
					base[int(pid)] = t
				}
				seen[int(pid)] = t
			}
		}
	}
	self := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	sample(true)
	start := self()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
				sample(false)
			}
		}
	}()
	return func() time.Duration {
		close(done)
		<-stopped
		sample(false)
		total := self() - start
		for pid, t := range seen {
			total += t - base[pid]
		}
		return total
	}
}

// procCPU is a process's user and system time from /proc/PID/stat.
func procCPU(pid int) (time.Duration, bool) {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	if len(f) < 13 {
		return 0, false
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * (time.Second / 100), true // USER_HZ: 100 on Linux
}

// statementTimes adds up the time of each statement the writer runs (by
// its first words), for the benchmark's breakdown.
type statementTimes struct {
	mu   sync.Mutex
	took map[string]time.Duration
}

type traceKey struct{}

type traceStart struct {
	sql   string
	start time.Time
}

func (s *statementTimes) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, traceStart{data.SQL, time.Now()})
}

func (s *statementTimes) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	st, ok := ctx.Value(traceKey{}).(traceStart)
	if !ok {
		return
	}
	key := strings.Join(strings.Fields(st.sql), " ")
	if len(key) > 70 {
		key = key[:70]
	}
	s.mu.Lock()
	s.took[key] += time.Since(st.start)
	s.mu.Unlock()
}

func (s *statementTimes) TraceCopyFromStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceCopyFromStartData) context.Context {
	return context.WithValue(ctx, traceKey{}, traceStart{"COPY " + data.TableName.Sanitize(), time.Now()})
}

func (s *statementTimes) TraceCopyFromEnd(ctx context.Context, c *pgx.Conn, _ pgx.TraceCopyFromEndData) {
	s.TraceQueryEnd(ctx, c, pgx.TraceQueryEndData{})
}

func (s *statementTimes) log(b *testing.B) {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := slices.SortedFunc(maps.Keys(s.took), func(x, y string) int { return cmp.Compare(s.took[y], s.took[x]) })
	for _, k := range keys {
		b.Logf("%8s  %s", s.took[k].Round(time.Millisecond), k)
	}
	clear(s.took)
}

// syntheticSource creates a database with Django's and allauth's tables
// holding n users, and drops it when the benchmark ends.
func syntheticSource(b *testing.B, n int) string {
	b.Helper()
	admin := os.Getenv("HALLPASS_TEST_DATABASE_URL")
	if admin == "" {
		b.Fatal("HALLPASS_TEST_DATABASE_URL is not set")
	}
	ctx := context.Background()
	var r [6]byte
	_, _ = rand.Read(r[:])
	name := "hp_django_bench_" + hex.EncodeToString(r[:])
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if c, err := pgx.Connect(context.Background(), admin); err == nil {
			_, _ = c.Exec(context.Background(), `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`)
			_ = c.Close(context.Background())
		}
	})
	u, _ := url.Parse(admin)
	u.Path = "/" + name
	src, err := pgx.Connect(ctx, u.String())
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close(ctx)
	start := time.Now()
	for _, sql := range []string{
		`CREATE TABLE django_migrations (id serial PRIMARY KEY, app varchar(255), name varchar(255), applied timestamptz)`,
		`CREATE TABLE auth_user (id serial PRIMARY KEY, password varchar(128) NOT NULL, last_login timestamptz,
			is_superuser boolean NOT NULL, username varchar(150) NOT NULL UNIQUE, first_name varchar(150) NOT NULL,
			last_name varchar(150) NOT NULL, email varchar(254) NOT NULL, is_staff boolean NOT NULL,
			is_active boolean NOT NULL, date_joined timestamptz NOT NULL)`,
		`CREATE TABLE account_emailaddress (id serial PRIMARY KEY, email varchar(254) NOT NULL, verified boolean NOT NULL,
			"primary" boolean NOT NULL, user_id integer NOT NULL REFERENCES auth_user (id))`,
		`CREATE TABLE socialaccount_socialaccount (id serial PRIMARY KEY, provider varchar(30) NOT NULL, uid varchar(191) NOT NULL,
			last_login timestamptz NOT NULL, date_joined timestamptz NOT NULL, extra_data text NOT NULL,
			user_id integer NOT NULL REFERENCES auth_user (id))`,
		`CREATE TABLE mfa_authenticator (id bigserial PRIMARY KEY, type varchar(20) NOT NULL, data jsonb NOT NULL,
			user_id integer NOT NULL REFERENCES auth_user (id), created_at timestamptz NOT NULL, last_used_at timestamptz)`,
		`INSERT INTO auth_user (password, last_login, is_superuser, username, first_name, last_name, email, is_staff, is_active, date_joined)
			SELECT 'pbkdf2_sha256$260000$' || md5(i::text) || '$YlZ2Vggtqdc61YjArZuoApoBh9JNGYoDRBUGu6tcJQo=', now(), false,
				'user' || i, 'First' || i, 'Last' || i, 'user' || i || '@example.com', false, true, now() - interval '1 day'
			FROM generate_series(1, ` + strconv.Itoa(n) + `) i`,
		`INSERT INTO account_emailaddress (email, verified, "primary", user_id) SELECT email, true, true, id FROM auth_user`,
		`INSERT INTO socialaccount_socialaccount (provider, uid, last_login, date_joined, extra_data, user_id)
			SELECT 'google', 'g' || id, now(), now(), '{"name": "someone"}', id FROM auth_user WHERE id % 10 = 0`,
		`INSERT INTO mfa_authenticator (type, data, user_id, created_at)
			SELECT 'totp', '{"secret": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"}', id, now() FROM auth_user WHERE id % 20 = 0`,
		`CREATE INDEX ON account_emailaddress (user_id)`,
		`CREATE INDEX ON socialaccount_socialaccount (user_id)`,
		`CREATE INDEX ON mfa_authenticator (user_id)`,
		`ANALYZE`,
	} {
		if _, err := src.Exec(ctx, sql); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("source of %d users built in %s", n, time.Since(start).Round(time.Millisecond))
	return u.String()
}
