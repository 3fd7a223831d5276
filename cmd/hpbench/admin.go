package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/valyala/fasthttp"
)

// admin reads the server's admin listener: /metrics and /debug/pprof/.
type admin struct {
	hc   *fasthttp.HostClient
	base string // http://host:port
}

func newAdmin(dial, host string) *admin {
	return &admin{
		hc: &fasthttp.HostClient{Addr: dial, MaxConns: 8, ReadTimeout: 90 * time.Second, WriteTimeout: 10 * time.Second,
			MaxResponseBodySize: 256 << 20},
		base: "http://" + host,
	}
}

func (a *admin) get(path string) ([]byte, error) {
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(a.base + path)
	if err := a.hc.Do(req, resp); err != nil {
		return nil, fmt.Errorf("admin GET %s: %w", path, err)
	}
	if resp.StatusCode() != 200 {
		return nil, fmt.Errorf("admin GET %s: status %d: %.200s", path, resp.StatusCode(), resp.Body())
	}
	return bytes.Clone(resp.Body()), nil
}

// Sample is one scrape: series (name plus its {labels} as written) → value.
type Sample map[string]float64

func (a *admin) scrape() (Sample, error) {
	b, err := a.get("/metrics")
	if err != nil {
		return nil, err
	}
	return parseMetrics(b)
}

// gcThenScrape runs a GC in the server (the heap profile handler does with
// ?gc=1) and then scrapes, so heap figures are live data, not garbage.
func (a *admin) gcThenScrape() (Sample, error) {
	if _, err := a.get("/debug/pprof/heap?gc=1"); err != nil {
		return nil, err
	}
	return a.scrape()
}

// parseMetrics reads the text exposition format (what internal/metrics
// writes): comment lines, then `name{labels} value` or `name value`.
func parseMetrics(b []byte) (Sample, error) {
	out := Sample{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			return nil, fmt.Errorf("metrics line %d: no value: %q", n, line)
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %w", n, err)
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

// Sum adds every series of the family name whose labels include all of
// want (each given as `label="value"`).
func (s Sample) Sum(name string, want ...string) float64 {
	var t float64
	for k, v := range s {
		base, labels, _ := strings.Cut(k, "{")
		if base != name {
			continue
		}
		ok := true
		for _, w := range want {
			if !strings.Contains(labels, w) {
				ok = false
				break
			}
		}
		if ok {
			t += v
		}
	}
	return t
}

// Delta of a counter family between two scrapes.
func delta(before, after Sample, name string, want ...string) float64 {
	if before == nil || after == nil {
		return 0
	}
	return after.Sum(name, want...) - before.Sum(name, want...)
}

// profile fetches a CPU profile and a delta allocation profile over the
// next seconds and writes them to dir as <name>.cpu.pprof and
// <name>.allocs.pprof. It blocks for about seconds.
func (a *admin) profile(ctx context.Context, dir, name string, seconds int) error {
	type res struct {
		kind string
		b    []byte
		err  error
	}
	ch := make(chan res, 2)
	for _, p := range []struct{ kind, path string }{
		{"cpu", fmt.Sprintf("/debug/pprof/profile?seconds=%d", seconds)},
		{"allocs", fmt.Sprintf("/debug/pprof/allocs?seconds=%d", seconds)},
	} {
		go func() {
			b, err := a.get(p.path)
			ch <- res{p.kind, b, err}
		}()
	}
	var firstErr error
	for range 2 {
		select {
		case r := <-ch:
			if r.err != nil {
				firstErr = r.err
				continue
			}
			if err := os.WriteFile(filepath.Join(dir, name+"."+r.kind+".pprof"), r.b, 0o644); err != nil && firstErr == nil {
				firstErr = err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return firstErr
}
