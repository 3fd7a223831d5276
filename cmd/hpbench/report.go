package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is everything one run measured; written as JSON so runs compare.
type Report struct {
	Started  time.Time               `json:"started"`
	Seconds  float64                 `json:"seconds"`
	Machine  Machine                 `json:"machine"`
	Config   Config                  `json:"config"`
	Argon2   *Argon2Limit            `json:"argon2_limit,omitempty"`
	Signing  map[string]SigningLimit `json:"signing_limits,omitempty"`
	Results  []*Result               `json:"scenarios"`
	Tenants  *TenantCache            `json:"tenant_cache,omitempty"`
	Soak     *Soak                   `json:"soak,omitempty"`
	Ratios   []Ratio                 `json:"ratios"`
	Setup    map[string]float64      `json:"setup_seconds,omitempty"`
	Warnings []string                `json:"warnings,omitempty"`
}

// Machine describes where the numbers came from.
type Machine struct {
	Cores     int    `json:"cores"`
	CPU       string `json:"cpu"`
	MemoryMiB int64  `json:"memory_mib"`
	Kernel    string `json:"kernel"`
	Go        string `json:"go"`
	// 1-minute load average when the run started and ended: anything
	// well above what the bench itself causes means others shared the cores.
	LoadStart float64 `json:"loadavg_start"`
	LoadEnd   float64 `json:"loadavg_end"`
}

// Result is one scenario.
type Result struct {
	ID    string `json:"id"`    // a, b, c, d, e, f
	Name  string `json:"name"`  // e.g. "refresh EdDSA"
	Route string `json:"route"` // what was requested
	Run
	Server  map[string]float64 `json:"server,omitempty"` // from /metrics deltas
	Profile []string           `json:"profiles,omitempty"`
}

// served is how many requests the server answered between the metric
// scrapes around a run: warmup included, for per-request ratios of the
// server's counters (pg/req, bytes/req). Reports without the count fall
// back to the measured requests.
func (r *Result) served() int64 {
	if r.Completed > 0 {
		return r.Completed
	}
	return r.Requests
}

// TenantCache is (e)'s resolution and memory figures.
type TenantCache struct {
	Tenants int `json:"tenants"`
	// In the bench process: tenants.Resolver.BySlug over a tenants.Cache
	// holding every tenant (what the server's middleware calls).
	InProcessP50US       float64 `json:"inprocess_hit_p50_us"`
	InProcessP99US       float64 `json:"inprocess_hit_p99_us"`
	InProcessP99ParUS    float64 `json:"inprocess_hit_p99_parallel_us"`
	InProcessBytesPer    float64 `json:"inprocess_bytes_per_tenant"`
	InProcessMissP50US   float64 `json:"inprocess_miss_p50_us"`
	InProcessMissP99US   float64 `json:"inprocess_miss_p99_us"`
	ServerHeapBytesPer   float64 `json:"server_heap_bytes_per_tenant,omitempty"`
	ServerHitRate        float64 `json:"server_hit_rate,omitempty"`
	ServerHitRateCounted bool    `json:"server_hit_rate_counted"`
}

// Soak is the steady-state run watching heap and goroutines.
type Soak struct {
	Seconds  float64      `json:"seconds"`
	Requests int64        `json:"requests"`
	Errors   int64        `json:"errors"`
	Samples  []SoakSample `json:"samples"`
	// HeapGrowth is the last sample's live heap over the first's, minus one.
	HeapGrowth      float64 `json:"heap_growth"`
	GoroutineGrowth float64 `json:"goroutine_growth"`
	Verdict         string  `json:"verdict"`
}

// SoakSample is one scrape after a forced GC.
type SoakSample struct {
	At         float64 `json:"at_seconds"`
	HeapAlloc  float64 `json:"heap_alloc_bytes"`
	HeapInuse  float64 `json:"heap_inuse_bytes"`
	Goroutines float64 `json:"goroutines"`
	RSS        float64 `json:"rss_bytes"`
}

// Ratio is one target check.
type Ratio struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Target string  `json:"target"`
	Met    bool    `json:"met"`
	Detail string  `json:"detail,omitempty"`
}

func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryMiB = kb / 1024
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}

func us(v float64) string {
	switch {
	case v == 0:
		return "-"
	case v < 1000:
		return fmt.Sprintf("%.0fµs", v)
	case v < 100_000:
		return fmt.Sprintf("%.2fms", v/1000)
	default:
		return fmt.Sprintf("%.0fms", v/1000)
	}
}

// print writes the human-readable tables.
func (r *Report) print(w io.Writer) {
	fmt.Fprintf(w, "\nhpbench — %d cores (%s), %s, %s, load average %.2f → %.2f\n", r.Machine.Cores, r.Machine.CPU, r.Machine.Go, r.Started.Format(time.RFC3339), r.Machine.LoadStart, r.Machine.LoadEnd)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "id\tscenario\tmode\tconc\treq/s\tp50\tp95\tp99\tmax\terrors\tCPU srv/gen/all\tsrv mean\tpg/req\t")
	for _, res := range r.Results {
		mode := res.Mode
		if mode == "open" {
			mode = fmt.Sprintf("open@%.0f/s", res.Rate)
		}
		errs := fmt.Sprint(res.Errors)
		if res.Dropped > 0 {
			errs += fmt.Sprintf("+%d dropped", res.Dropped)
		}
		mean := "-"
		srv := "-"
		if v, ok := res.Server["cpu_cores"]; ok {
			srv = fmt.Sprintf("%.2f", v)
		}
		cpu := fmt.Sprintf("%s/%.2f/%.2f", srv, res.Server["bench_cpu_cores"], res.Server["machine_cpu_cores"])
		if v, ok := res.Server["mean_us"]; ok {
			mean = us(v)
		}
		pg := "-"
		if v, ok := res.Server["pg_acquires"]; ok && res.served() > 0 {
			pg = fmt.Sprintf("%.2f", v/float64(res.served()))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", res.ID, res.Name, mode, res.Concurrency,
			res.OKRPS, us(res.Latency.P50), us(res.Latency.P95), us(res.Latency.P99), us(res.Latency.Max), errs, cpu, mean, pg)
	}
	tw.Flush()
	fmt.Fprintln(w, "req/s counts answers with the expected status; CPU srv/gen/all = cores busy in the server, in hpbench, on the whole machine (the rest: Postgres, Redis, anything else running); srv mean = the server's own mean latency for the route; pg/req = Postgres pool acquires per request the server answered, warmup included (both from /metrics).")
	if r.Argon2 != nil {
		a := r.Argon2
		fmt.Fprintf(w, "\nargon2 limit: %s verify %s (median of %d) → %d cores ÷ that = %.1f/s (measured %.1f/s with %d goroutines)\n",
			a.Params, us(a.VerifyUS), a.Samples, a.Cores, a.Limit, a.Parallel, a.Cores)
	}
	if len(r.Signing) > 0 {
		fmt.Fprintln(w, "signing limits (golang-jwt, one refresh = verify + 2 signs):")
		for _, alg := range sortedKeys(r.Signing) {
			s := r.Signing[alg]
			fmt.Fprintf(w, "  %-6s sign %s verify %s per refresh %s → %.0f refresh/s on %d cores (sign only %.0f/s)\n",
				alg, us(s.SignUS), us(s.VerifyUS), us(s.PerRefreshUS), s.Limit, s.Cores, s.SignOnlyLimit)
		}
	}
	if t := r.Tenants; t != nil {
		fmt.Fprintf(w, "tenant cache (%d tenants): in-process hit p50 %s p99 %s (p99 %s with %d goroutines), miss p50 %s p99 %s, %.0f B/tenant in-process",
			t.Tenants, us(t.InProcessP50US), us(t.InProcessP99US), us(t.InProcessP99ParUS), r.Machine.Cores, us(t.InProcessMissP50US), us(t.InProcessMissP99US), t.InProcessBytesPer)
		if t.ServerHeapBytesPer != 0 {
			fmt.Fprintf(w, ", %.0f B/tenant server heap", t.ServerHeapBytesPer)
		}
		if t.ServerHitRateCounted {
			fmt.Fprintf(w, ", server hit rate %.2f%%", 100*t.ServerHitRate)
		}
		fmt.Fprintln(w)
	}
	if s := r.Soak; s != nil && len(s.Samples) > 0 {
		f, l := s.Samples[0], s.Samples[len(s.Samples)-1]
		fmt.Fprintf(w, "soak %.0fs (%d requests, %d errors): live heap %.1f → %.1f MiB, goroutines %.0f → %.0f, RSS %.1f → %.1f MiB: %s\n",
			s.Seconds, s.Requests, s.Errors, f.HeapAlloc/(1<<20), l.HeapAlloc/(1<<20), f.Goroutines, l.Goroutines, f.RSS/(1<<20), l.RSS/(1<<20), s.Verdict)
	}
	fmt.Fprintln(w, "\ntargets:")
	for _, ra := range r.Ratios {
		verdict := "met"
		if !ra.Met {
			verdict = "NOT met"
		}
		fmt.Fprintf(w, "  %-44s %10.3f  target %-14s %-8s %s\n", ra.Name, ra.Value, ra.Target, verdict, ra.Detail)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintln(w, "warning:", warn)
	}
}

func (r *Report) writeJSON(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// machineCPU is the machine's busy CPU time so far, from /proc/stat
// (user+nice+system+irq+softirq+steal), and whether it could be read.
func machineCPU() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, false
	}
	var busy int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
		var v int64
		if _, err := fmt.Sscan(f[i], &v); err != nil {
			return 0, false
		}
		busy += v
	}
	return time.Duration(busy) * time.Second / 100, true // USER_HZ is 100 on Linux
}

// loadAvg is the 1-minute load average.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var v float64
	_, _ = fmt.Sscan(string(b), &v)
	return v
}
