package server_test

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/api/server"
	"github.com/hallpass/hallpass/internal/metrics"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// scrapeDefault reads metrics.Default as series line prefix → value.
func scrapeDefault(t *testing.T) map[string]float64 {
	t.Helper()
	var buf bytes.Buffer
	if _, err := metrics.Default.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(buf.String(), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad metrics line %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// Requests are counted by route pattern — never the raw path, so a slug
// never becomes a label — with the status actually sent.
func TestRequestMetricsByRoutePattern(t *testing.T) {
	env := apitest.New(t, nil)
	config := `hallpass_http_requests_total{app="tenant",route="/_allauth/:client/v1/config",method="GET",status="200"}`
	absent := `hallpass_http_requests_total{app="tenant",route="/",method="GET",status="404"}`
	health := `hallpass_http_requests_total{app="platform",route="/healthz",method="GET",status="200"}`
	before := scrapeDefault(t)
	env.Do("app", "GET", "config", "").Status(200)
	env.Do("app", "GET", "config", "").Status(200)
	env.Do("app", "GET", "no/such/endpoint", "").Status(404)
	env.Raw("GET", "/healthz", "").Status(200)
	after := scrapeDefault(t)
	for series, want := range map[string]float64{config: 2, absent: 1, health: 1} {
		if got := after[series] - before[series]; got < want {
			t.Errorf("%s moved by %v, want at least %v", series, got, want)
		}
	}
	hist := `hallpass_http_request_duration_seconds_count{app="tenant",route="/_allauth/:client/v1/config",method="GET",status="200"}`
	if after[hist]-before[hist] < 2 {
		t.Errorf("latency histogram did not count the requests")
	}
	for series := range after {
		if strings.Contains(series, env.Tenant.Slug) || strings.Contains(series, "no/such") {
			t.Errorf("a raw path leaked into a label: %s", series)
		}
	}
}

// The public listener serves neither the metrics nor pprof (they are on the
// admin listener only), nor the bench route unless asked.
func TestPublicListenerHasNoAdminRoutes(t *testing.T) {
	env := apitest.New(t, nil)
	for _, path := range []string{"/metrics", "/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1", "/bench/ceiling"} {
		if res := env.Raw("GET", path, ""); res.Code != 404 {
			t.Errorf("GET %s on the public listener: %d, want 404", path, res.Code)
		}
	}
}

func TestBenchCeilingOnlyWhenConfigured(t *testing.T) {
	pool := testenv.Pool(t)
	for _, on := range []bool{false, true} {
		srv := server.New(server.Config{Log: quiet, BenchCeiling: on,
			Resolver: tenants.NewResolver(tenants.NewCache(tenants.NewStore(pool, testenv.Sealer(t), nil), time.Minute), tenants.MustAddressing("http://hallpass.test", "hallpass.test"))})
		srv.Finish()
		res, err := srv.Platform.Test(httptestRequest("GET", server.BenchCeilingPath), 10000)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch {
		case on && (res.StatusCode != 200 || string(body) != `{"status":200}`):
			t.Errorf("with BenchCeiling: %d %s", res.StatusCode, body)
		case !on && res.StatusCode != 404:
			t.Errorf("without BenchCeiling: %d, want 404", res.StatusCode)
		}
	}
}
