package ratelimit

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/testenv"
)

const leaseAction = "lease_test"

func perKey(amount int, period time.Duration) Rule {
	return Rule{Amount: amount, Period: period, Per: PerKey}
}

func allowLeased(t testing.TB, l *Limiter, tenant uuid.UUID, rule Rule, s Subject) bool {
	t.Helper()
	ok, err := l.AllowLeased(context.Background(), tenant, leaseAction, rule, s)
	if err != nil {
		t.Fatalf("AllowLeased(%v, %+v): %v", rule, s, err)
	}
	return ok
}

// expectLeased calls AllowLeased n times expecting success, then once
// expecting refusal.
func expectLeased(t testing.TB, l *Limiter, tenant uuid.UUID, rule Rule, s Subject, n int) {
	t.Helper()
	for i := range n {
		if !allowLeased(t, l, tenant, rule, s) {
			t.Fatalf("%+v: request %d of %d refused", s, i+1, n)
		}
	}
	if allowLeased(t, l, tenant, rule, s) {
		t.Fatalf("%+v: request %d allowed, want refused after %d", s, n+1, n)
	}
}

// The leased path counts in the same Redis list as Allow: one hit per
// request, under the same key, with the same TTL; and a node alone is
// exact: it allows the whole budget and not one more.
func TestLeaseSameCounter(t *testing.T) {
	rdb := testenv.Redis(t)
	calls := &countCalls{}
	rdb.AddHook(calls)
	l := NewLimiter(rdb)
	tenant := uuid.New()
	rule := perKey(320, time.Minute) // blocks of up to 20
	s := Subject{Key: "Key-1"}
	expectLeased(t, l, tenant, rule, s, 320)
	// Blocks of 1, 2, 4, 8, 16, then 20 until fewer than 4 blocks are
	// left, then a quarter of what is left: 32 calls, and one for the
	// script's first load.
	if n := calls.n.Load(); n > 40 {
		t.Errorf("%d Redis calls for 321 requests", n)
	}
	key := "hp:{" + tenant.String() + "}:rl:" + leaseAction + ":key:m:" + hash("key-1")
	if n, err := rdb.LLen(t.Context(), key).Result(); err != nil || n != 320 {
		t.Fatalf("LLEN %q = %d, %v; want 320", key, n, err)
	}
	if ttl := rdb.PTTL(t.Context(), key).Val(); ttl <= 0 || ttl > time.Minute {
		t.Fatalf("PTTL %v", ttl)
	}
	// Allow reads the same counter (and the key compares case-insensitively).
	if allow(t, l, tenant, leaseAction, []Rule{rule}, Subject{Key: "key-1"}) {
		t.Fatal("Allow allowed past the leased budget")
	}
	// And the other way round: Allow's hits count for the leased path.
	other := Subject{Key: "key-2"}
	for range 300 {
		allow(t, l, tenant, leaseAction, []Rule{rule}, other)
	}
	expectLeased(t, l, tenant, rule, other, 20)
}

// countCalls counts the commands a client sends.
type countCalls struct{ n atomic.Int64 }

func (c *countCalls) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *countCalls) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *countCalls) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// Two limiters on one Redis are two nodes: alternating, their sum is the
// budget exactly, however the blocks were split.
func TestLeaseNearLimitPrecision(t *testing.T) {
	rdb := testenv.Redis(t)
	a, b := NewLimiter(rdb), NewLimiter(rdb)
	for _, amount := range []int{1, 3, 17, 100, 1000} {
		t.Run(strconv.Itoa(amount), func(t *testing.T) {
			tenant := uuid.New()
			rule := perKey(amount, time.Minute)
			s := Subject{Key: "k"}
			allowed, refusedInARow := 0, 0
			for i := 0; refusedInARow < 10; i++ {
				l := a
				if i%3 == 2 { // uneven shares
					l = b
				}
				if allowLeased(t, l, tenant, rule, s) {
					allowed++
					refusedInARow = 0
				} else {
					refusedInARow++
				}
			}
			if allowed != amount {
				t.Fatalf("%d allowed across two nodes, want %d", allowed, amount)
			}
		})
	}
}

// Many goroutines on two nodes, under -race: the budget is allowed
// exactly once in all.
func TestLeaseConcurrent(t *testing.T) {
	rdb := testenv.Redis(t)
	nodes := []*Limiter{NewLimiter(rdb), NewLimiter(rdb)}
	tenant := uuid.New()
	const amount = 1000
	rule := perKey(amount, time.Minute)
	s := Subject{Key: "concurrent"}
	var allowed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, 16)
	for g := range 16 {
		l := nodes[g%2]
		wg.Go(func() {
			<-start
			for range amount / 8 { // 2 × amount requests in all
				if l.TakeLeased(tenant, leaseAction, rule, s) {
					allowed.Add(1)
					continue
				}
				ok, err := l.AllowLeased(context.Background(), tenant, leaseAction, rule, s)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					allowed.Add(1)
				}
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := allowed.Load(); n != amount {
		t.Fatalf("%d of %d allowed, want %d", n, 2*amount, amount)
	}
}

// Within any window of one period, two nodes under steady load allow at
// most the budget plus one block each, and the budget comes back as the
// window slides.
func TestLeaseBound(t *testing.T) {
	rdb := testenv.Redis(t)
	nodes := []*Limiter{NewLimiter(rdb), NewLimiter(rdb)}
	tenant := uuid.New()
	const amount = 160 // blocks of up to 10
	period := time.Second
	rule := perKey(amount, period)
	s := Subject{Key: "bound"}
	var mu sync.Mutex
	var times []time.Duration
	origin := time.Now()
	deadline := origin.Add(3500 * time.Millisecond)
	var wg sync.WaitGroup
	for g := range 6 {
		l := nodes[g%2]
		wg.Go(func() {
			for time.Now().Before(deadline) {
				ok, err := l.AllowLeased(context.Background(), tenant, leaseAction, rule, s)
				if err != nil {
					t.Error(err)
					return
				}
				if ok {
					at := time.Since(origin)
					mu.Lock()
					times = append(times, at)
					mu.Unlock()
				}
				time.Sleep(100 * time.Microsecond)
			}
		})
	}
	wg.Wait()
	slices.Sort(times)
	bound := amount + 2*int(maxBlockFor(amount))
	most := 0
	for i, at := range times {
		// Requests allowed in [at, at+period).
		j, _ := slices.BinarySearch(times, at+period)
		most = max(most, j-i)
	}
	t.Logf("%d allowed in 3.5 s; at most %d in one period (bound %d)", len(times), most, bound)
	if most > bound {
		t.Fatalf("%d allowed within one period, bound %d", most, bound)
	}
	// The window slid: over 3.5 s, more than three budgets' worth minus
	// the blocks parked at the ends.
	if len(times) < 3*amount {
		t.Fatalf("only %d allowed in 3.5 s at %d/s", len(times), amount)
	}
}

// The window rolls: a spent budget is whole again a period later, on the
// node that spent it and on another one.
func TestLeaseWindowRoll(t *testing.T) {
	rdb := testenv.Redis(t)
	a, b := NewLimiter(rdb), NewLimiter(rdb)
	tenant := uuid.New()
	rule := perKey(64, 700*time.Millisecond) // blocks of up to 4
	s := Subject{Key: "roll"}
	expectLeased(t, a, tenant, rule, s, 64)
	if allowLeased(t, b, tenant, rule, s) {
		t.Fatal("the other node allowed past the budget")
	}
	time.Sleep(750 * time.Millisecond)
	expectLeased(t, a, tenant, rule, s, 64)
	time.Sleep(750 * time.Millisecond)
	expectLeased(t, b, tenant, rule, s, 64)
}

// A block left when it expires is handed back with the next call, so the
// counter in Redis holds only requests that were allowed.
func TestLeaseHandBack(t *testing.T) {
	rdb := testenv.Redis(t)
	l := NewLimiter(rdb)
	tenant := uuid.New()
	// Blocks up to 40 (limit/16); a window long enough that no request
	// slides out of it however slow the machine, and blocks that live 1 s.
	rule := perKey(640, 8*time.Second)
	s := Subject{Key: "hand-back"}
	key := "hp:{" + tenant.String() + "}:rl:" + leaseAction + ":key:" + formatPeriod(rule.Period) + ":" + hash("hand-back")
	// Spend until the node holds part of a block.
	allowed, left := 0, int64(0)
	var ls *lease
	for range 200 {
		if !allowLeased(t, l, tenant, rule, s) {
			t.Fatalf("refused after %d of a budget of 640", allowed)
		}
		allowed++
		v, _ := l.leases.Load(leaseKey{tenant, leaseAction, rule, "hand-back"})
		ls = v.(*lease)
		if left = ls.left.Load(); left > 0 && allowed >= 100 {
			break
		}
	}
	if left == 0 {
		t.Fatalf("after %d requests the node never held a part of a block", allowed)
	}
	if n := rdb.LLen(t.Context(), key).Val(); n != int64(allowed)+left {
		t.Fatalf("LLEN %d, want %d allowed + %d leased", n, allowed, left)
	}
	time.Sleep(leaseLife(rule.Period) + 10*time.Millisecond)
	if !allowLeased(t, l, tenant, rule, s) {
		t.Fatal("refused")
	}
	allowed++
	if n, now := rdb.LLen(t.Context(), key).Val(), ls.left.Load(); n != int64(allowed)+now {
		t.Fatalf("LLEN %d after the hand-back, want %d allowed + %d leased", n, allowed, now)
	}
	// The next block is sized by what the expired one saw.
	if ls.block > 40 {
		t.Fatalf("block %d", ls.block)
	}
}

// A Redis that is down from the start: the leased path answers as Allow
// does, from memory, without waiting.
func TestLeaseDeadRedis(t *testing.T) {
	l := NewLimiter(deadRedis(t))
	tenant := uuid.New()
	start := time.Now()
	expectLeased(t, l, tenant, perKey(5, time.Minute), Subject{Key: "k"}, 5)
	expectLeased(t, l, tenant, perKey(100, time.Minute), Subject{Key: "k2"}, 100)
	if !l.Degraded() {
		t.Fatal("not Degraded")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v", d)
	}
	if l.TakeLeased(tenant, leaseAction, perKey(100, time.Minute), Subject{Key: "k2"}) {
		t.Fatal("TakeLeased allowed while degraded")
	}
	// Without Redis at all, the same.
	expectLeased(t, NewLimiter(nil), tenant, perKey(7, time.Minute), Subject{Key: "k"}, 7)
}

// Redis going away and coming back: as TestRecovery, on the leased path.
func TestLeaseRecovery(t *testing.T) {
	port := freePort(t)
	stop := startRedis(t, port)
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer rdb.Close()
	l := NewLimiter(rdb)
	tenant := uuid.New()
	rule := perKey(64, time.Minute)
	s := Subject{Key: "recovery"}
	expectLeased(t, l, tenant, rule, s, 64)
	if l.Degraded() {
		t.Fatal("Degraded with Redis up")
	}
	stop()
	t0 := time.Now()
	// The memory fallback starts empty and limits on its own.
	expectLeased(t, l, tenant, rule, s, 64)
	if d := time.Since(t0); d > 3*defaultTimeout {
		t.Fatalf("calls with Redis down took %v", d)
	}
	if !l.Degraded() {
		t.Fatal("not Degraded with Redis down")
	}
	startRedis(t, port)
	back := time.Now()
	for l.Degraded() {
		if time.Since(back) > 2500*time.Millisecond {
			t.Fatal("still Degraded 2.5 s after Redis came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// Counting in Redis again: the restarted Redis is empty.
	expectLeased(t, l, tenant, rule, s, 64)
}

func TestLeaseInvalidRule(t *testing.T) {
	l := NewLimiter(testenv.Redis(t))
	for _, r := range []Rule{{0, time.Minute, PerKey}, {1, 0, PerKey}, {1, time.Minute, "session"}} {
		if _, err := l.AllowLeased(context.Background(), uuid.New(), leaseAction, r, Subject{Key: "x"}); err == nil {
			t.Errorf("AllowLeased with %+v: no error", r)
		}
	}
	// A rule whose subject is missing does not apply.
	if !allowLeased(t, l, uuid.New(), perKey(1, time.Minute), Subject{IP: "192.0.2.1"}) {
		t.Fatal("refused without a key")
	}
}

// BenchmarkLease compares the per-request path (Allow: one EVALSHA a
// request) with the leased one (AllowLeased) on the test Redis, for one
// API key with the bench's budget.
func BenchmarkLease(b *testing.B) {
	rule := perKey(100_000_000, time.Minute)
	tenant := uuid.New()
	key := uuid.New()
	rdb := testenv.Redis(b)
	opt := *rdb.Options()
	opt.ContextTimeoutEnabled = true
	direct := redis.NewClient(&opt)
	defer direct.Close()
	l := NewLimiter(direct)
	ctx := context.Background()
	perRequest := func() (bool, error) {
		return l.Allow(ctx, tenant, leaseAction, []Rule{rule}, Subject{Key: key.String()})
	}
	leased := func() (bool, error) {
		s := Subject{Key: key.String()}
		if l.TakeLeased(tenant, leaseAction, rule, s) {
			return true, nil
		}
		return l.AllowLeased(ctx, tenant, leaseAction, rule, s)
	}
	for _, p := range []struct {
		name string
		f    func() (bool, error)
	}{{"per-request", perRequest}, {"leased", leased}} {
		b.Run(p.name+"/serial", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if ok, err := p.f(); !ok || err != nil {
					b.Fatal(ok, err)
				}
			}
		})
		b.Run(p.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if ok, err := p.f(); !ok || err != nil {
						b.Fatal(ok, err)
					}
				}
			})
		})
	}
}
