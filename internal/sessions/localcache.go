package sessions

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// The local session cache keeps Redis session entries in the server's own
// memory, so that checking a session (GET auth/session, a JWT's session)
// costs no network round trip. Entries are only ever served while the node
// holds a lease, and every change to a session entry reaches every node
// holding a lease before the change's request answers:
//
//   - A node subscribes to the invalidation channel, and only then empties
//     its cache and registers in the nodes set (a Redis sorted set scored by
//     lease expiry, in Redis's clock). It renews its registration every
//     leaseTick, each time proving its subscription alive by a ping answered
//     through it; it serves from memory only until the renewal's send time
//     plus the lease.
//   - A writer changes Redis (and Postgres) first, then publishes the keys
//     it changed and, in the same script, reads the nodes whose lease runs.
//     Each of those drops the keys and acknowledges; the writer waits for
//     every acknowledgement. A node that does not answer within AckTimeout
//     is struck from the set, and the writer waits until its lease has run
//     out: it can no longer serve anything it held. A struck node's next
//     renewal fails, and it empties its cache before registering again.
//   - A fill (a Redis read kept in memory) is refused when an invalidation
//     of the same shard, or a flush, happened while the read was in flight.
//   - A lost subscription, a missed renewal or an unanswered ping stop the
//     node serving from memory; a new subscription empties the cache.
//   - A writer that cannot reach Redis waits one lease: by then no node can
//     be serving from memory (they renew through the same Redis).
//
// A logout, a password change or any other change is therefore seen by the
// next request on every node, as with the Redis cache alone; what a node
// without a lease does is exactly what it did before: ask Redis.

// LocalCacheConfig sizes and times the local session cache.
type LocalCacheConfig struct {
	// MaxEntries bounds the entries kept (about 1 KB each); 0 means
	// DefaultLocalCacheEntries.
	MaxEntries int
	// Lease is how long a node serves from memory after a renewal was sent;
	// 0 means 1.5 s. A crashed node delays writers by AckTimeout plus at
	// most this.
	Lease time.Duration
	// AckTimeout is how long a writer waits for the nodes' acknowledgements
	// before striking the silent ones; 0 means 300 ms.
	AckTimeout time.Duration
	// EntryTTL bounds an entry's life in memory; 0 means 60 s.
	EntryTTL time.Duration
	// Namespace separates clusters sharing one Redis (tests); it must be
	// the same on every node and writer of a cluster (SetLocalNamespace).
	Namespace string
}

// DefaultLocalCacheEntries is the default bound on locally cached sessions.
const DefaultLocalCacheEntries = 100_000

const (
	defaultLease      = 1500 * time.Millisecond
	defaultAckTimeout = 300 * time.Millisecond
	defaultEntryTTL   = time.Minute
	// leaseTick is how often a node renews its lease and pings its
	// subscription.
	leaseTick = 300 * time.Millisecond
	// localShards splits the cache so that fills and invalidations of
	// different sessions do not contend; a shard's generation counts its
	// invalidations.
	localShards = 64
)

// localEntry is one cached Redis value, decoded and never changed once
// stored (requests copy from it), and when it stops being served
// (nanoseconds since the cache's base time).
type localEntry struct {
	c     *cached
	until int64
}

type localShard struct {
	mu  sync.RWMutex
	m   map[string]localEntry
	gen uint64 // invalidations of this shard, under mu
}

// localCache is a node's in-memory copy of Redis session entries.
type localCache struct {
	base       time.Time // monotonic origin of the int64 times below
	seed       maphash.Seed
	leaseUntil atomic.Int64
	epoch      atomic.Uint64 // flushes
	perShard   int
	ttl        time.Duration
	shards     [localShards]localShard
}

func newLocalCache(maxEntries int, ttl time.Duration) *localCache {
	c := &localCache{base: time.Now(), seed: maphash.MakeSeed(), perShard: max(1, maxEntries/localShards), ttl: ttl}
	for i := range c.shards {
		c.shards[i].m = map[string]localEntry{}
	}
	return c
}

// now is the monotonic time since c.base.
func (c *localCache) now() int64 { return int64(time.Since(c.base)) }

func (c *localCache) shard(key string) *localShard {
	return &c.shards[maphash.String(c.seed, key)%localShards]
}

// serving reports whether the node's lease runs.
func (c *localCache) serving() bool { return c.now() < c.leaseUntil.Load() }

// get returns the cached value at key while the lease runs (nil: none).
// The caller must not change it.
func (c *localCache) get(key string) *cached {
	now := c.now()
	if now >= c.leaseUntil.Load() {
		return nil
	}
	sh := c.shard(key)
	sh.mu.RLock()
	e, ok := sh.m[key]
	sh.mu.RUnlock()
	if !ok || now >= e.until {
		return nil
	}
	return e.c
}

// fillTicket is taken before a Redis read whose result may be cached.
type fillTicket struct {
	epoch, gen uint64
	ok         bool
}

// ticket snapshots what fill later checks.
func (c *localCache) ticket(key string) fillTicket {
	if !c.serving() {
		return fillTicket{}
	}
	sh := c.shard(key)
	sh.mu.RLock()
	gen := sh.gen
	sh.mu.RUnlock()
	return fillTicket{epoch: c.epoch.Load(), gen: gen, ok: true}
}

// fill keeps v, read from Redis after t was taken, unless an invalidation
// or a flush came in between. v must not be changed afterwards.
func (c *localCache) fill(key string, v *cached, t fillTicket) {
	if !t.ok || !c.serving() {
		return
	}
	sh := c.shard(key)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gen != t.gen || c.epoch.Load() != t.epoch {
		return
	}
	now := c.now()
	if len(sh.m) >= c.perShard {
		// Full: drop the expired entries, else one at random (map order).
		for k, e := range sh.m {
			if now >= e.until {
				delete(sh.m, k)
			}
		}
		for k := range sh.m {
			if len(sh.m) < c.perShard {
				break
			}
			delete(sh.m, k)
		}
	}
	sh.m[key] = localEntry{c: v, until: now + int64(c.ttl)}
}

// drop forgets keys.
func (c *localCache) drop(keys []string) {
	for _, k := range keys {
		sh := c.shard(k)
		sh.mu.Lock()
		sh.gen++
		delete(sh.m, k)
		sh.mu.Unlock()
	}
}

// flush forgets everything and refuses fills read before it.
func (c *localCache) flush() {
	c.epoch.Add(1)
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.mu.Unlock()
	}
}

// len counts the entries held.
func (c *localCache) len() int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}
