// Package redisguard decides how long one Redis call may take from how
// Redis has been answering. A fixed short budget cannot tell a dead Redis
// from a live one on a CPU-starved machine (an answer 400 ms late is still an
// answer); a fixed long one holds every request that long while Redis is
// down. A Guard gives calls a patient budget while Redis answers, a brief one
// once a call has failed, and returns to patient after the next answer.
package redisguard

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"weak"

	"github.com/redis/go-redis/v9"
)

// The default budgets. Patient stays well below the request deadline
// (server.DefaultRequestTimeout, 15 s) and matches what the server's client
// gives one command anyway (assembly.TuneRedis: two 500 ms reads). Brief is
// the budget the session store always had: while Redis is failing, a request
// that can do without it (a session check falling back to Postgres) loses at
// most this much.
const (
	DefaultPatient    = time.Second
	DefaultBrief      = 250 * time.Millisecond
	DefaultProbeEvery = time.Second
)

// Guard tracks one Redis server's health as its callers observe it. The
// zero value is not usable; call New or For. A Guard is safe for concurrent
// use.
//
// States: healthy (every call gets the patient budget) until a call fails
// (a timeout, a refused or broken connection); then failing, where calls get
// the brief budget, except one probe at a time, at most one started per
// probe interval, which gets the patient budget so that a Redis that is only
// slow can prove it answers. The first answer of any call, probe or not,
// makes the guard healthy again. A call abandoned by its caller (the
// caller's context ended first) says nothing about Redis.
type Guard struct {
	patient, brief, probeEvery atomic.Int64 // durations
	now                        func() time.Time

	mu        sync.Mutex // serialises changes of failing and nextProbe
	failing   atomic.Bool
	probing   atomic.Bool
	nextProbe atomic.Int64 // unix nanoseconds: no probe starts before

	// counts of what the guard saw, for tests and diagnostics.
	failures, recoveries, late atomic.Uint64
}

// New returns a healthy guard with the default budgets.
func New() *Guard { return newGuard(time.Now) }

func newGuard(now func() time.Time) *Guard {
	g := &Guard{now: now}
	g.patient.Store(int64(DefaultPatient))
	g.brief.Store(int64(DefaultBrief))
	g.probeEvery.Store(int64(DefaultProbeEvery))
	return g
}

// SetBudgets changes the patient and brief budgets (a value <= 0 keeps the
// current one). Test harnesses that must not see a slow machine as a
// Redis outage set both to seconds.
func (g *Guard) SetBudgets(patient, brief time.Duration) {
	if patient > 0 {
		g.patient.Store(int64(patient))
	}
	if brief > 0 {
		g.brief.Store(int64(brief))
	}
}

// SetProbeEvery changes the least time between two probes while failing
// (DefaultProbeEvery by default; <= 0 keeps it).
func (g *Guard) SetProbeEvery(d time.Duration) {
	if d > 0 {
		g.probeEvery.Store(int64(d))
	}
}

// Failing reports whether the last call that finished had Redis fail (and
// no answer came since).
func (g *Guard) Failing() bool { return g.failing.Load() }

// Stats is what a guard has seen since it was made.
type Stats struct {
	// Failures counts the changes from healthy to failing, Recoveries
	// those back.
	Failures, Recoveries uint64
	// LateAnswers counts the calls answered after the brief budget had
	// passed: each would have failed under a fixed brief budget.
	LateAnswers uint64
}

// Stats returns what the guard has seen.
func (g *Guard) Stats() Stats {
	return Stats{Failures: g.failures.Load(), Recoveries: g.recoveries.Load(), LateAnswers: g.late.Load()}
}

// Budget is the budget of a call that is not a probe, started now: patient
// while healthy, brief while failing. Use it to bound a wait on a call made
// elsewhere (a batch the caller joins); bound the call itself with Bound.
func (g *Guard) Budget() time.Duration {
	if g.failing.Load() {
		return time.Duration(g.brief.Load())
	}
	return time.Duration(g.patient.Load())
}

// Bound returns ctx bounded by the budget of one Redis call, and done,
// which must be called once with the call's error (nil when Redis
// answered) to release the context and tell the guard what happened. Redis
// answered when err is nil, redis.Nil, or an error reply of Redis's own.
func (g *Guard) Bound(ctx context.Context) (context.Context, func(error)) {
	budget, probe := g.begin()
	start := g.now()
	rctx, cancel := context.WithTimeout(ctx, budget)
	return rctx, func(err error) {
		cancel()
		o := classify(ctx, err)
		if o == answered && g.now().Sub(start) > time.Duration(g.brief.Load()) {
			g.late.Add(1)
		}
		g.end(probe, o)
	}
}

// begin picks the budget of a call starting now, and whether it is the
// probe.
func (g *Guard) begin() (time.Duration, bool) {
	if !g.failing.Load() {
		return time.Duration(g.patient.Load()), false
	}
	if g.now().UnixNano() >= g.nextProbe.Load() && g.probing.CompareAndSwap(false, true) {
		return time.Duration(g.patient.Load()), true
	}
	return time.Duration(g.brief.Load()), false
}

type outcome int

const (
	answered outcome = iota
	failed
	abandoned // the caller's context ended: nothing learned
)

// classify says what err, from a call under parent, tells of Redis.
func classify(parent context.Context, err error) outcome {
	if err == nil || errors.Is(err, redis.Nil) {
		return answered
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		// An error reply (NOSCRIPT, WRONGTYPE, OOM, ...): Redis is there.
		return answered
	}
	if parent.Err() != nil {
		return abandoned
	}
	return failed
}

// end records a call's outcome.
func (g *Guard) end(probe bool, o outcome) {
	switch {
	case o == answered && g.failing.Load():
		g.mu.Lock()
		if g.failing.Load() {
			g.failing.Store(false)
			g.recoveries.Add(1)
		}
		g.mu.Unlock()
	case o == failed:
		g.mu.Lock()
		// The next probe comes an interval after the failure that made the
		// guard fail, or after the last probe's: not after every failure,
		// or calls failing more often than that would keep probes out.
		if !g.failing.Load() || probe {
			g.nextProbe.Store(g.now().Add(time.Duration(g.probeEvery.Load())).UnixNano())
		}
		if !g.failing.Load() {
			g.failing.Store(true)
			g.failures.Add(1)
		}
		g.mu.Unlock()
	}
	if probe {
		g.probing.Store(false)
	}
}

// guards holds the guard of each Redis client For was asked about, keyed
// by a weak pointer to the client so that a client dropped (tests make
// many) takes its entry with it.
var guards sync.Map

// For returns the guard shared by everything that calls Redis through
// rdb: the stores of one process see one Redis, so what one learns (Redis
// stopped answering) spares the others the patient wait. A client of a
// kind For does not know (a test's fake) gets a guard of its own.
func For(rdb redis.Cmdable) *Guard {
	switch c := rdb.(type) {
	case *redis.Client:
		return shared(c)
	case *redis.ClusterClient:
		return shared(c)
	case *redis.Ring:
		return shared(c)
	}
	return New()
}

func shared[T any](c *T) *Guard {
	key := weak.Make(c)
	if g, ok := guards.Load(key); ok {
		return g.(*Guard)
	}
	g, loaded := guards.LoadOrStore(key, New())
	if !loaded {
		runtime.AddCleanup(c, func(k weak.Pointer[T]) { guards.Delete(k) }, key)
	}
	return g.(*Guard)
}
