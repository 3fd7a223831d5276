package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/metrics"
	"github.com/hallpass/hallpass/internal/testenv"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// `hallpass serve` with HALLPASS_ADMIN_LISTEN serves /metrics (counting the
// public listener's requests, with the Postgres and Redis pool figures) and
// pprof there, and neither on the public listener; the bench route exists
// only with HALLPASS_BENCH_CEILING=1.
func TestServeAdminListener(t *testing.T) {
	public, admin := freeAddr(t), freeAddr(t)
	t.Setenv(adminListenEnv, admin)
	t.Setenv(benchCeilingEnv, "")
	env := map[string]string{
		"HALLPASS_DATABASE_URL": testenv.DatabaseURL(t),
		"HALLPASS_REDIS_URL":    os.Getenv("HALLPASS_TEST_REDIS_URL"),
		"HALLPASS_MASTER_KEY":   "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"HALLPASS_LISTEN":       public,
		"HALLPASS_LOG_LEVEL":    "warn",
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, func(k string) string { return env[k] }, strings.NewReader(""), io.Discard, io.Discard)
	}()
	defer func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("serve exited %d", code)
			}
		case <-time.After(30 * time.Second):
			t.Error("serve did not stop")
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get("http://" + public + "/healthz")
		if err == nil {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not come up: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/heap", "/bench/ceiling"} {
		if code, _ := get(t, "http://"+public+path); code != 404 {
			t.Errorf("public %s: %d, want 404", path, code)
		}
	}
	code, body := get(t, "http://"+admin+"/metrics")
	if code != 200 {
		t.Fatalf("admin /metrics: %d", code)
	}
	for _, want := range []string{
		`hallpass_http_requests_total{app="platform",route="/healthz",method="GET",status="200"}`,
		"hallpass_pg_pool_max_conns ",
		"hallpass_redis_pool_total_conns ",
		"hallpass_argon2_duration_seconds_count ",
		`hallpass_tenant_cache_requests_total{result="hit"}`,
		"go_goroutines ",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("admin /metrics lacks %s", want)
		}
	}
	if code, body := get(t, "http://"+admin+"/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("admin /debug/pprof/: %d", code)
	}
	if code, _ := get(t, "http://"+admin+"/debug/pprof/heap?gc=1"); code != 200 {
		t.Errorf("admin heap profile: %d", code)
	}
	if code, _ := get(t, "http://"+admin+"/console/"); code != 404 {
		t.Errorf("admin listener serves the console: %d", code)
	}
}

func TestAdminHandlerRoutes(t *testing.T) {
	srv := httptest.NewServer(adminHandler(metrics.NewRegistry()))
	defer srv.Close()
	for path, want := range map[string]int{
		"/":                              200,
		"/metrics":                       200,
		"/debug/pprof/":                  200,
		"/debug/pprof/cmdline":           200,
		"/debug/pprof/goroutine":         200,
		"/t/demo/_allauth/app/v1/config": 404,
	} {
		if code, _ := get(t, srv.URL+path); code != want {
			t.Errorf("%s: %d, want %d", path, code, want)
		}
	}
}

func TestBenchCeilingEnv(t *testing.T) {
	t.Setenv(benchCeilingEnv, "")
	if benchCeilingEnabled() {
		t.Fatal("on without the variable")
	}
	t.Setenv(benchCeilingEnv, "true")
	if benchCeilingEnabled() {
		t.Fatal("only 1 turns it on")
	}
	t.Setenv(benchCeilingEnv, "1")
	if !benchCeilingEnabled() {
		t.Fatal("1 does not turn it on")
	}
}
