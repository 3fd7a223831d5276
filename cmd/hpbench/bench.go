package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"
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
		{"serializer", b.serializer},
		{"jwt", b.jwt},
		{"login", b.login},
		{"refresh", b.refresh},
		{"config", b.config},
		{"manage", b.manage},
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
		if n := res.served(); n > 0 {
			res.Server["alloc_bytes_per_req"] = delta(before, after, "go_memstats_alloc_bytes_total") / float64(n)
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
