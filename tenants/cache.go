package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/hallpass/hallpass/internal/metrics"
)

// Loader reads tenants from their system of record (the Store).
type Loader interface {
	Get(ctx context.Context, slug string) (*Tenant, error)
	GetByDomain(ctx context.Context, domain string) (*Tenant, error)
}

// Cache keeps resolved tenants in process memory. Entries expire after a TTL
// as a safety net; changes reach every node at once through Bus.
type Cache struct {
	loader      Loader
	ttl         time.Duration
	negativeTTL time.Duration
	now         func() time.Time

	mu sync.RWMutex
	// gen counts invalidations; a load that started before one must not
	// store its (possibly stale) result.
	gen      uint64
	bySlug   map[string]cacheEntry
	byDomain map[string]cacheEntry
	flights  singleflight.Group
}

type cacheEntry struct {
	tenant  *Tenant // nil: known not to exist
	expires time.Time
}

// NewCache returns a cache over loader. ttl bounds how long a node can serve a
// stale tenant if it misses an invalidation; unknown names are remembered for
// a shorter time so a probe for random slugs cannot hammer the database.
func NewCache(loader Loader, ttl time.Duration) *Cache {
	return &Cache{
		loader:      loader,
		ttl:         ttl,
		negativeTTL: min(ttl, 5*time.Second),
		now:         time.Now,
		bySlug:      map[string]cacheEntry{},
		byDomain:    map[string]cacheEntry{},
	}
}

// BySlug returns the tenant with slug, or ErrNotFound.
func (c *Cache) BySlug(ctx context.Context, slug string) (*Tenant, error) {
	return c.lookup(ctx, c.bySlug, "s:"+slug, slug, c.loader.Get)
}

// ByDomain returns the tenant owning the verified custom domain, or ErrNotFound.
func (c *Cache) ByDomain(ctx context.Context, domain string) (*Tenant, error) {
	return c.lookup(ctx, c.byDomain, "d:"+domain, domain, c.loader.GetByDomain)
}

func (c *Cache) lookup(ctx context.Context, m map[string]cacheEntry, flightKey, key string,
	load func(context.Context, string) (*Tenant, error)) (*Tenant, error) {
	c.mu.RLock()
	e, ok := m[key]
	c.mu.RUnlock()
	if ok && c.now().Before(e.expires) {
		metrics.TenantCacheHit()
		if e.tenant == nil {
			return nil, ErrNotFound
		}
		return e.tenant, nil
	}
	metrics.TenantCacheMiss()
	v, err, _ := c.flights.Do(flightKey, func() (any, error) {
		// The entry outlives the request: key may point into a buffer the
		// caller reuses (Fiber's zero-copy strings), so keep a copy.
		key := strings.Clone(key)
		// The load must not die with one caller's request context: other
		// callers wait on the same flight.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		c.mu.RLock()
		gen := c.gen
		c.mu.RUnlock()
		t, err := load(lctx, key)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		if gen != c.gen {
			return t, nil // answer this caller, but do not cache across a change
		}
		if len(m) >= maxCacheEntries {
			c.prune(m)
		}
		if t == nil {
			m[key] = cacheEntry{expires: c.now().Add(c.negativeTTL)}
			return (*Tenant)(nil), nil
		}
		m[key] = cacheEntry{tenant: t, expires: c.now().Add(c.ttl)}
		return t, nil
	})
	if err != nil {
		return nil, err
	}
	t := v.(*Tenant)
	if t == nil {
		return nil, ErrNotFound
	}
	return t, nil
}

// maxCacheEntries bounds each map: requests for random slugs or hosts
// (negative entries) must not grow the cache without limit.
const maxCacheEntries = 100_000

// prune drops expired entries, and everything if that is not enough; the
// caller holds the lock.
func (c *Cache) prune(m map[string]cacheEntry) {
	now := c.now()
	for k, e := range m {
		if !now.Before(e.expires) {
			delete(m, k)
		}
	}
	if len(m) >= maxCacheEntries {
		clear(m)
	}
}

// Invalidate drops every entry that names the changed tenant.
func (c *Cache) Invalidate(ch Change) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	delete(c.bySlug, ch.Slug)
	for _, d := range ch.Domains {
		delete(c.byDomain, d)
	}
	for _, m := range []map[string]cacheEntry{c.bySlug, c.byDomain} {
		for k, e := range m {
			if e.tenant != nil && e.tenant.ID == ch.ID {
				delete(m, k)
			}
		}
	}
	// Forget in-flight loads too, so a load that began before the change
	// cannot repopulate the cache with the old tenant.
	c.flights.Forget("s:" + ch.Slug)
	for _, d := range ch.Domains {
		c.flights.Forget("d:" + d)
	}
}

// Flush drops everything; used when invalidations may have been missed.
func (c *Cache) Flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	// Emptied in place: BySlug and ByDomain read these fields without the
	// lock, so they must never be reassigned.
	clear(c.bySlug)
	clear(c.byDomain)
}

// Bus carries tenant changes between nodes over Redis pub/sub.
//
// What it promises: while Redis is reachable, a change reaches every other
// node's cache as soon as the message does (well under a second). A change
// whose publish fails (Redis down, stalled or slow) is kept and published
// again in the background, with backoff, until it goes through or
// RetryFor has passed, by which time every cached copy has expired anyway.
// A node whose subscription was lost flushes its whole cache as soon as it
// is subscribed again, since it may have missed changes meanwhile.
type Bus struct {
	rdb     *redis.Client
	channel string
	log     *slog.Logger

	// RetryFor is how long a change that could not be published is retried;
	// it should be the tenant cache's TTL. Zero means DefaultRetryFor.
	RetryFor time.Duration

	mu       sync.Mutex
	unsent   map[uuid.UUID]unsentChange
	retrying bool
}

// DefaultRetryFor is Bus.RetryFor's default: the TTL serve gives the tenant
// cache, after which no node holds a copy older than the change.
const DefaultRetryFor = 30 * time.Second

// unsentChange is a change waiting to be published again.
type unsentChange struct {
	change Change
	since  time.Time
	// merges counts the failed publishes folded into this entry: a retry
	// only settles the entry if none was added after it took its copy.
	merges int
}

// DefaultChannel is the pub/sub channel tenant changes travel on.
const DefaultChannel = "hp:tenants:changed"

// NewBus returns a Bus on channel (DefaultChannel when empty).
func NewBus(rdb *redis.Client, channel string, log *slog.Logger) *Bus {
	if channel == "" {
		channel = DefaultChannel
	}
	if log == nil {
		log = slog.Default()
	}
	return &Bus{rdb: rdb, channel: channel, log: log}
}

// PublishChange announces a change to every node. When Redis does not take
// it, the change is also queued for publishing again in the background (see
// Bus), and the error is returned for the caller to log if it wishes.
func (b *Bus) PublishChange(ctx context.Context, c Change) error {
	err := b.publish(ctx, c)
	if err != nil {
		b.log.Warn("tenant bus: publish failed; retrying in the background", "tenant", c.Slug, "err", err)
		b.retryLater(c)
	}
	return err
}

// busPublishTimeout bounds one background publish attempt.
const busPublishTimeout = time.Second

func (b *Bus) publish(ctx context.Context, c Change) error {
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return b.rdb.Publish(ctx, b.channel, raw).Err()
}

// retryLater queues c (merged with a change of the same tenant already
// waiting) and starts the retrier unless it runs.
func (b *Bus) retryLater(c Change) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.unsent == nil {
		b.unsent = map[uuid.UUID]unsentChange{}
	}
	u, ok := b.unsent[c.ID]
	if !ok {
		u = unsentChange{since: time.Now()}
	}
	u.change = mergeChanges(u.change, c)
	u.merges++
	b.unsent[c.ID] = u
	if !b.retrying {
		b.retrying = true
		go b.retry()
	}
}

// mergeChanges returns a change naming every slug and domain of a and b
// (the newer slug, b's, wins; the older one's domains are kept so that
// nodes drop entries under either).
func mergeChanges(a, b Change) Change {
	out := Change{ID: b.ID, Slug: b.Slug}
	seen := map[string]bool{}
	for _, d := range append(append([]string(nil), a.Domains...), b.Domains...) {
		if !seen[d] {
			seen[d] = true
			out.Domains = append(out.Domains, d)
		}
	}
	return out
}

// retry publishes the queued changes until each went through or is older
// than RetryFor, then ends. It runs at most once per Bus at a time.
func (b *Bus) retry() {
	retryFor := b.RetryFor
	if retryFor <= 0 {
		retryFor = DefaultRetryFor
	}
	backoff := 50 * time.Millisecond
	for {
		time.Sleep(backoff)
		backoff = min(backoff*2, time.Second)
		b.mu.Lock()
		batch := make([]unsentChange, 0, len(b.unsent))
		for id, u := range b.unsent {
			if time.Since(u.since) > retryFor {
				b.log.Warn("tenant bus: change not published; other nodes see it when their cache expires", "tenant", u.change.Slug)
				delete(b.unsent, id)
				continue
			}
			batch = append(batch, u)
		}
		if len(batch) == 0 {
			b.retrying = false
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		for _, u := range batch {
			ctx, cancel := context.WithTimeout(context.Background(), busPublishTimeout)
			err := b.publish(ctx, u.change)
			cancel()
			if err != nil {
				break // Redis is still away: wait and try the lot again
			}
			b.mu.Lock()
			// A newer failure of the same tenant may have merged in since the
			// batch was taken (its change may postdate this publish): then
			// the entry stays for the next round.
			if cur, ok := b.unsent[u.change.ID]; ok && cur.merges == u.merges {
				delete(b.unsent, u.change.ID)
			}
			b.mu.Unlock()
			backoff = 50 * time.Millisecond
		}
	}
}

// Unsent reports how many changes wait to be published again.
func (b *Bus) Unsent() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.unsent)
}

// Run applies changes from other nodes to cache until ctx ends. Whenever the
// subscription is (re)established the whole cache is flushed, because changes
// published while it was down were missed. ready, if not nil, is closed after
// the first subscription is confirmed.
func (b *Bus) Run(ctx context.Context, cache *Cache, ready chan<- struct{}) {
	ps := b.rdb.Subscribe(ctx, b.channel)
	defer ps.Close()
	// Receive blocks on the connection; closing it is what ends the wait
	// when ctx ends.
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() })
	defer stop()
	backoff := 50 * time.Millisecond
	for {
		msg, err := ps.Receive(ctx)
		if ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
			return
		}
		if err != nil {
			b.log.Warn("tenant bus: receive failed; flushing cache", "err", err)
			cache.Flush()
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 2*time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		switch m := msg.(type) {
		case *redis.Subscription:
			cache.Flush()
			if ready != nil && m.Kind == "subscribe" {
				close(ready)
				ready = nil
			}
		case *redis.Message:
			var ch Change
			if err := json.Unmarshal([]byte(m.Payload), &ch); err != nil || ch.ID == uuid.Nil {
				b.log.Warn("tenant bus: bad message; flushing cache", "payload", m.Payload)
				cache.Flush()
				continue
			}
			cache.Invalidate(ch)
		}
	}
}
