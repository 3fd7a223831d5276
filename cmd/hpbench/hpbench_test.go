package main

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPercentilesNearestRank(t *testing.T) {
	// 1..100 ms shuffled: the q-quantile by nearest rank is ceil(q·100) ms.
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	rand.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
	l := summarize(ds)
	for name, c := range map[string]struct{ got, want float64 }{
		"count": {float64(l.Count), 100},
		"min":   {l.Min, 1000},
		"p50":   {l.P50, 50_000},
		"p90":   {l.P90, 90_000},
		"p95":   {l.P95, 95_000},
		"p99":   {l.P99, 99_000},
		"p999":  {l.P999, 100_000},
		"max":   {l.Max, 100_000},
		"mean":  {l.Mean, 50_500},
	} {
		if c.got != c.want {
			t.Errorf("%s = %v µs, want %v", name, c.got, c.want)
		}
	}
	// A tail of one slow request among 1000 shows at p999, not at p99.
	ds = ds[:0]
	for range 999 {
		ds = append(ds, 100*time.Microsecond)
	}
	ds = append(ds, time.Second)
	l = summarize(ds)
	if l.P99 != 100 || l.P999 != 100 || l.Max != 1e6 {
		t.Errorf("tail: p99 %v p999 %v max %v", l.P99, l.P999, l.Max)
	}
	ds = append(ds, time.Second) // 2 of 1001: now above the 99.9th
	if l = summarize(ds); l.P999 != 1e6 {
		t.Errorf("p999 with 2 slow of 1001 = %v", l.P999)
	}
	if l := summarize(nil); l.Count != 0 || l.P99 != 0 {
		t.Errorf("empty: %+v", l)
	}
	if got := percentile([]time.Duration{7}, 0.99); got != 7 {
		t.Errorf("single sample p99 = %v", got)
	}
	if got := median([]time.Duration{3, 1, 2}); got != 2 {
		t.Errorf("median = %v", got)
	}
}

func fakeLookup(m map[string][]string) func(context.Context, string) ([]net.IPAddr, error) {
	return func(_ context.Context, name string) ([]net.IPAddr, error) {
		ips, ok := m[name]
		if !ok {
			return nil, errors.New("no such host")
		}
		var out []net.IPAddr
		for _, ip := range ips {
			out = append(out, net.IPAddr{IP: net.ParseIP(ip)})
		}
		return out, nil
	}
}

func TestLoopbackOnly(t *testing.T) {
	lookup := fakeLookup(map[string][]string{
		"localhost":       {"127.0.0.1", "::1"},
		"evil.example":    {"93.184.216.34"},
		"mixed.example":   {"127.0.0.1", "10.0.0.1"},
		"rebind.internal": {"127.0.0.2"},
	})
	ctx := context.Background()
	for _, c := range []struct {
		url, dial string // dial "" = refused
	}{
		{"http://127.0.0.1:18000", "127.0.0.1:18000"},
		{"http://127.0.0.1:18000/", "127.0.0.1:18000"},
		{"http://[::1]:18000", "[::1]:18000"},
		{"http://localhost:8000", "127.0.0.1:8000"},
		{"http://127.9.9.9:1", "127.9.9.9:1"},
		{"http://rebind.internal:80", "127.0.0.2:80"},
		{"http://10.0.0.1:8000", ""},
		{"http://0.0.0.0:8000", ""},
		{"http://[::]:8000", ""},
		{"http://192.168.1.10:8000", ""},
		{"http://evil.example:80", ""},
		{"http://mixed.example:80", ""},
		{"http://unknown.example:80", ""},
		{"https://127.0.0.1:8443", ""},
		{"ftp://127.0.0.1:21", ""},
		{"http://127.0.0.1", ""},                 // no port
		{"http://127.0.0.1:8000/t/x", ""},        // not a base URL
		{"http://user:pw@127.0.0.1:8000", ""},    // credentials
		{"http://127.0.0.1:8000?x=1", ""},        // query
		{"127.0.0.1:8000", ""},                   // no scheme
		{"http://2130706433:8000", ""},           // integer IP: a name that does not resolve here
		{"http://127.0.0.1.evil.example:80", ""}, // looks loopback, is a name
	} {
		dial, _, err := loopbackTarget(ctx, c.url, lookup)
		switch {
		case c.dial == "" && err == nil:
			t.Errorf("%s: accepted (dial %s), want refused", c.url, dial)
		case c.dial != "" && err != nil:
			t.Errorf("%s: refused: %v", c.url, err)
		case c.dial != "" && dial != c.dial:
			t.Errorf("%s: dial %s, want %s", c.url, dial, c.dial)
		}
	}
	if _, _, err := loopbackTarget(ctx, "http://evil.example:80", lookup); !errors.Is(err, errNotLoopback) {
		t.Errorf("non-loopback error does not say so: %v", err)
	}
}

func TestLoopbackDatabaseOnly(t *testing.T) {
	ctx := context.Background()
	for url, ok := range map[string]bool{
		"postgres://u:p@127.0.0.1:5434/hallpass_bench?sslmode=disable":               true,
		"postgres://u:p@[::1]:5434/db":                                               true,
		"host=/var/run/postgresql dbname=x":                                          true,
		"postgres://u:p@10.1.2.3:5432/db":                                            false,
		"postgres://u:p@127.0.0.1:5434,10.1.2.3:5432/db":                             false,
		"postgres://u:p@db.example.invalid:5432/db":                                  false,
		"postgres://u:p@127.0.0.1:5434/db?target_session_attrs=any&host=203.0.113.9": false,
	} {
		err := loopbackDatabase(ctx, url)
		if ok != (err == nil) {
			t.Errorf("%s: err %v, want ok=%v", url, err, ok)
		}
	}
}

func TestPrepareDatabaseRefusesTestDatabases(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"hallpass_test", "hallpass", "postgres", "template1", "hp_test_abc", "Bad-Name", "x; DROP DATABASE y", ""} {
		if _, err := prepareDatabase(ctx, "postgres://u:p@127.0.0.1:1/postgres", name); err == nil || !strings.Contains(err.Error(), "not allowed") {
			t.Errorf("%q: %v, want refused by name", name, err)
		}
	}
	if _, err := prepareDatabase(ctx, "postgres://u:p@10.0.0.1:5432/postgres", "hallpass_bench"); !errors.Is(err, errNotLoopback) {
		t.Errorf("non-loopback admin URL: %v", err)
	}
}

func TestFlagsAreBounded(t *testing.T) {
	env := func(k string) string {
		return map[string]string{"HALLPASS_DATABASE_URL": "postgres://u:p@127.0.0.1:5434/b", "HALLPASS_MASTER_KEY": "k"}[k]
	}
	base := []string{"-target", "http://127.0.0.1:1"}
	if _, err := parseFlags(base, env, io.Discard); err != nil {
		t.Fatalf("defaults refused: %v", err)
	}
	if _, err := parseFlags(nil, env, io.Discard); err == nil {
		t.Error("no -target accepted")
	}
	for _, bad := range [][]string{
		{"-c", "0"},
		{"-c", "100000"},
		{"-d", "0s"},
		{"-d", "2h"}, // longer than maxDuration
		{"-warmup", "1h"},
		{"-tenants", "0"},
		{"-tenants", "10000000"},
		{"-open", "2"},
		{"-soak", "1m"}, // soak without -admin
		{"-soak", "1h", "-admin", "http://127.0.0.1:2"},
		{"-profile", "/tmp/x"}, // profile without -admin
		{"-max-requests", "0"},
		{"-max-requests", "999999999999"},
		{"-timeout", "0s"},
		{"-timeout", "100h"},
		{"-scenarios", "nope"},
		{"-scenarios", ""},
		{"-algs", "none"},
		{"stray"},
	} {
		if _, err := parseFlags(append(append([]string{}, base...), bad...), env, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	// Without the server's database settings only the ceiling can run.
	noEnv := func(string) string { return "" }
	if _, err := parseFlags(base, noEnv, io.Discard); err == nil {
		t.Error("tenant scenarios accepted without HALLPASS_DATABASE_URL")
	}
	if _, err := parseFlags(append(base, "-scenarios", "ceiling"), noEnv, io.Discard); err != nil {
		t.Errorf("ceiling alone: %v", err)
	}
}

func TestClosedLoopStopsByDurationAndCount(t *testing.T) {
	var calls, warm atomic.Int64
	const warmup = 20 * time.Millisecond
	// Calls begun before start+warmup are certainly in the warmup (the
	// loop's own clock starts later); on a busy machine there may be none.
	var warmEnds time.Time
	ops := make([]op, 4)
	for i := range ops {
		ops[i] = func() error {
			if calls.Add(1); time.Now().Before(warmEnds) {
				warm.Add(1)
			}
			time.Sleep(100 * time.Microsecond)
			return nil
		}
	}
	ctx := context.Background()
	start := time.Now()
	warmEnds = start.Add(warmup)
	r := closedLoop(ctx, ops, limits{warmup: warmup, duration: 200 * time.Millisecond, maxRequests: 1 << 40})
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("took %s for a 220ms run", el)
	}
	if r.StoppedBy != "duration" || r.Requests == 0 || r.Requests > calls.Load()-warm.Load() || r.Errors != 0 {
		t.Fatalf("duration run: %+v (calls %d, %d of them in the warmup; warmup requests must not be recorded)", r, calls.Load(), warm.Load())
	}
	if warm.Load() == 0 {
		t.Logf("no call began within the warmup (busy machine): its exclusion is not exercised this run")
	}
	if r.Seconds < 0.19 || r.Seconds > 0.3 || r.RPS <= 0 || r.Latency.P50 < 100 {
		t.Fatalf("window/rate/latency: %+v", r)
	}

	calls.Store(0)
	r = closedLoop(ctx, ops, limits{duration: time.Minute, maxRequests: 50})
	if r.StoppedBy != "max-requests" || calls.Load() != 50 || r.Requests != 50 {
		t.Fatalf("count bound: %+v, calls %d", r, calls.Load())
	}

	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	r = closedLoop(cctx, ops, limits{duration: time.Minute, maxRequests: 1 << 40})
	if time.Since(start) > 2*time.Second || r.StoppedBy != "canceled" {
		t.Fatalf("cancel: %+v after %s", r, time.Since(start))
	}
}

func TestClosedLoopCountsErrors(t *testing.T) {
	var n atomic.Int64
	ops := []op{func() error {
		if n.Add(1)%4 == 0 {
			return errUnexpected
		}
		return nil
	}}
	r := closedLoop(context.Background(), ops, limits{duration: time.Minute, maxRequests: 400})
	if r.Requests != 400 || r.Errors != 100 || r.FirstError == "" {
		t.Fatalf("%+v", r)
	}
	if r.OKRPS >= r.RPS {
		t.Fatalf("ok rate %v not below rate %v", r.OKRPS, r.RPS)
	}
}

func TestOpenLoopHoldsRateAndSeesQueueing(t *testing.T) {
	var calls atomic.Int64
	fast := []op{func() error { calls.Add(1); return nil }, func() error { calls.Add(1); return nil }}
	r := openLoop(context.Background(), fast, 500, limits{duration: 400 * time.Millisecond, maxRequests: 1 << 40})
	if got := calls.Load(); got < 150 || got > 220 {
		t.Fatalf("500/s for 0.4s sent %d", got)
	}
	if r.Mode != "open" || r.Rate != 500 || r.Dropped != 0 {
		t.Fatalf("%+v", r)
	}
	// One worker taking 5 ms at 1000/s cannot keep up: latency measured from
	// when each request was due grows (no coordinated omission), and what
	// cannot be queued is dropped, not silently skipped.
	slow := []op{func() error { time.Sleep(5 * time.Millisecond); return nil }}
	r = openLoop(context.Background(), slow, 1000, limits{duration: 300 * time.Millisecond, maxRequests: 1 << 40})
	if r.Latency.P99 < 50_000 || r.Dropped == 0 {
		t.Fatalf("overload not visible: p99 %vµs dropped %d", r.Latency.P99, r.Dropped)
	}
	r = openLoop(context.Background(), fast, 1e6, limits{duration: time.Minute, maxRequests: 100})
	if r.StoppedBy != "max-requests" {
		t.Fatalf("count bound: %+v", r)
	}
}

func TestParseMetrics(t *testing.T) {
	text := `# HELP hallpass_http_requests_total x
# TYPE hallpass_http_requests_total counter
hallpass_http_requests_total{app="tenant",route="/a",method="GET",status="200"} 3
hallpass_http_requests_total{app="tenant",route="/b",method="GET",status="200"} 4
hallpass_http_requests_total{app="tenant",route="/a",method="GET",status="500"} 1
go_goroutines 12
`
	s, err := parseMetrics([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if v := s.Sum("hallpass_http_requests_total"); v != 8 {
		t.Errorf("sum %v", v)
	}
	if v := s.Sum("hallpass_http_requests_total", `route="/a"`); v != 4 {
		t.Errorf("route /a %v", v)
	}
	if v := s.Sum("hallpass_http_requests_total", `route="/a"`, `status="200"`); v != 3 {
		t.Errorf("route /a 200 %v", v)
	}
	if v := s.Sum("go_goroutines"); v != 12 {
		t.Errorf("goroutines %v", v)
	}
	if _, err := parseMetrics([]byte("broken_line_without_value\n")); err == nil {
		t.Error("broken line accepted")
	}
}

func TestRunRefusesNonLoopbackTarget(t *testing.T) {
	var stderr strings.Builder
	code := run(context.Background(), []string{"-target", "http://192.0.2.1:80", "-scenarios", "ceiling", "-out", t.TempDir() + "/r.json"},
		func(string) string { return "" }, io.Discard, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "loopback") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestTrend(t *testing.T) {
	var ss []SoakSample
	for i := range 11 {
		noise := float64((i%2)*2-1) * 5 // ±5 around a line 100 → 200
		ss = append(ss, SoakSample{At: float64(i), HeapAlloc: 100 + 10*float64(i) + noise})
	}
	start, end := trend(ss, func(s SoakSample) float64 { return s.HeapAlloc })
	if start < 98 || start > 102 || end < 198 || end > 202 {
		t.Fatalf("trend %v → %v, want about 100 → 200", start, end)
	}
	flat := []SoakSample{{At: 0, HeapAlloc: 50}, {At: 1, HeapAlloc: 80}, {At: 2, HeapAlloc: 50}}
	if s, e := trend(flat, func(s SoakSample) float64 { return s.HeapAlloc }); s != e {
		t.Fatalf("a spike in the middle is not growth: %v → %v", s, e)
	}
}
