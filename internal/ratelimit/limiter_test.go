package ratelimit

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/testenv"
)

// deadRedis returns a client for a port nothing listens on.
func deadRedis(t testing.TB) *redis.Client {
	// Refused at once: no command retries, one dial attempt.
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// backends runs f against a limiter on the test Redis and against one whose
// Redis is down, which must behave the same from its in-memory fallback.
func backends(t *testing.T, f func(t *testing.T, l *Limiter)) {
	t.Run("redis", func(t *testing.T) {
		l := NewLimiter(testenv.Redis(t))
		f(t, l)
		if l.Degraded() {
			t.Error("limiter on the test Redis reports Degraded")
		}
	})
	t.Run("fallback", func(t *testing.T) {
		l := NewLimiter(deadRedis(t))
		f(t, l)
		if !l.Degraded() {
			t.Error("limiter on a dead Redis does not report Degraded")
		}
	})
}

func mustRules(t testing.TB, s string) []Rule {
	t.Helper()
	r, err := ParseRules(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func allow(t testing.TB, l *Limiter, tenant uuid.UUID, action string, rules []Rule, s Subject) bool {
	t.Helper()
	ok, err := l.Allow(context.Background(), tenant, action, rules, s)
	if err != nil {
		t.Fatalf("Allow(%s, %+v): %v", action, s, err)
	}
	return ok
}

func check(t testing.TB, l *Limiter, tenant uuid.UUID, action string, rules []Rule, s Subject) bool {
	t.Helper()
	ok, err := l.Check(context.Background(), tenant, action, rules, s)
	if err != nil {
		t.Fatalf("Check(%s, %+v): %v", action, s, err)
	}
	return ok
}

func hit(t testing.TB, l *Limiter, tenant uuid.UUID, action string, rules []Rule, s Subject) {
	t.Helper()
	if err := l.Hit(context.Background(), tenant, action, rules, s); err != nil {
		t.Fatalf("Hit(%s, %+v): %v", action, s, err)
	}
}

// expectAllowed calls Allow n times expecting success, then once expecting
// refusal.
func expectAllowed(t testing.TB, l *Limiter, tenant uuid.UUID, action string, rules []Rule, s Subject, n int) {
	t.Helper()
	for i := range n {
		if !allow(t, l, tenant, action, rules, s) {
			t.Fatalf("%+v: request %d of %d refused", s, i+1, n)
		}
	}
	if allow(t, l, tenant, action, rules, s) {
		t.Fatalf("%+v: request %d allowed, want refused after %d", s, n+1, n)
	}
}

func TestAllowPerKind(t *testing.T) {
	tests := []struct {
		name    string
		rules   string
		subject Subject
		other   Subject // counted separately
		n       int
	}{
		{"ip", "3/m/ip", Subject{IP: "192.0.2.1"}, Subject{IP: "192.0.2.2"}, 3},
		{"ip default per", "2/m", Subject{IP: "2001:db8::1"}, Subject{IP: "2001:db8::2"}, 2},
		{"user", "4/m/user", Subject{IP: "192.0.2.1", User: "u1"}, Subject{IP: "192.0.2.1", User: "u2"}, 4},
		{"key", "2/m/key", Subject{IP: "192.0.2.1", Key: "a@example.com"}, Subject{IP: "192.0.2.1", Key: "b@example.com"}, 2},
		{"one", "1/h/key", Subject{Key: "a@example.com"}, Subject{Key: "c@example.com"}, 1},
	}
	backends(t, func(t *testing.T, l *Limiter) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tenant := uuid.New()
				rules := mustRules(t, tt.rules)
				expectAllowed(t, l, tenant, ActionLogin, rules, tt.subject, tt.n)
				if !check(t, l, tenant, ActionLogin, rules, tt.other) {
					t.Fatalf("%+v refused after %+v was exhausted", tt.other, tt.subject)
				}
				expectAllowed(t, l, tenant, ActionLogin, rules, tt.other, tt.n)
			})
		}
	})
}

func TestRuleWithoutSubjectDoesNotApply(t *testing.T) {
	backends(t, func(t *testing.T, l *Limiter) {
		tenant := uuid.New()
		for _, tt := range []struct {
			rules string
			s     Subject
		}{
			{"1/m/user", Subject{IP: "192.0.2.1"}},
			{"1/m/key", Subject{IP: "192.0.2.1", User: "u1"}},
			{"1/m/ip", Subject{User: "u1", Key: "k"}},
			{"", Subject{IP: "192.0.2.1"}},
		} {
			rules := mustRules(t, tt.rules)
			for range 5 {
				if !allow(t, l, tenant, ActionChangePassword, rules, tt.s) {
					t.Fatalf("%q refused %+v, which it does not apply to", tt.rules, tt.s)
				}
				hit(t, l, tenant, ActionChangePassword, rules, tt.s)
			}
		}
		// With the missing field filled in, the rule applies (fresh counters).
		expectAllowed(t, l, tenant, ActionChangePassword, mustRules(t, "1/m/user"), Subject{IP: "192.0.2.1", User: "u1"}, 1)
	})
}

func TestRefusedConsumesNothing(t *testing.T) {
	backends(t, func(t *testing.T, l *Limiter) {
		tenant := uuid.New()
		rules := mustRules(t, "2/m/ip,3/m/key")
		a := Subject{IP: "192.0.2.1", Key: "k@example.com"}
		expectAllowed(t, l, tenant, ActionResetPassword, rules, a, 2) // ip exhausted, key at 2
		for range 10 {
			if allow(t, l, tenant, ActionResetPassword, rules, a) {
				t.Fatal("allowed past the ip rule")
			}
		}
		// The refusals did not count against the key: one use is left.
		b := Subject{IP: "192.0.2.2", Key: "k@example.com"}
		expectAllowed(t, l, tenant, ActionResetPassword, rules, b, 1)
		// And the key's refusal did not count against IP b: one use is left.
		expectAllowed(t, l, tenant, ActionResetPassword, rules, Subject{IP: "192.0.2.2", Key: "other"}, 1)
	})
}

func TestSeveralRules(t *testing.T) {
	backends(t, func(t *testing.T, l *Limiter) {
		tenant := uuid.New()
		rules := mustRules(t, "10/m/ip,5/300s/key")
		ip := "192.0.2.1"
		// The key rule is the tighter one for one key...
		expectAllowed(t, l, tenant, ActionLoginFailed, rules, Subject{IP: ip, Key: "k1"}, 5)
		// ...the IP rule for an IP trying many keys.
		expectAllowed(t, l, tenant, ActionLoginFailed, rules, Subject{IP: ip, Key: "k2"}, 5)
		if allow(t, l, tenant, ActionLoginFailed, rules, Subject{IP: ip, Key: "k3"}) {
			t.Fatal("11th request from one IP allowed")
		}
		// k1 is exhausted from any IP; a fresh key from a fresh IP is not.
		if allow(t, l, tenant, ActionLoginFailed, rules, Subject{IP: "192.0.2.9", Key: "k1"}) {
			t.Fatal("6th request for one key allowed from another IP")
		}
		expectAllowed(t, l, tenant, ActionLoginFailed, rules, Subject{IP: "192.0.2.9", Key: "k4"}, 5)

		// Rules of the same per and period share a counter, counted once,
		// and the smaller amount wins.
		dup := mustRules(t, "3/m/ip,5/m/ip,4/60s/ip")
		expectAllowed(t, l, tenant, ActionSignup, dup, Subject{IP: ip}, 3)
		// Same per, different periods: separate counters, each enforced.
		two := mustRules(t, "3/m/ip,4/h/ip")
		expectAllowed(t, l, tenant, ActionLogin, two, Subject{IP: ip}, 3)
	})
}

func TestIsolation(t *testing.T) {
	backends(t, func(t *testing.T, l *Limiter) {
		t1, t2 := uuid.New(), uuid.New()
		one := func(per string) []Rule { return mustRules(t, "1/m/"+per) }
		s := Subject{IP: "x", User: "x", Key: "x"}
		expectAllowed(t, l, t1, ActionManageEmail, one(PerIP), s, 1)
		// Other tenant, same everything.
		expectAllowed(t, l, t2, ActionManageEmail, one(PerIP), s, 1)
		// Same value, other kinds.
		expectAllowed(t, l, t1, ActionManageEmail, one(PerUser), s, 1)
		expectAllowed(t, l, t1, ActionManageEmail, one(PerKey), s, 1)
		// Other action.
		expectAllowed(t, l, t1, ActionChangePassword, one(PerIP), s, 1)
		// Other subject value.
		expectAllowed(t, l, t1, ActionManageEmail, one(PerIP), Subject{IP: "y"}, 1)
	})
}

func TestKeysCaseInsensitive(t *testing.T) {
	backends(t, func(t *testing.T, l *Limiter) {
		tenant := uuid.New()
		rules := mustRules(t, "2/m/key")
		allow(t, l, tenant, ActionResetPassword, rules, Subject{Key: "Jane@Example.COM"})
		expectAllowed(t, l, tenant, ActionResetPassword, rules, Subject{Key: "jane@example.com"}, 1)
		// IPs and user ids are compared exactly.
		expectAllowed(t, l, tenant, ActionResetPassword, mustRules(t, "1/m/user"), Subject{User: "AbC"}, 1)
		expectAllowed(t, l, tenant, ActionResetPassword, mustRules(t, "1/m/user"), Subject{User: "abc"}, 1)
	})
}

func TestRedisKeys(t *testing.T) {
	rdb := testenv.Redis(t)
	l := NewLimiter(rdb)
	tenant := uuid.New()
	longIP := strings.Repeat("f", 100)
	rules := mustRules(t, "10/m/ip,5/300s/key,3/h/user")
	allow(t, l, tenant, ActionLoginFailed, rules, Subject{IP: "192.0.2.1", User: "42", Key: "Jane.Doe@Example.com"})
	allow(t, l, tenant, ActionLoginFailed, rules, Subject{IP: longIP})
	prefix := "hp:{" + tenant.String() + "}:rl:"
	keys, err := rdb.Keys(context.Background(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		prefix + "login_failed:ip:m:192.0.2.1":                         true,
		prefix + "login_failed:user:h:42":                              true,
		prefix + "login_failed:key:5m:" + hash("jane.doe@example.com"): true,
		prefix + "login_failed:ip:m:#" + hash(longIP):                  true,
	}
	if len(keys) != len(want) {
		t.Fatalf("keys = %q, want %d", keys, len(want))
	}
	for _, k := range keys {
		if !want[k] {
			t.Errorf("unexpected key %q", k)
		}
		if strings.Contains(strings.ToLower(k), "jane") {
			t.Errorf("key %q carries the email in clear", k)
		}
		ttl, err := rdb.PTTL(context.Background(), k).Result()
		if err != nil || ttl <= 0 || ttl > time.Hour {
			t.Errorf("PTTL(%q) = %v, %v; want within the rule's period", k, ttl, err)
		}
	}
}

func TestSlidingWindow(t *testing.T) {
	backends(t, func(t *testing.T, l *Limiter) {
		t.Parallel()
		tenant := uuid.New()
		rules := mustRules(t, "2/1s/ip")
		s := Subject{IP: "192.0.2.1"}
		start := time.Now()
		sleepUntil := func(d time.Duration) { time.Sleep(time.Until(start.Add(d))) }
		if !allow(t, l, tenant, ActionLogin, rules, s) { // t=0
			t.Fatal("first request refused")
		}
		sleepUntil(500 * time.Millisecond)
		expectAllowed(t, l, tenant, ActionLogin, rules, s, 1) // t=0.5
		// At 1.2 s the first hit has left the window, the second has not.
		sleepUntil(1200 * time.Millisecond)
		expectAllowed(t, l, tenant, ActionLogin, rules, s, 1)
		// At 1.75 s the hit of 0.5 s has left too.
		sleepUntil(1750 * time.Millisecond)
		expectAllowed(t, l, tenant, ActionLogin, rules, s, 1)
	})
}

func TestCheckHitClear(t *testing.T) {
	backends(t, func(t *testing.T, l *Limiter) {
		tenant := uuid.New()
		ctx := context.Background()
		rules := mustRules(t, DefaultLoginFailedRate) // 10/m/ip,5/300s/key
		s := Subject{IP: "192.0.2.1", Key: "jane@example.com"}
		// Check consumes nothing.
		for range 20 {
			if !check(t, l, tenant, ActionLoginFailed, rules, s) {
				t.Fatal("Check refused an unused subject")
			}
		}
		// Four wrong passwords: still allowed; the fifth exhausts the key.
		for i := range 5 {
			if !check(t, l, tenant, ActionLoginFailed, rules, s) {
				t.Fatalf("Check refused after %d failures", i)
			}
			hit(t, l, tenant, ActionLoginFailed, rules, s)
		}
		if check(t, l, tenant, ActionLoginFailed, rules, s) {
			t.Fatal("Check allowed after 5 failures")
		}
		// Hit counts even when exhausted, without error.
		hit(t, l, tenant, ActionLoginFailed, rules, s)
		if check(t, l, tenant, ActionLoginFailed, rules, s) || allow(t, l, tenant, ActionLoginFailed, rules, s) {
			t.Fatal("allowed after Hit on an exhausted counter")
		}
		// A successful login clears the key's counter only.
		if err := l.Clear(ctx, tenant, ActionLoginFailed, rules, Subject{Key: "JANE@example.com"}); err != nil {
			t.Fatal(err)
		}
		if !check(t, l, tenant, ActionLoginFailed, rules, s) {
			t.Fatal("Check refused after Clear")
		}
		// The IP counter still holds 6 hits: 4 more are allowed.
		expectAllowed(t, l, tenant, ActionLoginFailed, rules, Subject{IP: s.IP, Key: "other@example.com"}, 4)
		// Clearing the IP too.
		if err := l.Clear(ctx, tenant, ActionLoginFailed, rules, Subject{IP: s.IP}); err != nil {
			t.Fatal(err)
		}
		expectAllowed(t, l, tenant, ActionLoginFailed, rules, s, 5)
		// Clearing nothing applicable, or no rules, is fine.
		if err := l.Clear(ctx, tenant, ActionLoginFailed, nil, s); err != nil {
			t.Fatal(err)
		}
		if err := l.Clear(ctx, tenant, ActionLoginFailed, rules, Subject{}); err != nil {
			t.Fatal(err)
		}
	})
}

func TestConcurrentAllow(t *testing.T) {
	backends(t, func(t *testing.T, l *Limiter) {
		tenant := uuid.New()
		rules := mustRules(t, "10/m/ip")
		// Warm up the fallback so that every goroutine races on it rather
		// than on the first Redis failure.
		if _, err := l.Check(context.Background(), tenant, ActionLogin, rules, Subject{IP: "warm-up"}); err != nil {
			t.Fatal(err)
		}
		var allowed atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, 50)
		for range 50 {
			wg.Go(func() {
				<-start
				ok, err := l.Allow(context.Background(), tenant, ActionLogin, rules, Subject{IP: "192.0.2.1"})
				if err != nil {
					errs <- err
				}
				if ok {
					allowed.Add(1)
				}
			})
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := allowed.Load(); n != 10 {
			t.Fatalf("%d of 50 concurrent requests allowed, want 10", n)
		}
	})
}

func TestInvalidRule(t *testing.T) {
	l := NewLimiter(nil)
	for _, r := range []Rule{{0, time.Minute, PerIP}, {1, 0, PerIP}, {1, time.Minute, "session"}} {
		if _, err := l.Allow(context.Background(), uuid.New(), ActionLogin, []Rule{r}, Subject{IP: "x"}); err == nil {
			t.Errorf("Allow with %+v: no error", r)
		}
	}
}

func TestNoRedis(t *testing.T) {
	l := NewLimiter(nil)
	expectAllowed(t, l, uuid.New(), ActionLogin, mustRules(t, "3/m/ip"), Subject{IP: "192.0.2.1"}, 3)
	if l.Degraded() {
		t.Fatal("a limiter without Redis reports Degraded")
	}
}

// TestDeadRedis: a dead Redis costs at most one short timeout, then every
// call is answered from memory.
func TestDeadRedis(t *testing.T) {
	start := time.Now()
	l := NewLimiter(deadRedis(t))
	tenant := uuid.New()
	rules := mustRules(t, "5/m/ip")
	allowed := 0
	var slowest time.Duration
	for range 200 {
		t0 := time.Now()
		ok, err := l.Allow(context.Background(), tenant, ActionLogin, rules, Subject{IP: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		slowest = max(slowest, time.Since(t0))
		if ok {
			allowed++
		}
	}
	if allowed != 5 {
		t.Fatalf("%d allowed, want 5", allowed)
	}
	if !l.Degraded() {
		t.Fatal("not Degraded")
	}
	if slowest > 3*defaultTimeout {
		t.Fatalf("slowest call took %v", slowest)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("200 calls took %v", d)
	}
}

// TestHungRedis: a Redis that accepts connections but never answers costs
// one timeout, even though the client ignores context deadlines.
func TestHungRedis(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Accept connections and never answer; close them all at the end.
	var mu sync.Mutex
	var conns []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		_ = ln.Close()
		<-accepted
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	for _, ctxTimeout := range []bool{false, true} {
		t.Run(fmt.Sprintf("ContextTimeoutEnabled=%v", ctxTimeout), func(t *testing.T) {
			rdb := redis.NewClient(&redis.Options{Addr: ln.Addr().String(), ContextTimeoutEnabled: ctxTimeout})
			defer rdb.Close()
			l := NewLimiter(rdb)
			rules := mustRules(t, "2/m/ip")
			start := time.Now()
			expectAllowed(t, l, uuid.New(), ActionLogin, rules, Subject{IP: "192.0.2.1"}, 2)
			if d := time.Since(start); d > 3*defaultTimeout {
				t.Fatalf("took %v", d)
			}
			if !l.Degraded() {
				t.Fatal("not Degraded")
			}
		})
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startRedis runs a throwaway redis-server on port, stopped by the returned
// function (and at the end of the test).
func startRedis(t *testing.T, port int) (stop func()) {
	t.Helper()
	cmd := exec.Command("/usr/bin/redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(stop)
	c := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer c.Close()
	for deadline := time.Now().Add(5 * time.Second); ; {
		if c.Ping(context.Background()).Err() == nil {
			return stop
		}
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRecovery(t *testing.T) {
	port := freePort(t)
	stop := startRedis(t, port)
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer rdb.Close()
	l := NewLimiter(rdb)
	tenant := uuid.New()
	rules := mustRules(t, "3/m/ip")
	s := Subject{IP: "192.0.2.1"}
	ctx := context.Background()

	expectAllowed(t, l, tenant, ActionLogin, rules, s, 3)
	if l.Degraded() {
		t.Fatal("Degraded with Redis up")
	}

	stop()
	t0 := time.Now()
	// The memory fallback starts empty and limits on its own.
	expectAllowed(t, l, tenant, ActionLogin, rules, s, 3)
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
	t.Logf("back on Redis %v after it restarted", time.Since(back).Round(time.Millisecond))
	// Counting in Redis again: the restarted Redis is empty.
	expectAllowed(t, l, tenant, ActionLogin, rules, s, 3)
	n, err := rdb.Exists(ctx, "hp:{"+tenant.String()+"}:rl:login:ip:m:192.0.2.1").Result()
	if err != nil || n != 1 {
		t.Fatalf("counter not in Redis after recovery: %d, %v", n, err)
	}
}

func TestMemStoreBounds(t *testing.T) {
	m := newMemStore(10, 25)
	c := func(i int, amount int, period time.Duration) counter {
		return counter{key: strconv.Itoa(i), amount: amount, period: period}
	}
	for i := range 100 {
		m.apply(modeAllow, []counter{c(i, 5, time.Minute)})
	}
	if len(m.counters) != 10 || m.lru.Len() != 10 || m.hits != 10 {
		t.Fatalf("counters %d, lru %d, hits %d; want 10 each", len(m.counters), m.lru.Len(), m.hits)
	}
	// The most recent survive.
	if m.counters["99"] == nil || m.counters["0"] != nil {
		t.Fatal("LRU evicted the wrong counters")
	}
	// Timestamps are bounded too: each counter holds at most its amount.
	for range 20 {
		m.apply(modeHit, []counter{c(1000, 5, time.Minute), c(1001, 5, time.Minute), c(1002, 5, time.Minute)})
	}
	total := 0
	for _, el := range m.counters {
		total += len(el.Value.(*memCounter).hits)
	}
	if m.hits != total || m.hits > 25 {
		t.Fatalf("hits %d (counted %d), want at most 25", m.hits, total)
	}
	// Expired counters go at the next sweep.
	m.apply(modeHit, []counter{c(2000, 1, time.Microsecond)})
	time.Sleep(time.Millisecond)
	m.sweep(time.Since(m.epoch).Microseconds())
	if m.counters["2000"] != nil {
		t.Fatal("expired counter not swept")
	}
}

func BenchmarkAllow(b *testing.B) {
	rules := mustRules(b, DefaultLoginFailedRate)
	tenant := uuid.New()
	run := func(b *testing.B, l *Limiter) {
		ctx := context.Background()
		b.Run("serial", func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				s := Subject{IP: "192.0.2." + strconv.Itoa(i%250), Key: strconv.Itoa(i) + "@example.com"}
				if _, err := l.Allow(ctx, tenant, ActionLoginFailed, rules, s); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("parallel", func(b *testing.B) {
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					s := Subject{IP: "192.0.2." + strconv.Itoa(int(i%250)), Key: strconv.Itoa(int(i)) + "@example.com"}
					if _, err := l.Allow(ctx, tenant, ActionLoginFailed, rules, s); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
	b.Run("redis", func(b *testing.B) { run(b, NewLimiter(testenv.Redis(b))) })
	b.Run("redis-ctxtimeout", func(b *testing.B) {
		opt := *testenv.Redis(b).Options()
		opt.ContextTimeoutEnabled = true
		rdb := redis.NewClient(&opt)
		defer rdb.Close()
		run(b, NewLimiter(rdb))
	})
	b.Run("fallback", func(b *testing.B) {
		l := NewLimiter(deadRedis(b))
		_, _ = l.Allow(context.Background(), tenant, ActionLogin, rules, Subject{IP: "warm-up"})
		run(b, l)
	})
}
