package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/valyala/fasthttp"
)

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
	b.serializerRatio(find)
	if o := find("a", "auth/session at", "open"); o != nil {
		p99 := o.Latency.P99 / 1000
		add("(a) p99 at 50% of peak (ms)", p99, "< 5", p99 < 5 && o.Dropped == 0 && o.Errors == 0,
			fmt.Sprintf("open loop %.0f/s, p50 %s, %d errors, %d dropped", o.Rate, us(o.Latency.P50), o.Errors, o.Dropped))
	}
	if o := find("g", "management API: get user at", "open"); o != nil {
		p99 := o.Latency.P99 / 1000
		add("(g) management get-user p99 at 50% of peak (ms)", p99, "< 5", p99 < 5 && o.Dropped == 0 && o.Errors == 0,
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
