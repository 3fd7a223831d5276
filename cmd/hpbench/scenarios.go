package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
	"golang.org/x/sync/errgroup"

	"github.com/hallpass/hallpass/tenants"
)

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
