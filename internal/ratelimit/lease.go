package ratelimit

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
)

// Leased budgets.
//
// AllowLeased counts a request against one rule as Allow does, but a node
// does not ask Redis for every request: it takes a block of requests from
// the counter in one call (the same counter, under the same key and with
// the same sliding-window semantics as Allow: the block's requests are
// stamped in Redis as hits when the block is taken) and spends the block
// in memory, with an atomic counter and no lock, until it is spent or
// expires. A request that finds the node's block spent asks Redis for the
// next one; the others arriving meanwhile wait for that same answer.
//
// Bound. Redis never grants more hits than a rule's Amount within a Period,
// and a node spends each granted hit at most once, at or after the moment
// Redis stamped it; a block is spent only within leaseLife of being asked
// for, and leaseLife is at most half the Period. A request a node serves
// within a window of one Period is therefore stamped in that window, or
// was served from the one block the node held when the window began. So
// within any window of one Period, the requests allowed across n nodes are
// at most Amount + n blocks, and a block is at most min(64, Amount/16)
// requests (at least 1); blocks of 1, and so Allow's exact count, are what
// a key near its limit or with little traffic gets (see blockFor and
// leaseScript). TestLeaseBound checks it with two limiters on one Redis.
//
// Unused requests are handed back: when a node's block expires before it
// is spent, the node gives the rest back to Redis in the same call that
// takes its next block (LREM of the block's stamps); a block nobody asks
// after simply expires with the window, as any hit does.
//
// Redis failing is handled as in Allow: the request is counted in this
// node's memory, the limiter reports Degraded and counts every request in
// memory (blocks are not spent) until a probe reaches Redis again.
//
// Clear does not reach blocks already taken: a node may still spend the
// rest of its block after a Clear.

const (
	// maxBlock caps a block whatever the rule.
	maxBlock = 64
	// blockDivisor caps a block to a rule's Amount/blockDivisor.
	blockDivisor = 16
	// maxLeaseLife is how long a node may spend a block (half the rule's
	// Period if that is shorter).
	maxLeaseLife = time.Second
	// fastSpend: a block spent within it doubles the next one.
	fastSpend = 50 * time.Millisecond
	// leaseIdle is how long an unused lease's state is kept in memory.
	leaseIdle = time.Minute
)

// leaseKey names one counter's lease on this node.
type leaseKey struct {
	tenant uuid.UUID
	action string
	rule   Rule
	value  string
}

// lease is this node's block of one counter. left and expires are read
// without a lock; the rest is guarded by mu.
type lease struct {
	left    atomic.Int64 // requests of the block not yet spent
	expires atomic.Int64 // limiter clock (ns) after which left is void

	c counter // the counter in Redis, fixed

	mu      sync.Mutex
	flight  *leaseCall // the call for the next block, if one is out
	stamp   string     // the block's stamp in Redis ("": no block)
	granted int64      // the block's size
	taken   int64      // limiter clock (ns) when the block was asked for
	block   int64      // the size to ask for next
	dead    bool       // dropped from the map: look it up again
}

// leaseCall is a call to Redis for a block, which requests arriving
// meanwhile wait for.
type leaseCall struct {
	done    chan struct{}
	granted int64 // > 0: the block arrived (the caller kept one request)
	err     error // errFellBack: counted in memory instead
}

var errFellBack = errors.New("ratelimit: counted in memory")

// take spends one request of the block, if there is one and it has not
// expired. Lock-free.
func (s *lease) take(now int64) bool {
	if now >= s.expires.Load() {
		return false
	}
	for {
		n := s.left.Load()
		if n <= 0 {
			return false
		}
		if s.left.CompareAndSwap(n, n-1) {
			return true
		}
	}
}

// clock is the limiter's monotonic clock, in nanoseconds.
func (l *Limiter) clock() int64 { return int64(time.Since(l.epoch)) }

// subjectValue is what selects rule's counter in s, as counters reads it.
func subjectValue(rule Rule, s Subject) string {
	switch rule.Per {
	case PerIP:
		return s.IP
	case PerUser:
		return s.User
	case PerKey:
		return strings.ToLower(s.Key)
	}
	return ""
}

// TakeLeased spends one request of this node's block for rule and s (see
// AllowLeased) without any I/O, and reports whether it did. False means
// only that the caller must ask AllowLeased, which may still allow the
// request. It never allows what AllowLeased would not.
func (l *Limiter) TakeLeased(tenantID uuid.UUID, action string, rule Rule, s Subject) bool {
	if l.rdb == nil || l.degraded.Load() {
		return false
	}
	v, ok := l.leases.Load(leaseKey{tenantID, action, rule, subjectValue(rule, s)})
	return ok && v.(*lease).take(l.clock())
}

// AllowLeased consumes one request from rule for s, as Allow(ctx, tenantID,
// action, []Rule{rule}, s) does, but from a block this node leased from
// Redis; see "Leased budgets" above for the bound on the count across
// nodes. Use it for one rule that is not also counted with Allow on the
// same node, by many requests (a management API key's budget). A request
// refused consumes nothing.
func (l *Limiter) AllowLeased(ctx context.Context, tenantID uuid.UUID, action string, rule Rule, s Subject) (bool, error) {
	if l.rdb == nil {
		return l.Allow(ctx, tenantID, action, []Rule{rule}, s)
	}
	k := leaseKey{tenantID, action, rule, subjectValue(rule, s)}
	for {
		if !l.useRedis() {
			return l.Allow(ctx, tenantID, action, []Rule{rule}, s)
		}
		v, ok := l.leases.Load(k)
		if !ok {
			cs, err := counters(tenantID, action, []Rule{rule}, s)
			if err != nil || len(cs) == 0 {
				return err == nil, err
			}
			v, _ = l.leases.LoadOrStore(k, &lease{c: cs[0], block: 1})
		}
		ls := v.(*lease)
		if ls.take(l.clock()) {
			return true, nil
		}
		ok, again, err := l.refill(ctx, ls)
		if again {
			continue
		}
		return ok, err
	}
}

// refill asks Redis for ls's next block, or waits for the call already out
// and reports whether to try again (again) or the verdict.
func (l *Limiter) refill(ctx context.Context, ls *lease) (ok, again bool, err error) {
	ls.mu.Lock()
	if ls.dead {
		ls.mu.Unlock()
		return false, true, nil
	}
	if ls.take(l.clock()) {
		ls.mu.Unlock()
		return true, false, nil
	}
	if f := ls.flight; f != nil {
		ls.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return false, false, ctx.Err()
		}
		switch {
		case f.err == errFellBack:
			// Redis failed: counted in memory, as Allow does.
			return l.mem.apply(modeAllow, []counter{ls.c}), false, nil
		case f.err != nil:
			// The caller that asked gave up; ask again.
			return false, true, nil
		case f.granted == 0:
			// Asked while the counter was exhausted: refused with it.
			return false, false, nil
		}
		return false, true, nil
	}
	f := &leaseCall{done: make(chan struct{})}
	ls.flight = f
	now := l.clock()
	unused := ls.left.Swap(0)
	stamp := ls.stamp
	want := ls.nextBlock(now, unused)
	ls.mu.Unlock()

	granted, newStamp, err := l.lease(ctx, ls.c, want, stamp, unused)

	ls.mu.Lock()
	ls.flight = nil
	switch {
	case err == nil:
		ls.stamp = "" // handed back
		if granted > 0 {
			ls.stamp, ls.granted, ls.taken = newStamp, granted, now
			ls.expires.Store(now + int64(leaseLife(ls.c.period)))
			ls.left.Store(granted - 1) // one is this request's
		}
		if granted < want {
			// Near the limit: small blocks from now on.
			ls.block = max(1, granted)
		}
		f.granted = granted
	case ctx.Err() != nil:
		// The caller gave up, which says nothing about Redis; the block
		// is kept as it was.
		ls.left.Add(unused)
		f.err = ctx.Err()
	default:
		l.trip()
		f.err = errFellBack
	}
	ls.mu.Unlock()
	close(f.done)
	l.sweepLeases(now)
	if f.err == errFellBack {
		return l.mem.apply(modeAllow, []counter{ls.c}), false, nil
	}
	return granted > 0, false, f.err
}

// nextBlock adapts the block to the traffic the last one saw and returns
// the size to ask for: the last block spent within fastSpend doubles it, a
// block that expired with requests left shrinks it to what was spent. It
// never exceeds maxBlockFor(amount). Called with mu held.
func (ls *lease) nextBlock(now, unused int64) int64 {
	if ls.granted > 0 {
		spent := ls.granted - unused
		switch {
		case unused > 0:
			ls.block = max(1, spent)
		case now-ls.taken < int64(fastSpend) && ls.granted >= ls.block:
			ls.block *= 2
		}
	}
	ls.granted = 0
	ls.block = min(ls.block, maxBlockFor(ls.c.amount))
	return ls.block
}

// maxBlockFor is the largest block of a rule of amount requests.
func maxBlockFor(amount int) int64 {
	return int64(max(1, min(maxBlock, amount/blockDivisor)))
}

// leaseLife is how long a node may spend a block of a rule of period.
func leaseLife(period time.Duration) time.Duration {
	return min(maxLeaseLife, period/2)
}

// sweepLeases drops, at most once per leaseIdle, the leases whose block
// expired over leaseIdle ago.
func (l *Limiter) sweepLeases(now int64) {
	next := l.nextLeaseSweep.Load()
	if now < next || !l.nextLeaseSweep.CompareAndSwap(next, now+int64(leaseIdle)) {
		return
	}
	l.leases.Range(func(k, v any) bool {
		ls := v.(*lease)
		ls.mu.Lock()
		if ls.flight == nil && ls.expires.Load() < now-int64(leaseIdle) {
			ls.dead = true
			l.leases.Delete(k)
		}
		ls.mu.Unlock()
		return true
	})
}

// lease takes a block of up to want requests of c from Redis and hands
// back unused requests of the block stamped stamp. It returns how many it
// took (0: the counter is exhausted) and the block's stamp.
func (l *Limiter) lease(ctx context.Context, c counter, want int64, stamp string, unused int64) (int64, string, error) {
	if stamp == "" {
		unused = 0
	}
	ttl := (c.period + time.Millisecond - 1) / time.Millisecond
	var granted int64
	var got string
	_, err := l.call(ctx, func(ctx context.Context) (int64, error) {
		res, err := leaseScript.Run(ctx, l.rdb, []string{c.key},
			c.amount, micros(c.period), int64(ttl), want, stamp, unused).Slice()
		if err != nil {
			return 0, err
		}
		if len(res) != 2 {
			return 0, errors.New("ratelimit: unexpected lease answer")
		}
		n, _ := res[0].(int64)
		s, _ := res[1].(string)
		granted, got = n, s
		return n, nil
	})
	return granted, got, err
}

// leaseScript takes a block of hits from one counter of script (the same
// list of hit times, newest first, at most amount of them). KEYS[1] is the
// counter; ARGV: amount, period in µs, TTL in ms, the block wanted, and
// the stamp and count of hits to hand back first (count 0: none).
//
// free(n) tells whether n more hits fit: the (amount-n)th newest hit is
// outside the period (or missing), as script tests for n = 1. A counter
// with room for 4 blocks grants the whole block with one LINDEX; nearer
// its limit it grants a quarter of the room left (at least 1, never more
// than the block), found by bisection, so that the nodes asking share the
// rest in ever smaller blocks. The granted hits are pushed with one stamp
// (Redis's clock in µs), returned with their count.
var leaseScript = redis.NewScript(`
local key = KEYS[1]
local amount = tonumber(ARGV[1])
local want = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local since = now - tonumber(ARGV[2])
if ARGV[6] ~= '0' then
  redis.call('LREM', key, ARGV[6], ARGV[5])
end
local function free(n)
  if n > amount then
    return false
  end
  local hit = redis.call('LINDEX', key, amount - n)
  return (not hit) or tonumber(hit) <= since
end
local grant = want
if not free(4 * want) then
  local lo, hi = 0, math.min(4 * want, amount + 1)
  while hi - lo > 1 do
    local mid = math.floor((lo + hi) / 2)
    if free(mid) then lo = mid else hi = mid end
  end
  if lo == 0 then
    return {0, ''}
  end
  grant = math.max(1, math.min(want, math.floor(lo / 4)))
end
local stamp = string.format('%.0f', now)
local stamps = {}
for i = 1, grant do
  stamps[i] = stamp
end
redis.call('LPUSH', key, unpack(stamps))
redis.call('LTRIM', key, 0, amount - 1)
redis.call('PEXPIRE', key, ARGV[3])
return {grant, stamp}
`)
