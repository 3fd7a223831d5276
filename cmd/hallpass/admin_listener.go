package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/hallpass/hallpass/internal/metrics"
)

// Environment read by serve for the admin listener and the bench route.
const (
	// adminListenEnv is the address of the admin listener (/metrics and
	// /debug/pprof/); unset, there is none.
	adminListenEnv = "HALLPASS_ADMIN_LISTEN"
	// benchCeilingEnv set to 1 adds the raw /bench/ceiling route (make bench).
	benchCeilingEnv = "HALLPASS_BENCH_CEILING"
)

// benchCeilingEnabled reports whether HALLPASS_BENCH_CEILING=1.
func benchCeilingEnabled() bool { return os.Getenv(benchCeilingEnv) == "1" }

// startAdmin serves the admin endpoints on HALLPASS_ADMIN_LISTEN — /metrics
// (Prometheus text format, including the Postgres pool and Redis client
// statistics read at scrape time) and /debug/pprof/ — on a listener of
// their own, so they are never reachable through the public one. Unset, it
// does nothing. A non-loopback address is allowed (a Prometheus scraping
// from another host needs one) but logged as a warning: pprof exposes
// internals and can be made to burn CPU.
func (c *cli) startAdmin(d *deps) (stop func(), err error) {
	addr := os.Getenv(adminListenEnv)
	if addr == "" {
		return func() {}, nil
	}
	metrics.Default.CollectPostgres(d.pool)
	if d.redis != nil {
		metrics.Default.CollectRedis(d.redis)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s: listen on %s: %w", adminListenEnv, addr, err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		d.log.Warn("admin listener is not on loopback: /metrics and pprof are reachable from the network", "listen", ln.Addr().String())
	}
	srv := &http.Server{
		Handler:           adminHandler(metrics.Default),
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		// No WriteTimeout: a CPU profile or trace streams for ?seconds=N.
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			d.log.Error("admin listener stopped", "err", err)
		}
	}()
	d.log.Info("admin listener serving /metrics and /debug/pprof/", "listen", ln.Addr().String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close() // a profile still streaming
		}
		<-done
	}, nil
}

// adminHandler routes the admin listener: /metrics from reg and the
// net/http/pprof handlers (index, named profiles, cmdline, profile, symbol,
// trace) under /debug/pprof/. Nothing else.
func adminHandler(reg *metrics.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", reg.Handler())
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintln(w, "hallpass admin: /metrics /debug/pprof/")
	})
	return mux
}
