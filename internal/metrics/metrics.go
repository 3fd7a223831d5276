// Package metrics keeps the process's operational metrics on a Prometheus
// client registry (github.com/prometheus/client_golang) of its own — never
// the library's global one — and writes them in the Prometheus text
// exposition format (version 0.0.4): counters, histograms, gauges read at
// scrape time, and the library's Go runtime and process collectors.
//
// The hot paths (a request, a password hash, a cache lookup) touch only the
// library's atomics. Label sets are bounded by construction: HTTP series are
// keyed by the router's route pattern, never the raw path, and a Registry
// caps the number of HTTP series (extra ones are folded into route="other").
//
// Other packages report through the package-level hooks (ObserveArgon2,
// TenantCacheHit, ...), which write to Default, and add scrape-time figures
// with Collect; they need no Prometheus types.
package metrics

import (
	"io"
	"net/http"
	rtmetrics "runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
)

// ContentType is the media type of the text exposition format.
const ContentType = string(expfmt.FmtText)

// Buckets (upper bounds, seconds).
var (
	// HTTPBuckets spans a cached lookup (tens of µs) to a slow password hash.
	HTTPBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}
	// Argon2Buckets spans argon2id at OWASP parameters on slow to fast cores.
	Argon2Buckets = []float64{0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5}
)

// maxHTTPSeries caps distinct (app, route, method, status) label sets.
const maxHTTPSeries = 2000

// Names of the HTTP families, whose labels keep the order app, route,
// method, status in the exposition (see gather).
const (
	httpRequestsName = "hallpass_http_requests_total"
	httpDurationName = "hallpass_http_request_duration_seconds"
)

// httpLabels are the HTTP families' labels in exposition order.
var httpLabels = []string{"app", "route", "method", "status"}

// Registry holds one process's metrics.
type Registry struct {
	reg *prometheus.Registry

	httpSeries   sync.Map // httpKey → *httpSeries
	httpCount    atomic.Int64
	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	argon2                     prometheus.Histogram
	tenantHits, tenantMisses   prometheus.Counter
	sessionHits, sessionMisses prometheus.Counter
	localHits, localMisses     prometheus.Counter
	localStrikes, localLapses  prometheus.Counter

	funcs funcCollector
}

// NewRegistry returns a registry holding only the Go runtime and process
// collectors and the (empty) hallpass families.
func NewRegistry() *Registry {
	r := &Registry{reg: prometheus.NewRegistry()}
	r.httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: httpRequestsName,
		Help: "HTTP requests answered, by app (platform or tenant), route pattern, method and status.",
	}, httpLabels)
	r.httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    httpDurationName,
		Help:    "Time from the first middleware to the response being ready, by app, route pattern, method and status.",
		Buckets: HTTPBuckets,
	}, httpLabels)
	r.argon2 = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "hallpass_argon2_duration_seconds",
		Help:    "Time of one argon2id password derivation (hash or verify).",
		Buckets: Argon2Buckets,
	})
	hitMiss := func(name, help string) (hit, miss prometheus.Counter) {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"result"})
		r.reg.MustRegister(v)
		return v.WithLabelValues("hit"), v.WithLabelValues("miss")
	}
	r.tenantHits, r.tenantMisses = hitMiss("hallpass_tenant_cache_requests_total",
		"Tenant lookups by whether the in-process cache answered.")
	r.sessionHits, r.sessionMisses = hitMiss("hallpass_session_cache_requests_total",
		"Session lookups by whether the Redis cache answered (miss: read from Postgres).")
	r.localHits, r.localMisses = hitMiss("hallpass_session_local_cache_requests_total",
		"Session lookups by whether the process's own memory answered (miss: Redis asked).")
	r.localStrikes = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hallpass_session_local_strikes_total",
		Help: "Nodes this process struck from the local session cache for not acknowledging a change in time (each makes the change wait out a lease).",
	})
	r.localLapses = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "hallpass_session_local_lapses_total",
		Help: "Times this process stopped answering sessions from memory (subscription lost, renewal refused, ping unanswered).",
	})
	r.reg.MustRegister(
		r.httpRequests, r.httpDuration, r.argon2, r.localStrikes, r.localLapses, &r.funcs,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		// go_gc_cycles_total predates the library here (the bench reads
		// it); runtime/metrics answers without stopping the world.
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "go_gc_cycles_total", Help: "Completed GC cycles."}, gcCycles),
	)
	return r
}

func gcCycles() float64 {
	s := []rtmetrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	rtmetrics.Read(s)
	if s[0].Value.Kind() != rtmetrics.KindUint64 {
		return 0
	}
	return float64(s[0].Value.Uint64())
}

// Default is the registry the package-level hooks write to and the admin
// listener serves.
var Default = NewRegistry()

// ObserveArgon2 records the duration of one argon2id derivation (a hash or
// a verify) on Default.
func ObserveArgon2(d time.Duration) { Default.ObserveArgon2(d) }

// TenantCacheHit counts a tenant served from the in-process cache (Default).
func TenantCacheHit() { Default.tenantHits.Inc() }

// TenantCacheMiss counts a tenant the cache had to load (Default).
func TenantCacheMiss() { Default.tenantMisses.Inc() }

// SessionCacheHit counts a session found in the Redis cache (Default).
func SessionCacheHit() { Default.sessionHits.Inc() }

// SessionCacheMiss counts a session read from Postgres after a Redis miss (Default).
func SessionCacheMiss() { Default.sessionMisses.Inc() }

// SessionLocalCache counts a session lookup in the process's own memory
// (Default): hit means Redis was not asked.
func SessionLocalCache(hit bool) {
	if hit {
		Default.localHits.Inc()
	} else {
		Default.localMisses.Inc()
	}
}

// SessionLocalStrike counts a node struck from the local session cache's
// nodes set for not acknowledging a change (Default).
func SessionLocalStrike() { Default.localStrikes.Inc() }

// SessionLocalLapse counts this process giving up its local session
// cache's lease (subscription lost, renewal refused or unanswered ping)
// (Default).
func SessionLocalLapse() { Default.localLapses.Inc() }

// ObserveArgon2 records one argon2id derivation on r.
func (r *Registry) ObserveArgon2(d time.Duration) { r.argon2.Observe(d.Seconds()) }

// TenantCache counts a tenant cache lookup on r.
func (r *Registry) TenantCache(hit bool) {
	if hit {
		r.tenantHits.Inc()
	} else {
		r.tenantMisses.Inc()
	}
}

// SessionCache counts a session cache lookup on r.
func (r *Registry) SessionCache(hit bool) {
	if hit {
		r.sessionHits.Inc()
	} else {
		r.sessionMisses.Inc()
	}
}

// --- HTTP ---------------------------------------------------------------------

type httpKey struct {
	app, route, method string
	status             int
}

// httpSeries is one label set's children of the HTTP families, looked up
// once: a request then pays two atomic updates, not a label hash.
type httpSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
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
		v = r.addHTTPSeries(k)
	}
	s := v.(*httpSeries)
	s.count.Inc()
	s.duration.Observe(d.Seconds())
}

// addHTTPSeries creates k's series, or folds k into route="other" once the
// registry holds maxHTTPSeries.
func (r *Registry) addHTTPSeries(k httpKey) any {
	if r.httpCount.Load() >= maxHTTPSeries {
		k.route = "other"
		if v, ok := r.httpSeries.Load(k); ok {
			return v
		}
	}
	// The library refuses label values that are not UTF-8.
	values := []string{strings.ToValidUTF8(k.app, "\uFFFD"), strings.ToValidUTF8(k.route, "\uFFFD"), k.method, strconv.Itoa(k.status)}
	s := &httpSeries{count: r.httpRequests.WithLabelValues(values...), duration: r.httpDuration.WithLabelValues(values...)}
	v, loaded := r.httpSeries.LoadOrStore(k, s)
	if !loaded {
		r.httpCount.Add(1)
	}
	return v
}

// --- scrape-time collectors ------------------------------------------------------

// Label is one name="value" pair.
type Label struct{ Name, Value string }

// Emitter hands the samples of a Collect function to the registry. A name
// must keep one help text and one set of label names; a series (name and
// label values) is written once per scrape.
type Emitter struct {
	ch chan<- prometheus.Metric
}

// Gauge writes one gauge sample.
func (e *Emitter) Gauge(name, help string, v float64, labels ...Label) {
	e.sample(name, help, prometheus.GaugeValue, v, labels)
}

// Counter writes one counter sample (name should end in _total).
func (e *Emitter) Counter(name, help string, v float64, labels ...Label) {
	e.sample(name, help, prometheus.CounterValue, v, labels)
}

func (e *Emitter) sample(name, help string, typ prometheus.ValueType, v float64, labels []Label) {
	names := make([]string, len(labels))
	values := make([]string, len(labels))
	for i, l := range labels {
		names[i], values[i] = l.Name, l.Value
	}
	desc := prometheus.NewDesc(name, help, names, nil)
	m, err := prometheus.NewConstMetric(desc, typ, v, values...)
	if err != nil {
		m = prometheus.NewInvalidMetric(desc, err) // the scrape reports it
	}
	e.ch <- m
}

type namedCollector struct {
	name string
	fn   func(*Emitter)
}

// funcCollector runs the Collect functions at every scrape. It describes
// nothing, which makes it an unchecked collector: its families are known
// only once the functions run.
type funcCollector struct {
	mu  sync.Mutex
	fns []namedCollector
}

// Describe implements prometheus.Collector.
func (c *funcCollector) Describe(chan<- *prometheus.Desc) {}

// Collect implements prometheus.Collector.
func (c *funcCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	fns := slices.Clone(c.fns)
	c.mu.Unlock()
	e := &Emitter{ch: ch}
	for _, f := range fns {
		f.fn(e)
	}
}

// Collect adds a function run at every scrape (pool statistics and the
// like). A later registration under the same name replaces the earlier one.
func (r *Registry) Collect(name string, fn func(*Emitter)) {
	c := &r.funcs
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, f := range c.fns {
		if f.name == name {
			c.fns[i].fn = fn
			return
		}
	}
	c.fns = append(c.fns, namedCollector{name, fn})
}

// --- exposition ---------------------------------------------------------------

// gather collects every family. The library sorts label names; the HTTP
// families get back the order they have always been written in (app,
// route, method, status), which scrapers ignore but greps of /metrics rely
// on. The families are fresh copies, except their label slices, which are
// replaced rather than reordered in place.
func (r *Registry) gather() ([]*dto.MetricFamily, error) {
	mfs, err := r.reg.Gather()
	for _, mf := range mfs {
		if n := mf.GetName(); n != httpRequestsName && n != httpDurationName {
			continue
		}
		for _, m := range mf.Metric {
			ordered := make([]*dto.LabelPair, 0, len(m.Label))
			for _, name := range httpLabels {
				for _, lp := range m.Label {
					if lp.GetName() == name {
						ordered = append(ordered, lp)
					}
				}
			}
			if len(ordered) == len(m.Label) {
				m.Label = ordered
			}
		}
	}
	return mfs, err
}

// WriteTo writes every metric of r in the text exposition format. Should a
// Collect function emit an inconsistent family, the rest is still written
// and the error returned.
func (r *Registry) WriteTo(w io.Writer) (int64, error) {
	mfs, gerr := r.gather()
	cw := &countingWriter{w: w}
	enc := expfmt.NewEncoder(cw, expfmt.FmtText)
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return cw.n, err
		}
	}
	return cw.n, gerr
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Handler serves r in the text exposition format (GET or HEAD). It does
// not negotiate other formats (promhttp would, and would also add an
// escaping parameter to the media type).
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
