// Package metrics keeps the process's operational metrics and writes them in
// the Prometheus text exposition format (version 0.0.4), without a client
// library: counters, histograms and gauges read at scrape time.
//
// The hot paths (a request, a password hash, a cache lookup) only touch
// atomics. Label sets are bounded by construction: HTTP series are keyed by
// the router's route pattern, never the raw path, and a Registry caps the
// number of HTTP series (extra ones are folded into route="other").
//
// Other packages report through the package-level hooks (ObserveArgon2,
// TenantCacheHit, ...), which write to Default; they need no Prometheus types.
package metrics

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// ContentType is the media type of the text exposition format.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Buckets (upper bounds, seconds).
var (
	// HTTPBuckets spans a cached lookup (tens of µs) to a slow password hash.
	HTTPBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	// Argon2Buckets spans argon2id at OWASP parameters on slow to fast cores.
	Argon2Buckets = []float64{0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5}
)

// maxHTTPSeries caps distinct (app, route, method, status) label sets.
const maxHTTPSeries = 2000

// Registry holds one process's metrics.
type Registry struct {
	start time.Time

	httpSeries sync.Map // httpKey → *httpSeries
	httpCount  atomic.Int64

	argon2 *Histogram

	tenantHits, tenantMisses   atomic.Uint64
	sessionHits, sessionMisses atomic.Uint64
	localHits, localMisses     atomic.Uint64
	localStrikes, localLapses  atomic.Uint64

	mu         sync.Mutex
	collectors []namedCollector
}

type namedCollector struct {
	name string
	fn   func(*Emitter)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{start: time.Now(), argon2: NewHistogram(Argon2Buckets)}
}

// Default is the registry the package-level hooks write to and the admin
// listener serves.
var Default = NewRegistry()

// ObserveArgon2 records the duration of one argon2id derivation (a hash or
// a verify) on Default.
func ObserveArgon2(d time.Duration) { Default.argon2.Observe(d) }

// TenantCacheHit counts a tenant served from the in-process cache (Default).
func TenantCacheHit() { Default.tenantHits.Add(1) }

// TenantCacheMiss counts a tenant the cache had to load (Default).
func TenantCacheMiss() { Default.tenantMisses.Add(1) }

// SessionCacheHit counts a session found in the Redis cache (Default).
func SessionCacheHit() { Default.sessionHits.Add(1) }

// SessionCacheMiss counts a session read from Postgres after a Redis miss (Default).
func SessionCacheMiss() { Default.sessionMisses.Add(1) }

// SessionLocalCache counts a session lookup in the process's own memory
// (Default): hit means Redis was not asked.
func SessionLocalCache(hit bool) {
	if hit {
		Default.localHits.Add(1)
	} else {
		Default.localMisses.Add(1)
	}
}

// SessionLocalStrike counts a node struck from the local session cache's
// nodes set for not acknowledging a change (Default).
func SessionLocalStrike() { Default.localStrikes.Add(1) }

// SessionLocalLapse counts this process giving up its local session
// cache's lease (subscription lost, renewal refused or unanswered ping)
// (Default).
func SessionLocalLapse() { Default.localLapses.Add(1) }

// ObserveArgon2 records one argon2id derivation on r.
func (r *Registry) ObserveArgon2(d time.Duration) { r.argon2.Observe(d) }

// TenantCache counts a tenant cache lookup on r.
func (r *Registry) TenantCache(hit bool) {
	if hit {
		r.tenantHits.Add(1)
	} else {
		r.tenantMisses.Add(1)
	}
}

// SessionCache counts a session cache lookup on r.
func (r *Registry) SessionCache(hit bool) {
	if hit {
		r.sessionHits.Add(1)
	} else {
		r.sessionMisses.Add(1)
	}
}

// Collect adds a function run at every scrape (pool statistics and the
// like). A later registration under the same name replaces the earlier one.
func (r *Registry) Collect(name string, fn func(*Emitter)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, c := range r.collectors {
		if c.name == name {
			r.collectors[i].fn = fn
			return
		}
	}
	r.collectors = append(r.collectors, namedCollector{name, fn})
}

// --- HTTP ---------------------------------------------------------------------

type httpKey struct {
	app, route, method string
	status             int
}

type httpSeries struct {
	hist *Histogram
}

// HTTPMethod maps a request method onto a fixed set (anything else is
// "OTHER"), so a client cannot grow the label set, and so the label never
// aliases a request buffer.
func HTTPMethod(m string) string {
	switch m {
	case "GET":
		return "GET"
	case "HEAD":
		return "HEAD"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "PATCH":
		return "PATCH"
	case "DELETE":
		return "DELETE"
	case "OPTIONS":
		return "OPTIONS"
	}
	return "OTHER"
}

// ObserveRequest records one HTTP request. app is the serving app
// ("platform" or "tenant"), route the router's pattern (never a raw path),
// method one of HTTPMethod's values. The strings must not alias request
// buffers.
func (r *Registry) ObserveRequest(app, route, method string, status int, d time.Duration) {
	k := httpKey{app, route, method, status}
	v, ok := r.httpSeries.Load(k)
	if !ok {
		if r.httpCount.Load() >= maxHTTPSeries {
			k.route = "other"
		}
		var loaded bool
		v, loaded = r.httpSeries.LoadOrStore(k, &httpSeries{hist: NewHistogram(HTTPBuckets)})
		if !loaded {
			r.httpCount.Add(1)
		}
	}
	v.(*httpSeries).hist.Observe(d)
}

// --- Histogram ----------------------------------------------------------------

// Histogram counts observations into fixed buckets; safe for concurrent use.
type Histogram struct {
	bounds []float64 // seconds, ascending
	counts []atomic.Uint64
	sumNs  atomic.Int64
	count  atomic.Uint64
}

// NewHistogram returns a histogram with the given upper bounds (seconds);
// +Inf is implicit.
func NewHistogram(bounds []float64) *Histogram {
	b := slices.Clone(bounds)
	sort.Float64s(b)
	return &Histogram{bounds: b, counts: make([]atomic.Uint64, len(b)+1)}
}

// Observe records d.
func (h *Histogram) Observe(d time.Duration) {
	s := d.Seconds()
	i := sort.SearchFloat64s(h.bounds, s) // first bound >= s
	h.counts[i].Add(1)
	h.sumNs.Add(int64(d))
	h.count.Add(1)
}

// Count is the number of observations.
func (h *Histogram) Count() uint64 { return h.count.Load() }

// snapshot returns cumulative bucket counts (last is +Inf), the sum in
// seconds and the count, consistent with each other.
func (h *Histogram) snapshot() (cum []uint64, sum float64, count uint64) {
	cum = make([]uint64, len(h.counts))
	var acc uint64
	for i := range h.counts {
		acc += h.counts[i].Load()
		cum[i] = acc
	}
	// Observations landing between reads could make count exceed +Inf; the
	// format wants them equal, so count is the +Inf bucket.
	return cum, time.Duration(h.sumNs.Load()).Seconds(), acc
}

// --- exposition ---------------------------------------------------------------

// Label is one name="value" pair.
type Label struct{ Name, Value string }

// Emitter writes metric families in the text format. Families must be
// emitted whole (all samples of a name together).
type Emitter struct {
	w    *bufio.Writer
	seen map[string]bool
}

func (e *Emitter) header(name, help, typ string) {
	if e.seen[name] {
		return
	}
	e.seen[name] = true
	fmt.Fprintf(e.w, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
}

func (e *Emitter) sample(name string, labels []Label, v float64) {
	e.w.WriteString(name)
	if len(labels) > 0 {
		e.w.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				e.w.WriteByte(',')
			}
			e.w.WriteString(l.Name)
			e.w.WriteString(`="`)
			e.w.WriteString(escapeLabel(l.Value))
			e.w.WriteByte('"')
		}
		e.w.WriteByte('}')
	}
	e.w.WriteByte(' ')
	e.w.WriteString(formatFloat(v))
	e.w.WriteByte('\n')
}

// Gauge writes one gauge sample.
func (e *Emitter) Gauge(name, help string, v float64, labels ...Label) {
	e.header(name, help, "gauge")
	e.sample(name, labels, v)
}

// Counter writes one counter sample (name should end in _total).
func (e *Emitter) Counter(name, help string, v float64, labels ...Label) {
	e.header(name, help, "counter")
	e.sample(name, labels, v)
}

// Histogram writes one histogram's _bucket, _sum and _count samples.
func (e *Emitter) Histogram(name, help string, h *Histogram, labels ...Label) {
	e.header(name, help, "histogram")
	cum, sum, count := h.snapshot()
	ls := make([]Label, len(labels)+1)
	copy(ls, labels)
	for i, b := range h.bounds {
		ls[len(labels)] = Label{"le", formatFloat(b)}
		e.sample(name+"_bucket", ls, float64(cum[i]))
	}
	ls[len(labels)] = Label{"le", "+Inf"}
	e.sample(name+"_bucket", ls, float64(cum[len(cum)-1]))
	e.sample(name+"_sum", labels, sum)
	e.sample(name+"_count", labels, float64(count))
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }

// WriteTo writes every metric of r in the text exposition format.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	e := &Emitter{w: bufio.NewWriterSize(cw, 32<<10), seen: map[string]bool{}}

	r.writeHTTP(e)
	e.Histogram("hallpass_argon2_duration_seconds", "Time of one argon2id password derivation (hash or verify).", r.argon2)
	for _, c := range []struct {
		name, help string
		hit, miss  uint64
	}{
		{"hallpass_tenant_cache_requests_total", "Tenant lookups by whether the in-process cache answered.", r.tenantHits.Load(), r.tenantMisses.Load()},
		{"hallpass_session_cache_requests_total", "Session lookups by whether the Redis cache answered (miss: read from Postgres).", r.sessionHits.Load(), r.sessionMisses.Load()},
		{"hallpass_session_local_cache_requests_total", "Session lookups by whether the process's own memory answered (miss: Redis asked).", r.localHits.Load(), r.localMisses.Load()},
	} {
		e.Counter(c.name, c.help, float64(c.hit), Label{"result", "hit"})
		e.Counter(c.name, c.help, float64(c.miss), Label{"result", "miss"})
	}
	e.Counter("hallpass_session_local_strikes_total", "Nodes this process struck from the local session cache for not acknowledging a change in time (each makes the change wait out a lease).", float64(r.localStrikes.Load()))
	e.Counter("hallpass_session_local_lapses_total", "Times this process stopped answering sessions from memory (subscription lost, renewal refused, ping unanswered).", float64(r.localLapses.Load()))
	r.mu.Lock()
	collectors := slices.Clone(r.collectors)
	r.mu.Unlock()
	for _, c := range collectors {
		c.fn(e)
	}
	writeRuntime(e, r.start)
	if err := e.w.Flush(); err != nil {
		return cw.n, err
	}
	return cw.n, cw.err
}

func (r *Registry) writeHTTP(e *Emitter) {
	type row struct {
		k httpKey
		s *httpSeries
	}
	var rows []row
	r.httpSeries.Range(func(k, v any) bool {
		rows = append(rows, row{k.(httpKey), v.(*httpSeries)})
		return true
	})
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i].k, rows[j].k
		if a.app != b.app {
			return a.app < b.app
		}
		if a.route != b.route {
			return a.route < b.route
		}
		if a.method != b.method {
			return a.method < b.method
		}
		return a.status < b.status
	})
	labels := func(k httpKey) []Label {
		return []Label{{"app", k.app}, {"route", k.route}, {"method", k.method}, {"status", strconv.Itoa(k.status)}}
	}
	const countHelp = "HTTP requests answered, by app (platform or tenant), route pattern, method and status."
	if len(rows) == 0 {
		e.header("hallpass_http_requests_total", countHelp, "counter")
	}
	for _, rw := range rows {
		e.Counter("hallpass_http_requests_total", countHelp, float64(rw.s.hist.Count()), labels(rw.k)...)
	}
	const durHelp = "Time from the first middleware to the response being ready, by app, route pattern, method and status."
	if len(rows) == 0 {
		e.header("hallpass_http_request_duration_seconds", durHelp, "histogram")
	}
	for _, rw := range rows {
		e.Histogram("hallpass_http_request_duration_seconds", durHelp, rw.s.hist, labels(rw.k)...)
	}
}

// writeRuntime writes the Go runtime and process figures the bench reads:
// goroutines, heap, GC, CPU time and resident memory.
func writeRuntime(e *Emitter, start time.Time) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	e.Gauge("go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine()))
	e.Gauge("go_threads", "Number of OS threads created.", float64(threads()))
	e.Gauge("go_gomaxprocs", "GOMAXPROCS.", float64(runtime.GOMAXPROCS(0)))
	e.Gauge("go_memstats_heap_alloc_bytes", "Bytes of allocated heap objects.", float64(ms.HeapAlloc))
	e.Gauge("go_memstats_heap_inuse_bytes", "Bytes in in-use heap spans.", float64(ms.HeapInuse))
	e.Gauge("go_memstats_heap_objects", "Number of allocated heap objects.", float64(ms.HeapObjects))
	e.Gauge("go_memstats_sys_bytes", "Bytes of memory obtained from the OS.", float64(ms.Sys))
	e.Counter("go_memstats_alloc_bytes_total", "Cumulative bytes allocated for heap objects.", float64(ms.TotalAlloc))
	e.Counter("go_memstats_mallocs_total", "Cumulative count of heap objects allocated.", float64(ms.Mallocs))
	e.Counter("go_gc_cycles_total", "Completed GC cycles.", float64(ms.NumGC))
	e.Counter("go_gc_pause_seconds_total", "Cumulative stop-the-world GC pause time.", time.Duration(ms.PauseTotalNs).Seconds())
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		e.Counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", cpu.Seconds())
	}
	if rss, ok := residentBytes(); ok {
		e.Gauge("process_resident_memory_bytes", "Resident memory size in bytes.", float64(rss))
	}
	e.Gauge("process_start_time_seconds", "Start time of the process since the Unix epoch in seconds.", float64(start.UnixNano())/1e9)
}

func threads() int {
	n, _ := runtime.ThreadCreateProfile(nil)
	return n
}

// residentBytes reads the resident set size from /proc (Linux only).
func residentBytes() (int64, bool) {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, false
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return 0, false
	}
	return pages * int64(os.Getpagesize()), true
}

type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.w.Write(p)
	c.n += int64(n)
	c.err = err
	return n, err
}

// Handler serves r in the text exposition format (GET or HEAD).
func (r *Registry) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", ContentType)
		w.Header().Set("Cache-Control", "no-store")
		if req.Method == http.MethodHead {
			return
		}
		_, _ = r.WriteTo(w)
	})
}
