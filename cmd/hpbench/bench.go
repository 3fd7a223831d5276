package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"

	"github.com/hallpass/hallpass/tenants"
)

// Route patterns the server's metrics label requests with.
const (
	routeSession = `route="/_allauth/:client/v1/auth/session"`
	routeLogin   = `route="/_allauth/:client/v1/auth/login"`
	routeRefresh = `route="/_allauth/:client/v1/tokens/refresh"`
	routeConfig  = `route="/_allauth/:client/v1/config"`
)

// bencher holds one run's connections and results.
type bencher struct {
	cfg   Config
	log   io.Writer
	c     *client
	c2    *client // the -target2 process, nil without
	adm   *admin  // nil without -admin
	db    *db
	rep   *Report
	runID string
}

func bench(ctx context.Context, cfg Config, log io.Writer) (*Report, error) {
	started := time.Now()
	dial, host, err := loopbackTarget(ctx, cfg.Target, nil)
	if err != nil {
		return nil, fmt.Errorf("-target: %w", err)
	}
	b := &bencher{cfg: cfg, log: log, c: newClient(dial, host, cfg.Concurrency+8),
		rep:   &Report{Started: started.UTC(), Machine: machine(), Config: cfg, Signing: map[string]SigningLimit{}, Setup: map[string]float64{}},
		runID: fmt.Sprintf("%x", started.UnixNano())}
	if cfg.Target2 != "" {
		dial2, host2, err := loopbackTarget(ctx, cfg.Target2, nil)
		if err != nil {
			return nil, fmt.Errorf("-target2: %w", err)
		}
		b.c2 = newClient(dial2, host2, cfg.Concurrency+8)
	}
	if cfg.Admin != "" {
		adial, ahost, err := loopbackTarget(ctx, cfg.Admin, nil)
		if err != nil {
			return nil, fmt.Errorf("-admin: %w", err)
		}
		b.adm = newAdmin(adial, ahost)
	}
	if cfg.ProfileDir != "" {
		if err := os.MkdirAll(cfg.ProfileDir, 0o755); err != nil {
			return nil, err
		}
	}
	defer func() { b.rep.Seconds = time.Since(started).Seconds() }()
	if err := b.waitReady(ctx); err != nil {
		return nil, err
	}
	b.rep.Machine.LoadStart = loadAvg()
	if b.rep.Machine.LoadStart > float64(cores())/2 {
		b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("machine busy before the run: load average %.2f on %d cores; numbers will be low and noisy", b.rep.Machine.LoadStart, cores()))
	}
	defer func() { b.rep.Machine.LoadEnd = loadAvg() }()
	if cfg.DatabaseURL != "" {
		if b.db, err = openDB(ctx, cfg.DatabaseURL, cfg.MasterKey); err != nil {
			return nil, err
		}
		defer b.db.close()
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"ceiling", b.ceiling},
		{"session", b.session},
		{"jwt", b.jwt},
		{"login", b.login},
		{"refresh", b.refresh},
		{"config", b.config},
	}
	for _, s := range steps {
		if !cfg.has(s.name) {
			continue
		}
		if err := s.fn(ctx); err != nil {
			return b.rep, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	if cfg.Soak > 0 {
		if err := b.soak(ctx); err != nil {
			return b.rep, fmt.Errorf("soak: %w", err)
		}
	}
	b.ratios()
	return b.rep, nil
}

func (b *bencher) logf(format string, args ...any) {
	fmt.Fprintf(b.log, "hpbench: "+format+"\n", args...)
}

func (b *bencher) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, _, err := b.c.call("GET", "/healthz", nil)
		if err == nil && status == 200 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server at %s not ready after 30s: status %d, %v", b.cfg.Target, status, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// measureArgon2Limit and measureSigningLimit run right before the scenario
// they bound, with the server idle, so the limit and the scenario see the
// machine in the same state (on a shared machine that matters).
func (b *bencher) measureArgon2Limit(ctx context.Context) error {
	b.logf("measuring the argon2 limit")
	a, err := measureArgon2(ctx, cores(), 3*time.Second)
	if err != nil {
		return fmt.Errorf("argon2 limit: %w", err)
	}
	b.rep.Argon2 = &a
	return nil
}

func (b *bencher) measureSigningLimit(ctx context.Context, alg string) error {
	b.logf("measuring the %s signing limit", alg)
	s, err := measureSigning(ctx, alg, cores(), 600*time.Millisecond)
	if err != nil {
		return fmt.Errorf("signing limit %s: %w", alg, err)
	}
	b.rep.Signing[alg] = s
	return nil
}

func (b *bencher) limits() limits {
	return limits{warmup: b.cfg.Warmup, duration: b.cfg.Duration, maxRequests: b.cfg.MaxRequests}
}

// measure runs ops closed-loop (or open-loop at rate > 0), reading the
// server's metrics around it and profiling it when asked; route filters the
// server-side latency.
func (b *bencher) measure(ctx context.Context, id, name, route, routeLabel string, ops []op, rate float64, lim limits) (*Result, error) {
	b.logf("(%s) %s: %d workers, %s", id, name, len(ops), lim.duration)
	res := &Result{ID: id, Name: name, Route: route}
	var before Sample
	if b.adm != nil {
		var err error
		if before, err = b.adm.scrape(); err != nil {
			return nil, err
		}
	}
	var profErr error
	var profWG sync.WaitGroup
	profName := strings.NewReplacer(" ", "-", "/", "-", "@", "-").Replace(id + "-" + name)
	profile := b.cfg.ProfileDir != "" && rate == 0 && !lim.noProfile
	if profile {
		profWG.Add(1)
		go func() {
			defer profWG.Done()
			select {
			case <-time.After(lim.warmup):
			case <-ctx.Done():
				return
			}
			profErr = b.adm.profile(ctx, b.cfg.ProfileDir, profName, max(1, int(lim.duration/time.Second)-1))
		}()
	}
	cpu0, t0 := selfCPU(), time.Now()
	m0, mok := machineCPU()
	if rate > 0 {
		res.Run = openLoop(ctx, ops, rate, lim)
	} else {
		res.Run = closedLoop(ctx, ops, lim)
	}
	cpu1, secs := selfCPU(), time.Since(t0).Seconds()
	m1, _ := machineCPU()
	profWG.Wait()
	if profErr != nil {
		b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("profile %s: %v", profName, profErr))
	} else if profile {
		res.Profile = []string{profName + ".cpu.pprof", profName + ".allocs.pprof"}
	}
	res.Server = map[string]float64{"bench_cpu_cores": (cpu1 - cpu0).Seconds() / secs}
	if mok {
		res.Server["machine_cpu_cores"] = (m1 - m0).Seconds() / secs
	}
	if b.adm != nil {
		after, err := b.adm.scrape()
		if err != nil {
			return nil, err
		}
		res.Server["cpu_cores"] = delta(before, after, "process_cpu_seconds_total") / secs
		if routeLabel != "" {
			n := delta(before, after, "hallpass_http_request_duration_seconds_count", routeLabel)
			if n > 0 {
				res.Server["mean_us"] = 1e6 * delta(before, after, "hallpass_http_request_duration_seconds_sum", routeLabel) / n
			}
		}
		res.Server["pg_acquires"] = delta(before, after, "hallpass_pg_pool_acquires_total")
		res.Server["pg_empty_acquires"] = delta(before, after, "hallpass_pg_pool_empty_acquires_total")
		res.Server["pg_empty_wait_ms"] = 1e3 * delta(before, after, "hallpass_pg_pool_empty_acquire_wait_seconds_total")
		res.Server["pg_max_conns"] = after.Sum("hallpass_pg_pool_max_conns")
		res.Server["redis_pool_misses"] = delta(before, after, "hallpass_redis_pool_misses_total")
		res.Server["gc_cycles"] = delta(before, after, "go_gc_cycles_total")
		res.Server["alloc_bytes_per_req"] = 0
		if res.Requests > 0 {
			res.Server["alloc_bytes_per_req"] = delta(before, after, "go_memstats_alloc_bytes_total") / float64(res.Requests)
		}
		hits := delta(before, after, "hallpass_tenant_cache_requests_total", `result="hit"`)
		misses := delta(before, after, "hallpass_tenant_cache_requests_total", `result="miss"`)
		if hits+misses > 0 {
			res.Server["tenant_cache_hit_rate"] = hits / (hits + misses)
		}
		// A session is looked up in the process's memory, then Redis, then
		// Postgres: a hit at either cache avoids Postgres.
		lhits := delta(before, after, "hallpass_session_local_cache_requests_total", `result="hit"`)
		lmisses := delta(before, after, "hallpass_session_local_cache_requests_total", `result="miss"`)
		shits := delta(before, after, "hallpass_session_cache_requests_total", `result="hit"`)
		smisses := delta(before, after, "hallpass_session_cache_requests_total", `result="miss"`)
		if lhits+shits+smisses > 0 {
			res.Server["session_cache_hit_rate"] = (lhits + shits) / (lhits + shits + smisses)
		}
		if lhits+lmisses > 0 {
			res.Server["session_local_hit_rate"] = lhits / (lhits + lmisses)
		}
	}
	if res.Errors > 0 {
		b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("(%s) %s: %d errors, first: %s", id, name, res.Errors, res.FirstError))
	}
	b.rep.Results = append(b.rep.Results, res)
	b.logf("(%s) %s: %.0f req/s, p50 %s p99 %s, %d errors", id, name, res.OKRPS, us(res.Latency.P50), us(res.Latency.P99), res.Errors)
	return res, ctx.Err()
}

// selfCPU is this process's CPU time so far.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// users signs up n users on slug, a few at a time (each is an argon2 hash).
func (b *bencher) users(ctx context.Context, slug string, n int) ([]credentials, error) {
	start := time.Now()
	out := make([]credentials, n)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, cores()))
	for i := range out {
		g.Go(func() error {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			cr, err := b.c.signup(slug, b.runID)
			out[i] = cr
			return err
		})
	}
	err := g.Wait()
	b.rep.Setup["signup "+slug] += time.Since(start).Seconds()
	return out, err
}

// --- scenarios ----------------------------------------------------------------

// (f) the raw Fiber JSON route.
func (b *bencher) ceiling(ctx context.Context) error {
	ops := make([]op, b.cfg.Concurrency)
	for i := range ops {
		ops[i] = b.c.expect(b.c.request("GET", "/bench/ceiling", nil), 200)
	}
	// One probe first: a server without HALLPASS_BENCH_CEILING=1 answers 404.
	if err := ops[0](); err != nil {
		return fmt.Errorf("GET /bench/ceiling (is the server started with HALLPASS_BENCH_CEILING=1?): %w", err)
	}
	_, err := b.measure(ctx, "f", "ceiling: raw Fiber JSON", "GET /bench/ceiling", "", ops, 0, b.limits())
	return err
}

// (a) GET auth/session with X-Session-Token, then open-loop at a fraction
// of the peak it reached.
func (b *bencher) session(ctx context.Context) error {
	if err := b.db.ensureTenant(ctx, sessionSlug, baseSettings()); err != nil {
		return err
	}
	creds, err := b.users(ctx, sessionSlug, b.cfg.Concurrency)
	if err != nil {
		return err
	}
	path := apiPath(sessionSlug, "auth/session")
	mk := func(i int) op {
		return b.c.expect(b.c.request("GET", path, nil, "X-Session-Token", creds[i%len(creds)].session), 200)
	}
	ops := make([]op, b.cfg.Concurrency)
	for i := range ops {
		ops[i] = mk(i)
	}
	peak, err := b.measure(ctx, "a", "auth/session (session token)", "GET "+path, routeSession, ops, 0, b.limits())
	if err != nil {
		return err
	}
	if b.c2 != nil {
		// The same load split over two processes sharing Postgres and
		// Redis (even workers on -target, odd on -target2). The admin
		// metrics and profile are the first process's only.
		split := make([]op, b.cfg.Concurrency)
		for i := range split {
			c := b.c
			if i%2 == 1 {
				c = b.c2
			}
			split[i] = c.expect(c.request("GET", path, nil, "X-Session-Token", creds[i%len(creds)].session), 200)
		}
		lim := b.limits()
		lim.noProfile = true
		two, err := b.measure(ctx, "a", "auth/session, 2 processes", "GET "+path, routeSession, split, 0, lim)
		if err != nil {
			return err
		}
		if peak.OKRPS > 0 {
			b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("(a) with 2 processes: %.0f / %.0f req/s = %.2f× one process", two.OKRPS, peak.OKRPS, two.OKRPS/peak.OKRPS))
		}
	}
	if b.cfg.OpenFraction > 0 && peak.OKRPS > 0 {
		rate := b.cfg.OpenFraction * peak.OKRPS
		open := make([]op, b.cfg.Concurrency)
		for i := range open {
			open[i] = mk(i)
		}
		_, err = b.measure(ctx, "a", fmt.Sprintf("auth/session at %.0f%% of peak", 100*b.cfg.OpenFraction), "GET "+path, routeSession, open, rate, b.limits())
	}
	return err
}

// (b) GET auth/session with a JWT access token (EdDSA tenant).
func (b *bencher) jwt(ctx context.Context) error {
	slug := jwtSlug("EdDSA")
	if err := b.db.ensureTenant(ctx, slug, jwtSettings("EdDSA")); err != nil {
		return err
	}
	creds, err := b.users(ctx, slug, b.cfg.Concurrency)
	if err != nil {
		return err
	}
	path := apiPath(slug, "auth/session")
	ops := make([]op, b.cfg.Concurrency)
	for i := range ops {
		if creds[i].access == "" {
			return fmt.Errorf("signup on %s gave no access token", slug)
		}
		ops[i] = b.c.expect(b.c.request("GET", path, nil, "Authorization", "Bearer "+creds[i].access), 200)
	}
	_, err = b.measure(ctx, "b", "auth/session (JWT EdDSA)", "GET "+path, routeSession, ops, 0, b.limits())
	return err
}

// (c) POST auth/login with the right password (one argon2id verify each).
func (b *bencher) login(ctx context.Context) error {
	if err := b.db.ensureTenant(ctx, sessionSlug, baseSettings()); err != nil {
		return err
	}
	n := min(b.cfg.Concurrency, 16)
	creds, err := b.users(ctx, sessionSlug, n)
	if err != nil {
		return err
	}
	if err := b.measureArgon2Limit(ctx); err != nil {
		return err
	}
	path := apiPath(sessionSlug, "auth/login")
	ops := make([]op, b.cfg.Concurrency)
	for i := range ops {
		cr := creds[i%n]
		body := fmt.Appendf(nil, `{"email":%q,"password":%q}`, cr.email, cr.password)
		ops[i] = b.c.expect(b.c.request("POST", path, body), 200)
	}
	_, err = b.measure(ctx, "c", "auth/login (password)", "POST "+path, routeLogin, ops, 0, b.limits())
	return err
}

// (d) POST tokens/refresh with rotation, one chain per worker, per algorithm.
func (b *bencher) refresh(ctx context.Context) error {
	for _, alg := range b.cfg.Algs {
		slug := jwtSlug(alg)
		if err := b.db.ensureTenant(ctx, slug, jwtSettings(alg)); err != nil {
			return err
		}
		creds, err := b.users(ctx, slug, b.cfg.Concurrency)
		if err != nil {
			return err
		}
		if err := b.measureSigningLimit(ctx, alg); err != nil {
			return err
		}
		path := apiPath(slug, "tokens/refresh")
		ops := make([]op, b.cfg.Concurrency)
		for i := range ops {
			cr := creds[i]
			if cr.refreshToken == "" {
				return fmt.Errorf("signup on %s gave no refresh token", slug)
			}
			ch := &refreshChain{c: b.c, slug: slug, req: b.c.request("POST", path, []byte("{}")), token: []byte(cr.refreshToken)}
			ch.renew = func() (string, error) {
				status, body, err := b.c.call("POST", apiPath(slug, "auth/login"), map[string]string{"email": cr.email, "password": cr.password})
				if err != nil || status != 200 {
					return "", fmt.Errorf("re-login: %d %v", status, err)
				}
				meta, _ := body["meta"].(map[string]any)
				tok, _ := meta["refresh_token"].(string)
				return tok, nil
			}
			ops[i] = ch.op
		}
		if _, err := b.measure(ctx, "d", "tokens/refresh "+alg, "POST "+path, routeRefresh, ops, 0, b.limits()); err != nil {
			return err
		}
	}
	return nil
}

// (e) GET config over many tenants: a cold pass touching each once (cache
// misses: resolution from Postgres), then a timed warm run round-robin
// (cache hits), plus resolution and memory measured in-process.
func (b *bencher) config(ctx context.Context) error {
	n := b.cfg.Tenants
	b.logf("(e) seeding %d tenants", n)
	took, err := b.db.seedConfigTenants(ctx, n)
	if err != nil {
		return err
	}
	b.rep.Setup["seed tenants"] = took.Seconds()
	tc := &TenantCache{Tenants: n}
	b.rep.Tenants = tc

	var next atomic.Int64
	mkOps := func() []op {
		ops := make([]op, b.cfg.Concurrency)
		for i := range ops {
			req := b.c.request("GET", apiPath(configSlug(0), "config"), nil)
			resp := &fasthttp.Response{}
			ops[i] = func() error {
				k := int(next.Add(1)-1) % n
				req.SetRequestURI(b.c.base + apiPath(configSlug(k), "config"))
				if err := b.c.hc.Do(req, resp); err != nil {
					return err
				}
				if resp.StatusCode() != 200 {
					return fmt.Errorf("%w: config of %s: status %d: %.200s", errUnexpected, configSlug(k), resp.StatusCode(), resp.Body())
				}
				return nil
			}
		}
		return ops
	}

	var heap0 Sample
	if b.adm != nil {
		if heap0, err = b.adm.gcThenScrape(); err != nil {
			return err
		}
	}
	cold := limits{duration: maxDuration, maxRequests: int64(n), noProfile: true}
	if _, err := b.measure(ctx, "e", fmt.Sprintf("config cold: %d tenants once (cache misses)", n), "GET /t/bt-NNNNN/_allauth/app/v1/config", routeConfig, mkOps(), 0, cold); err != nil {
		return err
	}
	if b.adm != nil {
		heap1, err := b.adm.gcThenScrape()
		if err != nil {
			return err
		}
		tc.ServerHeapBytesPer = (heap1.Sum("go_memstats_heap_alloc_bytes") - heap0.Sum("go_memstats_heap_alloc_bytes")) / float64(n)
	}
	next.Store(0)
	warm, err := b.measure(ctx, "e", fmt.Sprintf("config warm: round-robin over %d tenants", n), "GET /t/bt-NNNNN/_allauth/app/v1/config", routeConfig, mkOps(), 0, b.limits())
	if err != nil {
		return err
	}
	if hr, ok := warm.Server["tenant_cache_hit_rate"]; ok {
		tc.ServerHitRate, tc.ServerHitRateCounted = hr, true
	}
	return b.inProcessResolution(ctx, tc)
}

// inProcessResolution loads every (e) tenant into a tenants.Cache here and
// measures lookups through tenants.Resolver.BySlug (what the middleware
// calls) and the live heap the cache holds per tenant.
func (b *bencher) inProcessResolution(ctx context.Context, tc *TenantCache) error {
	n := tc.Tenants
	slugs := make([]string, n)
	for i := range slugs {
		slugs[i] = configSlug(i)
	}
	cache := tenants.NewCache(b.db.store, 10*time.Minute)
	resolver := tenants.NewResolver(cache, tenants.MustAddressing("http://127.0.0.1:8000", "localhost"))
	var m0, m1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m0)
	b.logf("(e) in-process: loading %d tenants into a tenants.Cache", n)
	misses := make([]time.Duration, n)
	g, gctx := errgroup.WithContext(ctx)
	const loaders = 4
	for w := range loaders {
		g.Go(func() error {
			for i := w; i < n; i += loaders {
				t0 := time.Now()
				if _, err := resolver.BySlug(gctx, slugs[i]); err != nil {
					return fmt.Errorf("resolve %s: %w", slugs[i], err)
				}
				misses[i] = time.Since(t0)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	runtime.GC()
	runtime.ReadMemStats(&m1)
	tc.InProcessBytesPer = (float64(m1.HeapAlloc) - float64(m0.HeapAlloc) - float64(n*8)) / float64(n) // less the misses slice
	ml := summarize(misses)
	tc.InProcessMissP50US, tc.InProcessMissP99US = ml.P50, ml.P99

	lookups := min(200_000, max(20*n, 10_000))
	sample := func(goroutines int) (Latency, error) {
		per := lookups / goroutines
		all := make([][]time.Duration, goroutines)
		g, gctx := errgroup.WithContext(ctx)
		for w := range goroutines {
			g.Go(func() error {
				rng := rand.New(rand.NewPCG(uint64(w), 42))
				ds := make([]time.Duration, per)
				for i := range ds {
					s := slugs[rng.IntN(n)]
					t0 := time.Now()
					if _, err := resolver.BySlug(gctx, s); err != nil {
						return err
					}
					ds[i] = time.Since(t0)
				}
				all[w] = ds
				return nil
			})
		}
		if err := g.Wait(); err != nil {
			return Latency{}, err
		}
		var flat []time.Duration
		for _, ds := range all {
			flat = append(flat, ds...)
		}
		return summarize(flat), nil
	}
	one, err := sample(1)
	if err != nil {
		return err
	}
	par, err := sample(max(2, cores()))
	if err != nil {
		return err
	}
	tc.InProcessP50US, tc.InProcessP99US, tc.InProcessP99ParUS = one.P50, one.P99, par.P99
	runtime.KeepAlive(cache)
	return nil
}

// soak runs a mix of (a), (b), (e) and EdDSA refreshes for cfg.Soak,
// sampling the server's live heap (after a GC) and goroutines.
func (b *bencher) soak(ctx context.Context) error {
	if b.db == nil {
		return errors.New("needs the database")
	}
	if err := b.db.ensureTenant(ctx, sessionSlug, baseSettings()); err != nil {
		return err
	}
	slug := jwtSlug("EdDSA")
	if err := b.db.ensureTenant(ctx, slug, jwtSettings("EdDSA")); err != nil {
		return err
	}
	if _, err := b.db.seedConfigTenants(ctx, b.cfg.Tenants); err != nil {
		return err
	}
	w := max(4, b.cfg.Concurrency) / 4 * 4
	sess, err := b.users(ctx, sessionSlug, w/4)
	if err != nil {
		return err
	}
	jwts, err := b.users(ctx, slug, w/2)
	if err != nil {
		return err
	}
	var next atomic.Int64
	var ops []op
	for i := range w / 4 {
		ops = append(ops, b.c.expect(b.c.request("GET", apiPath(sessionSlug, "auth/session"), nil, "X-Session-Token", sess[i].session), 200))
		ops = append(ops, b.c.expect(b.c.request("GET", apiPath(slug, "auth/session"), nil, "Authorization", "Bearer "+jwts[i].access), 200))
		ch := &refreshChain{c: b.c, slug: slug, req: b.c.request("POST", apiPath(slug, "tokens/refresh"), []byte("{}")), token: []byte(jwts[w/4+i].refreshToken),
			renew: func() (string, error) { return "", errors.New("no renewal in soak") }}
		ops = append(ops, ch.op)
		req := b.c.request("GET", apiPath(configSlug(0), "config"), nil)
		resp := &fasthttp.Response{}
		n := b.cfg.Tenants
		ops = append(ops, func() error {
			k := int(next.Add(1)-1) % n
			req.SetRequestURI(b.c.base + apiPath(configSlug(k), "config"))
			if err := b.c.hc.Do(req, resp); err != nil {
				return err
			}
			if resp.StatusCode() != 200 {
				return fmt.Errorf("%w: config: %d", errUnexpected, resp.StatusCode())
			}
			return nil
		})
	}
	b.logf("soak: %d workers for %s", len(ops), b.cfg.Soak)
	s := &Soak{Seconds: b.cfg.Soak.Seconds()}
	b.rep.Soak = s
	start := time.Now()
	heapProfile := func(name string) {
		if b.cfg.ProfileDir == "" {
			return
		}
		p, err := b.adm.get("/debug/pprof/heap?gc=1")
		if err == nil {
			err = os.WriteFile(filepath.Join(b.cfg.ProfileDir, name), p, 0o644)
		}
		if err != nil {
			b.rep.Warnings = append(b.rep.Warnings, "soak heap profile: "+err.Error())
		}
	}
	sampleNow := func() error {
		m, err := b.adm.gcThenScrape()
		if err != nil {
			return err
		}
		s.Samples = append(s.Samples, SoakSample{At: time.Since(start).Seconds(), HeapAlloc: m.Sum("go_memstats_heap_alloc_bytes"),
			HeapInuse: m.Sum("go_memstats_heap_inuse_bytes"), Goroutines: m.Sum("go_goroutines"), RSS: m.Sum("process_resident_memory_bytes")})
		return nil
	}
	// Warm for a few seconds first so the first sample is steady state
	// (connections open, caches and pools filled), then sample every tenth.
	done := make(chan Run, 1)
	warm := min(5*time.Second, b.cfg.Soak/4)
	go func() {
		done <- closedLoop(ctx, ops, limits{warmup: warm, duration: b.cfg.Soak, maxRequests: b.cfg.MaxRequests})
	}()
	every := b.cfg.Soak / 10
	select {
	case <-time.After(warm):
	case <-ctx.Done():
	}
	heapProfile("soak-start.heap.pprof")
	tick := time.NewTicker(every)
	defer tick.Stop()
	var run Run
loop:
	for {
		if err := sampleNow(); err != nil {
			b.rep.Warnings = append(b.rep.Warnings, "soak sample: "+err.Error())
		}
		select {
		case run = <-done:
			break loop
		case <-tick.C:
		case <-ctx.Done():
			run = <-done
			break loop
		}
	}
	if err := sampleNow(); err != nil {
		b.rep.Warnings = append(b.rep.Warnings, "soak sample: "+err.Error())
	}
	heapProfile("soak-end.heap.pprof")
	s.Requests, s.Errors = run.Requests, run.Errors
	if len(s.Samples) >= 3 {
		// Growth along a least-squares line through the samples (one
		// sample is noisy: requests in flight hold memory), start to end.
		heapStart, heapEnd := trend(s.Samples, func(x SoakSample) float64 { return x.HeapAlloc })
		grStart, grEnd := trend(s.Samples, func(x SoakSample) float64 { return x.Goroutines })
		s.HeapGrowth = heapEnd/heapStart - 1
		s.GoroutineGrowth = grEnd - grStart
		// Steady: live heap within 10 % (or 4 MiB) along the trend and
		// goroutines within a handful (connection goroutines come and go).
		heapOK := s.HeapGrowth <= 0.10 || heapEnd-heapStart < 4<<20
		grOK := s.GoroutineGrowth <= 5
		switch {
		case heapOK && grOK:
			s.Verdict = "no growth"
		case !heapOK && !grOK:
			s.Verdict = "heap and goroutines grew"
		case !heapOK:
			s.Verdict = "heap grew"
		default:
			s.Verdict = "goroutines grew"
		}
	}
	if run.Errors > 0 {
		b.rep.Warnings = append(b.rep.Warnings, fmt.Sprintf("soak: %d errors, first: %s", run.Errors, run.FirstError))
	}
	return ctx.Err()
}

// ratios checks the targets against what this run measured.
func (b *bencher) ratios() {
	r := b.rep
	find := func(id, prefix string, mode string) *Result {
		for _, res := range r.Results {
			if res.ID == id && strings.HasPrefix(res.Name, prefix) && res.Mode == mode {
				return res
			}
		}
		return nil
	}
	add := func(name string, v float64, target string, met bool, detail string) {
		r.Ratios = append(r.Ratios, Ratio{Name: name, Value: v, Target: target, Met: met, Detail: detail})
	}
	f, a := find("f", "ceiling", "closed"), find("a", "auth/session (session", "closed")
	if f != nil && a != nil && f.OKRPS > 0 {
		v := a.OKRPS / f.OKRPS
		add("(a)/(f) session vs ceiling", v, ">= 0.40", v >= 0.40, fmt.Sprintf("%.0f / %.0f req/s", a.OKRPS, f.OKRPS))
	}
	if o := find("a", "auth/session at", "open"); o != nil {
		p99 := o.Latency.P99 / 1000
		add("(a) p99 at 50% of peak (ms)", p99, "< 5", p99 < 5 && o.Dropped == 0 && o.Errors == 0,
			fmt.Sprintf("open loop %.0f/s, p50 %s, %d errors, %d dropped", o.Rate, us(o.Latency.P50), o.Errors, o.Dropped))
	}
	if c := find("c", "auth/login", "closed"); c != nil && r.Argon2 != nil {
		v := c.OKRPS / r.Argon2.Limit
		add("(c)/argon2 limit login", v, ">= 0.85", v >= 0.85, fmt.Sprintf("%.1f / %.1f logins/s", c.OKRPS, r.Argon2.Limit))
	}
	for _, alg := range b.cfg.Algs {
		d := find("d", "tokens/refresh "+alg, "closed")
		s, ok := r.Signing[alg]
		if d == nil || !ok {
			continue
		}
		v := d.OKRPS / s.Limit
		add("(d)/signing limit refresh "+alg, v, ">= 0.70", v >= 0.70, fmt.Sprintf("%.0f / %.0f refresh/s", d.OKRPS, s.Limit))
		if alg == "EdDSA" || alg == "ES256" {
			per := d.OKRPS / float64(r.Machine.Cores)
			add("(d) refreshes/s per vCPU "+alg, per, ">= 1000", per >= 1000, fmt.Sprintf("%.0f req/s on %d vCPU", d.OKRPS, r.Machine.Cores))
		}
	}
	if t := r.Tenants; t != nil {
		add("(e) cached resolution p99 (µs)", t.InProcessP99US, "< 100", t.InProcessP99US < 100,
			fmt.Sprintf("in-process Resolver.BySlug, %d tenants cached; %s with %d goroutines", t.Tenants, us(t.InProcessP99ParUS), max(2, r.Machine.Cores)))
		add("(e) bytes per cached tenant (in-process)", t.InProcessBytesPer, "< 8192", t.InProcessBytesPer < 8192, "live heap of a tenants.Cache holding every tenant ÷ tenants")
		if t.ServerHeapBytesPer != 0 {
			add("(e) server heap per tenant touched", t.ServerHeapBytesPer, "< 8192", t.ServerHeapBytesPer < 8192, "server live heap after − before the cold pass ÷ tenants")
		}
	}
	if s := r.Soak; s != nil && s.Verdict != "" {
		add("soak: heap growth (fraction)", s.HeapGrowth, "no growth", s.Verdict == "no growth",
			fmt.Sprintf("%s; goroutines %+.0f over %.0fs", s.Verdict, s.GoroutineGrowth, s.Seconds))
	}
}

// trend fits y = a + b·t by least squares over the samples and returns the
// fitted values at the first and last sample times.
func trend(ss []SoakSample, y func(SoakSample) float64) (start, end float64) {
	n := float64(len(ss))
	var st, sy, stt, sty float64
	for _, s := range ss {
		st += s.At
		sy += y(s)
		stt += s.At * s.At
		sty += s.At * y(s)
	}
	den := n*stt - st*st
	if den == 0 {
		return y(ss[0]), y(ss[len(ss)-1])
	}
	b := (n*sty - st*sy) / den
	a := (sy - b*st) / n
	return a + b*ss[0].At, a + b*ss[len(ss)-1].At
}
