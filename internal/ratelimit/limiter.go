package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Subject is what a request is counted against: a rule "per ip" counts
// against IP, "per user" against User (the user's id) and "per key" against
// Key (the action's key, e.g. the email address a reset is requested for).
// An empty field means rules counting against it do not apply to this
// request (e.g. a per-user rule for an anonymous request), so callers can
// also pick the rules they mean: Clear with only Key set clears only the
// per-key counters.
//
// Keys are compared case-insensitively and never stored in clear: the
// limiter keys its counters by the SHA-256 of the lower-cased Key. IPs and
// user ids longer than 64 bytes are hashed too.
type Subject struct {
	IP, User, Key string
}

// Limiter enforces rate-limit rules with counters in Redis, shared by every
// node of a deployment, under keys "hp:{<tenant>}:rl:..." so that a tenant's
// counters live in one Redis Cluster slot.
//
// Each rule is a sliding window, as in allauth: a request is allowed while
// fewer than Amount hits happened in the Period before it (allauth keeps the
// list of hit timestamps; so does the limiter, newest first and at most
// Amount of them, timed by the Redis server's clock).
//
// When Redis fails or does not answer within 400 ms, the limiter falls back
// to counters in this node's memory with the same semantics (bounded to
// 100,000 counters holding at most 1,000,000 timestamps in all, least
// recently used dropped first), reports Degraded, and tries Redis again in
// the background at most once a second until it answers; no request waits
// for Redis meanwhile. Counters kept in memory are per node, so a deployment
// of n nodes allows up to n times the configured rate while degraded, and
// hits counted in memory are not carried over to Redis when it comes back.
//
// AllowLeased counts against the same counters without a Redis call per
// request: each node leases blocks of a counter (lease.go).
//
// A Limiter is safe for concurrent use.
type Limiter struct {
	rdb     *redis.Client // nil: memory only
	direct  bool          // rdb honours context deadlines
	mem     *memStore
	timeout time.Duration // per Redis call
	retry   time.Duration // between Redis probes while degraded

	degraded  atomic.Bool
	probing   atomic.Bool
	nextProbe atomic.Int64 // unix nanoseconds

	// AllowLeased's blocks (lease.go).
	epoch          time.Time // origin of clock
	leases         sync.Map  // leaseKey → *lease
	nextLeaseSweep atomic.Int64
}

const (
	// defaultTimeout is how long a call waits for Redis before falling back.
	// Generous enough that a busy machine's slow answer is not mistaken for
	// an outage (each fallback splits the counts between Redis and memory).
	defaultTimeout = 400 * time.Millisecond
	defaultRetry   = time.Second
	maxMemCounters = 100_000
	maxMemHits     = 1_000_000
	maxClearValue  = 64 // longer IPs and user ids are hashed
)

// NewLimiter returns a limiter keeping its counters in rdb. A nil rdb keeps
// them in this node's memory only (and is not reported as Degraded).
//
// Give it a client with ContextTimeoutEnabled: with it, the client itself
// abandons a command after the limiter's 400 ms; without it, the client
// would wait for its ReadTimeout on a Redis that stopped answering, so the
// limiter runs each command on a goroutine of its own to stop waiting in
// time, which costs a goroutine switch (some µs) a call.
func NewLimiter(rdb *redis.Client) *Limiter {
	return &Limiter{
		rdb:     rdb,
		direct:  rdb != nil && rdb.Options().ContextTimeoutEnabled,
		mem:     newMemStore(maxMemCounters, maxMemHits),
		timeout: defaultTimeout,
		retry:   defaultRetry,
		epoch:   time.Now(),
	}
}

// SetTimeout sets how long a call waits for Redis before it counts in
// memory instead (400 ms by default). Call it before the limiter is used.
// Test harnesses on a loaded machine give Redis longer, so that counters
// whose exact values a test checks stay in one place.
func (l *Limiter) SetTimeout(d time.Duration) {
	if d > 0 {
		l.timeout = d
	}
}

// Allow consumes one hit from every rule of action that applies to s,
// atomically: if any of them is exhausted, it consumes nothing and returns
// false. No applicable rule means allowed.
func (l *Limiter) Allow(ctx context.Context, tenantID uuid.UUID, action string, rules []Rule, s Subject) (bool, error) {
	return l.run(ctx, modeAllow, tenantID, action, rules, s)
}

// Check reports whether Allow would allow the request now, consuming
// nothing.
func (l *Limiter) Check(ctx context.Context, tenantID uuid.UUID, action string, rules []Rule, s Subject) (bool, error) {
	return l.run(ctx, modeCheck, tenantID, action, rules, s)
}

// Hit consumes one hit from every rule of action that applies to s, even
// one already exhausted (it then stays exhausted for a full period from
// now). Used for allauth's login_failed: Check before trying a password, Hit
// when the password is wrong.
func (l *Limiter) Hit(ctx context.Context, tenantID uuid.UUID, action string, rules []Rule, s Subject) error {
	_, err := l.run(ctx, modeHit, tenantID, action, rules, s)
	return err
}

// Undo takes back the newest hit of every applicable counter: allauth's
// login_failed is consumed before the password is checked (so parallel
// attempts cannot overrun it) and given back when the password was right.
func (l *Limiter) Undo(ctx context.Context, tenantID uuid.UUID, action string, rules []Rule, s Subject) error {
	_, err := l.run(ctx, modeUndo, tenantID, action, rules, s)
	return err
}

// Clear forgets every hit counted by the rules of action that apply to s.
func (l *Limiter) Clear(ctx context.Context, tenantID uuid.UUID, action string, rules []Rule, s Subject) error {
	cs, err := counters(tenantID, action, rules, s)
	if err != nil || len(cs) == 0 {
		return err
	}
	keys := make([]string, len(cs))
	for i, c := range cs {
		keys[i] = c.key
	}
	// Hits counted in memory while Redis was down are forgotten as well, so
	// that a later outage does not bring them back.
	l.mem.clear(keys)
	if !l.useRedis() {
		return nil
	}
	_, err = l.call(ctx, func(ctx context.Context) (int64, error) {
		return l.rdb.Del(ctx, keys...).Result()
	})
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		l.trip()
	}
	return nil
}

// Degraded reports whether the limiter is counting in memory because Redis
// is unavailable. While it is, a call starts a background attempt to reach
// Redis if none was made in the last second, so polling Degraded alone
// notices Redis coming back.
func (l *Limiter) Degraded() bool {
	if l.rdb == nil || !l.degraded.Load() {
		return false
	}
	l.probe()
	return l.degraded.Load()
}

type mode int

const (
	modeAllow mode = iota
	modeCheck
	modeHit
	modeUndo
)

var modeArg = [...]string{modeAllow: "allow", modeCheck: "check", modeHit: "hit", modeUndo: "undo"}

func (l *Limiter) run(ctx context.Context, m mode, tenantID uuid.UUID, action string, rules []Rule, s Subject) (bool, error) {
	cs, err := counters(tenantID, action, rules, s)
	if err != nil {
		return false, err
	}
	if len(cs) == 0 {
		return true, nil
	}
	if l.useRedis() {
		keys := make([]string, len(cs))
		args := make([]any, 1, 1+3*len(cs))
		args[0] = modeArg[m]
		for i, c := range cs {
			keys[i] = c.key
			ttl := (c.period + time.Millisecond - 1) / time.Millisecond
			args = append(args, c.amount-1, micros(c.period), int64(ttl))
		}
		n, err := l.call(ctx, func(ctx context.Context) (int64, error) {
			return script.Run(ctx, l.rdb, keys, args...).Int64()
		})
		if err == nil {
			return n == 1, nil
		}
		if ctx.Err() != nil {
			// The caller gave up; that says nothing about Redis.
			return false, ctx.Err()
		}
		l.trip()
	}
	return l.mem.apply(m, cs), nil
}

// useRedis reports whether to try Redis, starting a probe if it is down.
func (l *Limiter) useRedis() bool {
	if l.rdb == nil {
		return false
	}
	if !l.degraded.Load() {
		return true
	}
	l.probe()
	return false
}

// trip switches to memory until a probe finds Redis again.
func (l *Limiter) trip() {
	l.nextProbe.Store(time.Now().Add(l.retry).UnixNano())
	l.degraded.Store(true)
}

// probe pings Redis in the background, unless a probe is running or the
// last one failed less than l.retry ago.
func (l *Limiter) probe() {
	if time.Now().UnixNano() < l.nextProbe.Load() || !l.probing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer l.probing.Store(false)
		_, err := l.call(context.Background(), func(ctx context.Context) (int64, error) {
			return 0, l.rdb.Ping(ctx).Err()
		})
		if err != nil {
			l.nextProbe.Store(time.Now().Add(l.retry).UnixNano())
			return
		}
		l.degraded.Store(false)
	}()
}

// call runs f with the per-call timeout. If the client ignores context
// deadlines once a command is on the wire, call runs f on a goroutine and
// returns when the timeout expires even if f does not; f then finishes on
// its own (after the client's ReadTimeout at worst), which happens only for
// calls in flight when Redis hangs, since the limiter stops calling Redis
// until a probe gets an answer.
func (l *Limiter) call(ctx context.Context, f func(context.Context) (int64, error)) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout)
	defer cancel()
	if l.direct {
		return f(ctx)
	}
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := f(ctx)
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		return r.n, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// script applies one request to the counters KEYS, each a list of hit
// times in microseconds, newest first, of at most its rule's amount.
// ARGV[1] is the mode; then three arguments per key: the index of its
// amount-th newest hit (amount - 1), its period in µs and in ms (the TTL).
// A counter is exhausted when its amount-th newest hit is within the
// period. Returns 1 if allowed, 0 if not. Numbers computed in Go are passed
// as strings so that Lua never formats them (it would print large ones in
// exponent notation).
var script = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local mode = ARGV[1]
if mode == 'undo' then
  for i, key in ipairs(KEYS) do
    redis.call('LPOP', key)
  end
  return 1
end
if mode ~= 'hit' then
  for i, key in ipairs(KEYS) do
    local nth = redis.call('LINDEX', key, ARGV[3*i-1])
    if nth and tonumber(nth) > now - tonumber(ARGV[3*i]) then
      return 0
    end
  end
  if mode == 'check' then
    return 1
  end
end
local stamp = string.format('%.0f', now)
for i, key in ipairs(KEYS) do
  redis.call('LPUSH', key, stamp)
  redis.call('LTRIM', key, 0, ARGV[3*i-1])
  redis.call('PEXPIRE', key, ARGV[3*i+1])
end
return 1
`)

// counter is one rule applied to one subject.
type counter struct {
	key    string
	amount int
	period time.Duration
}

// counters returns the counters of the rules that apply to s. Rules that
// land on the same counter (same per and period) are merged into one with
// the smallest amount, so that a hit is counted once.
func counters(tenantID uuid.UUID, action string, rules []Rule, s Subject) ([]counter, error) {
	cs := make([]counter, 0, len(rules))
next:
	for _, r := range rules {
		if r.Amount < 1 || r.Period <= 0 {
			return nil, fmt.Errorf("ratelimit: %s: invalid rule %q", action, r)
		}
		var value string
		switch r.Per {
		case PerIP:
			value = clearOrHash(s.IP)
		case PerUser:
			value = clearOrHash(s.User)
		case PerKey:
			if s.Key != "" {
				value = hash(strings.ToLower(s.Key))
			}
		default:
			return nil, fmt.Errorf("ratelimit: %s: invalid rule %q", action, r)
		}
		if value == "" {
			continue
		}
		key := "hp:{" + tenantID.String() + "}:rl:" + action + ":" + r.Per + ":" + formatPeriod(r.Period) + ":" + value
		for i := range cs {
			if cs[i].key == key {
				cs[i].amount = min(cs[i].amount, r.Amount)
				continue next
			}
		}
		cs = append(cs, counter{key: key, amount: r.Amount, period: r.Period})
	}
	return cs, nil
}

func hash(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

// clearOrHash keeps short values readable. A hashed value is one byte
// longer than any value kept in clear, so the two never collide.
func clearOrHash(v string) string {
	if len(v) <= maxClearValue {
		return v
	}
	return "#" + hash(v)
}

// micros rounds d up to whole microseconds, the resolution of the counters.
func micros(d time.Duration) string {
	return strconv.FormatInt(micros64(d), 10)
}

func micros64(d time.Duration) int64 {
	return int64((d + time.Microsecond - 1) / time.Microsecond)
}
