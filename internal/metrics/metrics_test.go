package metrics

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	commentLine = regexp.MustCompile(`^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$`)
	sampleLine  = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:\\.|[^"\\])*"(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:\\.|[^"\\])*")*\})? (\S+)$`)
	labelPair   = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:\\.|[^"\\])*)"`)
)

type series struct {
	name   string
	labels map[string]string
	value  float64
}

// parseExposition checks text against the Prometheus text format (0.0.4)
// strictly enough to catch what a scraper rejects: malformed lines, a
// sample without a TYPE, a family declared twice or interleaved, bad
// values, non-cumulative histogram buckets or a +Inf bucket that is not
// the count. A summary's _sum and _count samples belong to its family (the
// Go collector's go_gc_duration_seconds is one).
func parseExposition(t *testing.T, text string) []series {
	t.Helper()
	if !strings.HasSuffix(text, "\n") {
		t.Fatal("exposition does not end with a newline")
	}
	types := map[string]string{}
	closed := map[string]bool{}
	var current string
	var out []series
	family := func(name string) string {
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suf); ok && (types[base] == "histogram" || suf != "_bucket" && types[base] == "summary") {
				return base
			}
		}
		return name
	}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		n := i + 1
		if m := commentLine.FindStringSubmatch(line); m != nil {
			if m[1] == "TYPE" {
				if _, dup := types[m[2]]; dup {
					t.Fatalf("line %d: TYPE of %s declared twice", n, m[2])
				}
				switch m[3] {
				case "counter", "gauge", "histogram", "summary", "untyped":
				default:
					t.Fatalf("line %d: bad type %q", n, m[3])
				}
				types[m[2]] = m[3]
			}
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("line %d is not a valid sample: %q", n, line)
		}
		fam := family(m[1])
		if _, ok := types[fam]; !ok {
			t.Fatalf("line %d: sample of %s before its TYPE", n, m[1])
		}
		if fam != current {
			if closed[fam] {
				t.Fatalf("line %d: family %s interleaved with another", n, fam)
			}
			if current != "" {
				closed[current] = true
			}
			current = fam
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("line %d: value %q: %v", n, m[3], err)
		}
		s := series{name: m[1], labels: map[string]string{}, value: v}
		for _, p := range labelPair.FindAllStringSubmatch(m[2], -1) {
			if _, dup := s.labels[p[1]]; dup {
				t.Fatalf("line %d: label %s twice", n, p[1])
			}
			s.labels[p[1]] = p[2]
		}
		out = append(out, s)
	}
	checkHistograms(t, types, out)
	return out
}

func checkHistograms(t *testing.T, types map[string]string, all []series) {
	t.Helper()
	key := func(s series) string {
		var parts []string
		for k, v := range s.labels {
			if k != "le" {
				parts = append(parts, k+"="+v)
			}
		}
		sortStrings(parts)
		return strings.Join(parts, ",")
	}
	for name, typ := range types {
		if typ != "histogram" {
			continue
		}
		last := map[string]float64{}
		inf := map[string]float64{}
		count := map[string]float64{}
		for _, s := range all {
			switch s.name {
			case name + "_bucket":
				k := key(s)
				if s.value < last[k] {
					t.Fatalf("%s{%s}: buckets not cumulative", name, k)
				}
				last[k] = s.value
				if s.labels["le"] == "+Inf" {
					inf[k] = s.value
				}
			case name + "_count":
				count[key(s)] = s.value
			}
		}
		for k, c := range count {
			if inf[k] != c {
				t.Fatalf("%s{%s}: +Inf bucket %v != count %v", name, k, inf[k], c)
			}
		}
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func find(all []series, name string, labels map[string]string) (float64, bool) {
next:
	for _, s := range all {
		if s.name != name {
			continue
		}
		for k, v := range labels {
			if s.labels[k] != v {
				continue next
			}
		}
		return s.value, true
	}
	return 0, false
}

func TestExpositionParsesAndCountsARequest(t *testing.T) {
	r := NewRegistry()
	route := `/_allauth/:client/v1/auth/session`
	r.ObserveRequest("tenant", route, "GET", 200, 3*time.Millisecond)
	r.ObserveRequest("tenant", route, "GET", 200, 40*time.Microsecond)
	r.ObserveRequest("tenant", route, "GET", 401, time.Millisecond)
	r.ObserveRequest("platform", `/with "quotes" and \ and`+"\n", "POST", 500, 2*time.Second)
	r.ObserveArgon2(30 * time.Millisecond)
	r.TenantCache(true)
	r.TenantCache(true)
	r.TenantCache(false)
	r.SessionCache(false)
	r.Collect("test", func(e *Emitter) { e.Gauge("test_gauge", "A gauge\nwith a newline.", 1.5, Label{"k", "v"}) })

	var buf bytes.Buffer
	if _, err := r.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	all := parseExposition(t, buf.String())

	ok200 := map[string]string{"app": "tenant", "route": route, "method": "GET", "status": "200"}
	for name, want := range map[string]float64{
		"hallpass_http_requests_total":                 2,
		"hallpass_http_request_duration_seconds_count": 2,
	} {
		if v, ok := find(all, name, ok200); !ok || v != want {
			t.Errorf("%s%v = %v (found %v), want %v", name, ok200, v, ok, want)
		}
	}
	le := func(b string) map[string]string {
		m := map[string]string{"le": b}
		for k, v := range ok200 {
			m[k] = v
		}
		return m
	}
	if v, _ := find(all, "hallpass_http_request_duration_seconds_bucket", le("5e-05")); v != 1 {
		t.Errorf("40µs not in the 50µs bucket: %v", v)
	}
	if v, _ := find(all, "hallpass_http_request_duration_seconds_bucket", le("0.0025")); v != 1 {
		t.Errorf("the 2.5ms bucket should hold only the 40µs request: %v", v)
	}
	if v, _ := find(all, "hallpass_http_request_duration_seconds_bucket", le("0.005")); v != 2 {
		t.Errorf("the 5ms bucket should hold both: %v", v)
	}
	if v, _ := find(all, "hallpass_http_request_duration_seconds_sum", ok200); v < 0.003 || v > 0.0031 {
		t.Errorf("sum %v, want 0.00304", v)
	}
	if v, ok := find(all, "hallpass_http_requests_total", map[string]string{"app": "platform", "status": "500"}); !ok || v != 1 {
		t.Errorf("escaped route not counted: %v %v", v, ok)
	}
	if !strings.Contains(buf.String(), `route="/with \"quotes\" and \\ and\n"`) {
		t.Errorf("label value not escaped:\n%s", buf.String())
	}
	for _, c := range []struct {
		name, result string
		want         float64
	}{
		{"hallpass_tenant_cache_requests_total", "hit", 2},
		{"hallpass_tenant_cache_requests_total", "miss", 1},
		{"hallpass_session_cache_requests_total", "hit", 0},
		{"hallpass_session_cache_requests_total", "miss", 1},
	} {
		if v, _ := find(all, c.name, map[string]string{"result": c.result}); v != c.want {
			t.Errorf("%s{result=%s} = %v, want %v", c.name, c.result, v, c.want)
		}
	}
	if v, _ := find(all, "hallpass_argon2_duration_seconds_count", nil); v != 1 {
		t.Errorf("argon2 count %v", v)
	}
	if v, _ := find(all, "test_gauge", map[string]string{"k": "v"}); v != 1.5 {
		t.Errorf("collector gauge %v", v)
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "go_gc_cycles_total"} {
		if _, ok := find(all, name, nil); !ok {
			t.Errorf("%s missing", name)
		}
	}
}

func TestEmptyRegistryParses(t *testing.T) {
	var buf bytes.Buffer
	if _, err := NewRegistry().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	parseExposition(t, buf.String())
}

func TestHooksWriteToDefault(t *testing.T) {
	var before bytes.Buffer
	_, _ = Default.WriteTo(&before)
	b := parseExposition(t, before.String())
	ObserveArgon2(20 * time.Millisecond)
	TenantCacheHit()
	TenantCacheMiss()
	SessionCacheHit()
	SessionCacheMiss()
	var after bytes.Buffer
	_, _ = Default.WriteTo(&after)
	a := parseExposition(t, after.String())
	for _, c := range []struct {
		name   string
		labels map[string]string
	}{
		{"hallpass_argon2_duration_seconds_count", nil},
		{"hallpass_tenant_cache_requests_total", map[string]string{"result": "hit"}},
		{"hallpass_tenant_cache_requests_total", map[string]string{"result": "miss"}},
		{"hallpass_session_cache_requests_total", map[string]string{"result": "hit"}},
		{"hallpass_session_cache_requests_total", map[string]string{"result": "miss"}},
	} {
		x, _ := find(b, c.name, c.labels)
		y, _ := find(a, c.name, c.labels)
		if y-x < 1 {
			t.Errorf("%s%v did not move: %v → %v", c.name, c.labels, x, y)
		}
	}
}

// The label set stays bounded however many routes a caller invents, and
// methods outside the fixed set fold into OTHER.
func TestCardinalityIsBounded(t *testing.T) {
	r := NewRegistry()
	for i := range maxHTTPSeries + 500 {
		r.ObserveRequest("tenant", fmt.Sprintf("/r%d", i), HTTPMethod("BREW"), 200, time.Millisecond)
	}
	var n int
	r.httpSeries.Range(func(k, _ any) bool {
		n++
		if k.(httpKey).method != "OTHER" {
			t.Errorf("method %q not folded", k.(httpKey).method)
		}
		return true
	})
	if n > maxHTTPSeries+1 {
		t.Fatalf("%d series, cap %d (+1 for route=other)", n, maxHTTPSeries)
	}
	var buf bytes.Buffer
	_, _ = r.WriteTo(&buf)
	if want := `hallpass_http_requests_total{app="tenant",route="other",method="OTHER",status="200"} 500` + "\n"; !strings.Contains(buf.String(), want) {
		t.Fatalf("no overflow series %q", want)
	}
}

func TestConcurrentObserveAndScrape(t *testing.T) {
	r := NewRegistry()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				r.ObserveRequest("tenant", fmt.Sprintf("/r%d", i%7), "GET", 200+g%2, time.Duration(i)*time.Microsecond)
			}
		}()
	}
	for range 20 {
		var buf bytes.Buffer
		_, _ = r.WriteTo(&buf)
		parseExposition(t, buf.String())
	}
	wg.Wait()
	var buf bytes.Buffer
	_, _ = r.WriteTo(&buf)
	all := parseExposition(t, buf.String())
	var total float64
	for _, s := range all {
		if s.name == "hallpass_http_requests_total" {
			total += s.value
		}
	}
	if total != 8*2000 {
		t.Fatalf("counted %v requests, want %d", total, 8*2000)
	}
}

func TestHandler(t *testing.T) {
	r := NewRegistry()
	r.ObserveRequest("platform", "/healthz", "GET", 200, time.Millisecond)
	srv := httptest.NewServer(r.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != ContentType {
		t.Fatalf("GET: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	res2, err := http.Post(srv.URL, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", res2.StatusCode)
	}
}
