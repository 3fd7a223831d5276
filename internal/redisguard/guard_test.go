package redisguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clock is a fake time source the tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestGuard() (*Guard, *clock) {
	c := &clock{t: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	return newGuard(c.now), c
}

// replyError is an error reply of Redis's own (what go-redis's proto
// package returns for "-ERR ...").
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

var errRefused = &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}

// call runs one call through the guard's bookkeeping (no Redis): it
// returns the budget the call got and whether it was the probe.
func call(g *Guard, err error) (time.Duration, bool) {
	budget, probe := g.begin()
	g.end(probe, classify(context.Background(), err))
	return budget, probe
}

func wantBudget(t *testing.T, g *Guard, got time.Duration, probe bool, want time.Duration, wantProbe bool) {
	t.Helper()
	if got != want || probe != wantProbe {
		t.Fatalf("budget %v (probe %v), want %v (probe %v); failing %v", got, probe, want, wantProbe, g.Failing())
	}
}

func TestHealthyCallsArePatient(t *testing.T) {
	g, _ := newTestGuard()
	for _, err := range []error{nil, redis.Nil, fmt.Errorf("get: %w", redis.Nil), replyError("NOSCRIPT No matching script")} {
		b, p := call(g, err)
		wantBudget(t, g, b, p, DefaultPatient, false)
	}
	if g.Failing() || g.Budget() != DefaultPatient {
		t.Fatalf("after answers: failing %v, budget %v", g.Failing(), g.Budget())
	}
	if st := g.Stats(); st != (Stats{}) {
		t.Fatalf("stats %+v, want none", st)
	}
}

// One failure (a timeout, a refused connection) makes the next calls
// brief; the first answer makes them patient again.
func TestFailureIsBriefUntilAnAnswer(t *testing.T) {
	for _, cause := range []error{context.DeadlineExceeded, errRefused, errors.New("redis: connection pool timeout")} {
		t.Run(cause.Error(), func(t *testing.T) {
			g, clk := newTestGuard()
			call(g, cause)
			if !g.Failing() || g.Budget() != DefaultBrief {
				t.Fatalf("after %v: failing %v, budget %v", cause, g.Failing(), g.Budget())
			}
			clk.add(DefaultProbeEvery / 2)
			b, p := call(g, cause)
			wantBudget(t, g, b, p, DefaultBrief, false)
			// A brief call that gets its answer in time ends the failing
			// state: Redis answers.
			b, p = call(g, nil)
			wantBudget(t, g, b, p, DefaultBrief, false)
			if g.Failing() {
				t.Fatal("still failing after an answer")
			}
			b, p = call(g, nil)
			wantBudget(t, g, b, p, DefaultPatient, false)
			if st := g.Stats(); st.Failures != 1 || st.Recoveries != 1 {
				t.Fatalf("stats %+v, want 1 failure, 1 recovery", st)
			}
		})
	}
}

// While failing, one call at a time, at most one per interval, is the
// probe and gets the patient budget: a Redis that is slow but alive (its
// answers later than the brief budget) is seen to answer.
func TestProbeOnePerInterval(t *testing.T) {
	g, clk := newTestGuard()
	call(g, context.DeadlineExceeded)
	clk.add(DefaultProbeEvery - time.Millisecond)
	b, p := g.begin()
	wantBudget(t, g, b, p, DefaultBrief, false)
	g.end(p, failed)

	clk.add(time.Millisecond)
	b, p = g.begin()
	wantBudget(t, g, b, p, DefaultPatient, true)
	// Others meanwhile stay brief: only one probe is in flight.
	b2, p2 := g.begin()
	wantBudget(t, g, b2, p2, DefaultBrief, false)
	g.end(p2, failed)
	// The probe fails too: the next one comes an interval later.
	clk.add(DefaultPatient)
	g.end(p, failed)
	b, p = g.begin()
	wantBudget(t, g, b, p, DefaultBrief, false)
	g.end(p, failed)
	clk.add(DefaultProbeEvery)
	b, p = g.begin()
	wantBudget(t, g, b, p, DefaultPatient, true)
	// It gets its answer (late for a brief call): healthy again.
	g.end(p, answered)
	if g.Failing() {
		t.Fatal("a probe's answer left the guard failing")
	}
	b, p = call(g, nil)
	wantBudget(t, g, b, p, DefaultPatient, false)
}

// Calls failing more often than the probe interval do not keep pushing
// the next probe away (a loaded server on a slow Redis would otherwise
// never try a patient call again).
func TestFailuresDoNotStarveProbes(t *testing.T) {
	g, clk := newTestGuard()
	call(g, context.DeadlineExceeded)
	for range 9 {
		clk.add(DefaultProbeEvery / 10)
		b, p := call(g, context.DeadlineExceeded)
		wantBudget(t, g, b, p, DefaultBrief, false)
	}
	clk.add(DefaultProbeEvery / 10)
	b, p := g.begin()
	wantBudget(t, g, b, p, DefaultPatient, true)
}

// A call its caller gave up on (the request's own deadline, a client gone)
// says nothing about Redis, and frees the probe's place at once.
func TestAbandonedCallsTellNothing(t *testing.T) {
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if o := classify(gone, context.Canceled); o != abandoned {
		t.Fatalf("cancelled caller: %v, want abandoned", o)
	}
	if o := classify(gone, redis.Nil); o != answered {
		t.Fatalf("answer to a cancelled caller: %v, want answered", o)
	}

	g, clk := newTestGuard()
	g.end(false, classify(gone, context.Canceled))
	if g.Failing() {
		t.Fatal("an abandoned call made the guard fail")
	}
	call(g, context.DeadlineExceeded)
	clk.add(DefaultProbeEvery)
	b, p := g.begin()
	wantBudget(t, g, b, p, DefaultPatient, true)
	g.end(p, classify(gone, context.Canceled))
	b, p = g.begin()
	wantBudget(t, g, b, p, DefaultPatient, true)
	g.end(p, failed)
	if !g.Failing() {
		t.Fatal("failing state lost")
	}
}

// Bound gives the context the call's budget and reports the outcome.
func TestBound(t *testing.T) {
	g, _ := newTestGuard()
	g.SetBudgets(40*time.Second, 20*time.Second)
	check := func(want time.Duration) {
		t.Helper()
		ctx, done := g.Bound(context.Background())
		dl, ok := ctx.Deadline()
		left := time.Until(dl)
		if !ok || left > want || left < want-10*time.Second {
			t.Fatalf("deadline in %v, want about %v", left, want)
		}
		done(errRefused)
		if ctx.Err() == nil {
			t.Fatal("done did not release the context")
		}
	}
	check(40 * time.Second)
	if !g.Failing() {
		t.Fatal("a refused connection did not make the guard fail")
	}
	check(20 * time.Second)

	// A caller's shorter deadline wins, and its expiry tells nothing.
	g2, _ := newTestGuard()
	parent, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	ctx, done := g2.Bound(parent)
	<-ctx.Done()
	done(ctx.Err())
	if g2.Failing() {
		t.Fatal("the caller's own deadline made the guard fail")
	}
}

// An answer after the brief budget (what a fixed brief budget would have
// failed) is counted, on the guard's clock.
func TestLateAnswersCounted(t *testing.T) {
	g, clk := newTestGuard()
	_, done := g.Bound(context.Background())
	clk.add(DefaultBrief)
	done(nil)
	_, done = g.Bound(context.Background())
	clk.add(DefaultBrief + time.Millisecond)
	done(redis.Nil)
	_, done = g.Bound(context.Background())
	clk.add(DefaultPatient)
	done(context.DeadlineExceeded)
	if st := g.Stats(); st.LateAnswers != 1 || st.Failures != 1 {
		t.Fatalf("stats %+v, want 1 late answer and 1 failure", st)
	}
}

func TestSetters(t *testing.T) {
	g, clk := newTestGuard()
	g.SetBudgets(0, 0)
	g.SetProbeEvery(0)
	if g.Budget() != DefaultPatient {
		t.Fatalf("SetBudgets(0, 0) changed the budget to %v", g.Budget())
	}
	g.SetBudgets(3*time.Second, 100*time.Millisecond)
	g.SetProbeEvery(5 * time.Second)
	call(g, errRefused)
	if g.Budget() != 100*time.Millisecond {
		t.Fatalf("brief budget %v", g.Budget())
	}
	clk.add(4 * time.Second)
	if _, p := g.begin(); p {
		t.Fatal("probe before the interval set")
	}
	clk.add(time.Second)
	if b, p := g.begin(); !p || b != 3*time.Second {
		t.Fatalf("probe %v with %v", p, b)
	}
}

// The stores sharing a client share its guard; distinct clients (and
// clients For does not know) do not.
func TestForSharesPerClient(t *testing.T) {
	a := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	b := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer a.Close()
	defer b.Close()
	ga1, ga2, gb := For(a), For(a), For(b)
	if ga1 != ga2 {
		t.Fatal("one client, two guards")
	}
	if ga1 == gb {
		t.Fatal("two clients, one guard")
	}
	var fake struct{ redis.Cmdable }
	if f1, f2 := For(fake), For(fake); f1 == f2 {
		t.Fatal("an unknown client kind got a shared guard")
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}})
	defer c.Close()
	if c1, c2 := For(c), For(c); c1 != c2 {
		t.Fatal("one cluster client, two guards")
	}
}

// Many goroutines on one guard: at most one probe at a time (run with
// -race).
func TestConcurrentProbes(t *testing.T) {
	g, clk := newTestGuard()
	call(g, errRefused)
	clk.add(DefaultProbeEvery)
	var mu sync.Mutex
	probes := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 32 {
		wg.Go(func() {
			<-start
			if _, p := g.begin(); p {
				mu.Lock()
				probes++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if probes != 1 {
		t.Fatalf("%d probes started at once, want 1", probes)
	}
}
