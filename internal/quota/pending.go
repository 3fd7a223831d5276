// Package quota bounds what one tenant may hold of the resources every
// tenant shares. Pending caps the anonymous state a tenant keeps in Redis
// (pending sessions, provider redirect states): Redis runs with
// noeviction, so without a cap one tenant's traffic, or an attack on it,
// could fill the memory every tenant needs.
package quota

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/failure"
	"github.com/hallpass/hallpass/internal/metrics"
	"github.com/hallpass/hallpass/internal/redisguard"
)

// DefaultPendingCeiling is how many pieces of anonymous state a tenant may
// hold at once unless the platform sets otherwise
// (HALLPASS_TENANT_PENDING_LIMIT): at allauth's 15-minute login timeout,
// some 50 new pending flows a second, sustained, far beyond a login page's
// traffic, and at most some tens of MB of Redis.
const DefaultPendingCeiling = 50_000

// ErrExhausted means the tenant holds as much pending state as it may:
// new anonymous state is refused until some expires: answered as allauth
// answers a rate limit (429), with Retry-After: 60.
var ErrExhausted = failure.NewSentinel(http.StatusTooManyRequests, "rate_limited",
	"quota: the tenant's pending-state budget is exhausted").WithRetryAfter(60)

// Pending counts each tenant's live pending state in Redis, in a sorted set
// hp:{<tenant>}:quota:pending of the state's ids scored by their expiry,
// so that expired state stops counting without anyone deleting it. A Pending
// is safe for concurrent use.
type Pending struct {
	rdb     redis.Cmdable
	ceiling atomic.Int64
	// guard bounds each Redis call (redisguard.For: shared with the other
	// stores on the same client): a slow Redis must not hold requests, nor
	// a busy machine's late answer be taken for an outage.
	guard *redisguard.Guard

	// Per-tenant figures this process saw, for the metrics.
	mu      sync.Mutex
	tenants map[uuid.UUID]*usage
}

type usage struct {
	live    int64 // last count seen
	refused uint64
}

// maxTracked bounds the tenants the metrics keep figures for; beyond it,
// new tenants are summed under tenant="other".
const maxTracked = 10_000

// NewPending returns a budget of ceiling pieces of state per tenant
// (DefaultPendingCeiling when ceiling < 1), counted in rdb, and registers
// its per-tenant figures with the default metrics registry.
func NewPending(rdb redis.Cmdable, ceiling int) *Pending {
	p := &Pending{rdb: rdb, guard: redisguard.For(rdb), tenants: map[uuid.UUID]*usage{}}
	p.SetCeiling(ceiling)
	metrics.Default.Collect("tenant_pending_state", p.collect)
	return p
}

// SetCeiling changes the per-tenant ceiling (DefaultPendingCeiling when
// n < 1).
func (p *Pending) SetCeiling(n int) {
	if n < 1 {
		n = DefaultPendingCeiling
	}
	p.ceiling.Store(int64(n))
}

func key(tenantID uuid.UUID) string {
	return "hp:{" + tenantID.String() + "}:quota:pending"
}

// reserve drops the expired entries, and adds id (expiring after ttl) if
// the tenant holds fewer than ARGV[1]; it answers the count after, or -1
// when refused. An id already present is renewed, not counted twice. The
// set itself expires with its last entry.
var reserve = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expires = now + tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local n = redis.call('ZCARD', KEYS[1])
if not redis.call('ZSCORE', KEYS[1], ARGV[2]) then
  if n >= tonumber(ARGV[1]) then
    return -1
  end
  n = n + 1
end
redis.call('ZADD', KEYS[1], expires, ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return n
`)

// Reserve counts one piece of the tenant's pending state, id, for ttl:
// ErrExhausted if the tenant is at its ceiling. Store the state only
// after Reserve succeeded, and Release it when the state is deleted early.
func (p *Pending) Reserve(ctx context.Context, tenantID uuid.UUID, id string, ttl time.Duration) error {
	if p == nil {
		return nil
	}
	ms := max(ttl.Milliseconds(), 1)
	rctx, done := p.guard.Bound(ctx)
	n, err := reserve.Run(rctx, p.rdb, []string{key(tenantID)}, p.ceiling.Load(), id, ms).Int64()
	done(err)
	if err != nil {
		return fmt.Errorf("quota: reserve: %w", err)
	}
	if n < 0 {
		p.note(tenantID, -1, true)
		return ErrExhausted
	}
	p.note(tenantID, n, false)
	return nil
}

// Release stops counting id (its state was deleted before it expired).
// Errors are ignored: the entry then counts until it expires.
func (p *Pending) Release(ctx context.Context, tenantID uuid.UUID, id string) {
	if p == nil {
		return
	}
	rctx, done := p.guard.Bound(ctx)
	done(p.rdb.ZRem(rctx, key(tenantID), id).Err())
}

// Usage returns how much live pending state the tenant holds (0 when Redis
// does not answer).
func (p *Pending) Usage(ctx context.Context, tenantID uuid.UUID) int {
	rctx, done := p.guard.Bound(ctx)
	now := strconv.FormatInt(time.Now().UnixMilli(), 10)
	n, err := p.rdb.ZCount(rctx, key(tenantID), "("+now, "+inf").Result()
	done(err)
	if err != nil {
		return 0
	}
	p.note(tenantID, n, false)
	return int(n)
}

// note records what a call saw (live < 0: unknown).
func (p *Pending) note(tenantID uuid.UUID, live int64, refused bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u, ok := p.tenants[tenantID]
	if !ok {
		if len(p.tenants) >= maxTracked {
			tenantID = uuid.Nil // "other"
			if u, ok = p.tenants[tenantID]; !ok {
				u = &usage{}
				p.tenants[tenantID] = u
			}
		} else {
			u = &usage{}
			p.tenants[tenantID] = u
		}
	}
	if live >= 0 && tenantID != uuid.Nil {
		u.live = live
	}
	if refused {
		u.refused++
	}
}

// collect writes, at each scrape, every tenant's pending state as last seen
// by this process (refreshed from Redis, which every node shares) and the
// requests refused for its budget, so operators see who fills Redis.
func (p *Pending) collect(e *metrics.Emitter) {
	p.mu.Lock()
	ids := make([]uuid.UUID, 0, len(p.tenants))
	for id := range p.tenants {
		if id != uuid.Nil {
			ids = append(ids, id)
		}
	}
	p.mu.Unlock()
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	if len(ids) > 0 {
		ctx, done := p.guard.Bound(context.Background())
		now := "(" + strconv.FormatInt(time.Now().UnixMilli(), 10)
		pipe := p.rdb.Pipeline()
		cmds := make([]*redis.IntCmd, len(ids))
		for i, id := range ids {
			cmds[i] = pipe.ZCount(ctx, key(id), now, "+inf")
		}
		_, err := pipe.Exec(ctx)
		done(err)
		for i, id := range ids {
			if n, err := cmds[i].Result(); err == nil {
				p.note(id, n, false)
			}
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e.Gauge("hallpass_tenant_pending_state_ceiling", "Pending anonymous states (sessions, provider redirect states) a tenant may hold in Redis.",
		float64(p.ceiling.Load()))
	label := func(id uuid.UUID) metrics.Label {
		if id == uuid.Nil {
			return metrics.Label{Name: "tenant", Value: "other"}
		}
		return metrics.Label{Name: "tenant", Value: id.String()}
	}
	all := append(ids, uuid.Nil)
	for _, id := range all {
		if u, ok := p.tenants[id]; ok && id != uuid.Nil {
			e.Gauge("hallpass_tenant_pending_states", "Pending anonymous states (sessions, provider redirect states) the tenant holds in Redis.",
				float64(u.live), label(id))
		}
	}
	for _, id := range all {
		if u, ok := p.tenants[id]; ok {
			e.Counter("hallpass_tenant_pending_refused_total", "Anonymous states refused because the tenant held its ceiling of pending state.",
				float64(u.refused), label(id))
		}
	}
}
