package apikeys

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/leasebus"
)

// Authenticator is the Store with a node-local cache of looked-up keys in
// front of Authenticate, so that a warm lookup costs no Postgres round
// trip, and with the bookkeeping of key use (last_used, batched).
//
// What it promises: a key's expiry is checked at every use, from the
// cached expires_at. A revocation through Revoke (on any node, or a CLI
// with the same Redis) reaches every node's cache before Revoke returns,
// by the lease and acknowledgement protocol of internal/leasebus. A node
// serves from its cache only while its lease runs: with Redis down, no
// node renews, so within one lease (1.5 s) every lookup goes to Postgres
// again, and a revocation then waits that long before it returns.
type Authenticator struct {
	*Store
	bus *leasebus.Bus
	ttl int64 // an entry's life in memory, ns
	max int   // entries per shard

	base   time.Time // monotonic origin of the int64 times
	shards [authShards]authShard

	touchEvery time.Duration
	tmu        sync.Mutex
	lastTouch  map[uuid.UUID]time.Time // uses recorded within the last minute (slow path)
	pending    map[uuid.UUID]struct{}  // uses not written yet
	flushMu    sync.Mutex              // one Touch at a time
	log        *slog.Logger
}

// AuthenticatorConfig sizes and times an Authenticator.
type AuthenticatorConfig struct {
	// MaxEntries bounds the keys held in memory; 0 means 10 000.
	MaxEntries int
	// EntryTTL bounds an entry's life in memory; 0 means 60 s.
	EntryTTL time.Duration
	// TouchEvery is how often uses are written to last_used; 0 means 10 s.
	TouchEvery time.Duration
	// Bus carries revocations between nodes; nil means a bus with
	// leasebus's defaults over no Redis (nothing is served from memory).
	Bus *leasebus.Bus
	Log *slog.Logger
}

// TouchInterval is how often a key's last use is recorded at most.
const TouchInterval = time.Minute

const authShards = 16

type authShard struct {
	mu sync.RWMutex
	m  map[[32]byte]*authEntry
}

type authEntry struct {
	key     Key
	until   int64        // served until (monotonic ns)
	touched atomic.Int64 // last recorded use (monotonic ns), 0: never
}

// NewAuthenticator returns an Authenticator over store. Its cache serves
// only once Start made this process a node of cfg.Bus.
func NewAuthenticator(store *Store, cfg AuthenticatorConfig) *Authenticator {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 10_000
	}
	if cfg.EntryTTL <= 0 {
		cfg.EntryTTL = time.Minute
	}
	if cfg.TouchEvery <= 0 {
		cfg.TouchEvery = 10 * time.Second
	}
	if cfg.Bus == nil {
		cfg.Bus = leasebus.New(nil, "apikeys", leasebus.Config{})
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	a := &Authenticator{Store: store, bus: cfg.Bus, ttl: int64(cfg.EntryTTL), max: max(1, cfg.MaxEntries/authShards),
		base: time.Now(), touchEvery: cfg.TouchEvery, lastTouch: map[uuid.UUID]time.Time{},
		pending: map[uuid.UUID]struct{}{}, log: cfg.Log}
	for i := range a.shards {
		a.shards[i].m = map[[32]byte]*authEntry{}
	}
	return a
}

// Start makes this process a node of the bus (its cache serves while the
// lease runs) and writes recorded uses every TouchEvery, until ctx ends or
// stop is called; stop writes what is still pending.
func (a *Authenticator) Start(ctx context.Context) (stop func()) {
	stopBus := a.bus.Start(ctx, (*authListener)(a))
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(a.touchEvery)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				a.FlushUses(ctx)
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
			stopBus()
			fctx, c := context.WithTimeout(context.Background(), 5*time.Second)
			defer c()
			a.FlushUses(fctx)
		})
	}
}

func (a *Authenticator) now() int64 { return int64(time.Since(a.base)) }

func (a *Authenticator) shard(h *[32]byte) *authShard { return &a.shards[h[0]%authShards] }

// Authenticate returns the usable key whose secret is secret, as
// Store.Authenticate does, from memory when it can; the use is recorded.
func (a *Authenticator) Authenticate(ctx context.Context, secret string) (Key, error) {
	if !WellFormed(secret) {
		return Key{}, ErrUnknownKey
	}
	h := hashSecret(secret)
	sh := a.shard(&h)
	now := a.now()
	var e *authEntry
	serving := a.bus.Serving()
	if serving {
		sh.mu.RLock()
		e = sh.m[h]
		sh.mu.RUnlock()
		if e != nil && now >= e.until {
			e = nil
		}
	}
	if e == nil {
		gen := a.bus.Generation()
		k, err := a.Store.lookupHash(ctx, h)
		if err != nil {
			return Key{}, err
		}
		e = &authEntry{key: k, until: now + a.ttl}
		if serving {
			a.fill(sh, h, e, gen)
		}
	}
	if err := e.key.Usable(a.Store.now()); err != nil {
		return Key{}, err
	}
	a.used(e, now)
	return e.key, nil
}

// fill keeps e unless an invalidation or a flush came since gen was read,
// or the lease lapsed.
func (a *Authenticator) fill(sh *authShard, h [32]byte, e *authEntry, gen uint64) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if a.bus.Generation() != gen || !a.bus.Serving() {
		return
	}
	if len(sh.m) >= a.max {
		now := a.now()
		for k, old := range sh.m {
			if now >= old.until {
				delete(sh.m, k)
			}
		}
		for k := range sh.m {
			if len(sh.m) < a.max {
				break
			}
			delete(sh.m, k)
		}
	}
	sh.m[h] = e
}

// used notes a use of e's key, to be written by FlushUses: at most once a
// TouchInterval per key.
func (a *Authenticator) used(e *authEntry, now int64) {
	last := e.touched.Load()
	if last != 0 && now-last < int64(TouchInterval) {
		return
	}
	if !e.touched.CompareAndSwap(last, now) {
		return
	}
	t := time.Now()
	a.tmu.Lock()
	defer a.tmu.Unlock()
	if prev, ok := a.lastTouch[e.key.ID]; ok && t.Sub(prev) < TouchInterval {
		return // an uncached entry of a key used moments ago
	}
	a.lastTouch[e.key.ID] = t
	a.pending[e.key.ID] = struct{}{}
}

// FlushUses writes the uses noted since the last flush to last_used (one
// statement); Start calls it every TouchEvery and on stop.
func (a *Authenticator) FlushUses(ctx context.Context) {
	a.flushMu.Lock()
	defer a.flushMu.Unlock()
	at := time.Now()
	a.tmu.Lock()
	ids := make([]uuid.UUID, 0, len(a.pending))
	for id := range a.pending {
		ids = append(ids, id)
	}
	clear(a.pending)
	for id, t := range a.lastTouch {
		if at.Sub(t) >= TouchInterval {
			delete(a.lastTouch, id)
		}
	}
	a.tmu.Unlock()
	if err := a.Store.Touch(ctx, at, ids...); err != nil {
		a.log.Warn("apikeys: recording key use failed", "keys", len(ids), "err", err)
	}
}

// Revoke revokes the key as Store.Revoke does, then drops it from every
// node's cache: when Revoke returns, no node accepts the key any more.
func (a *Authenticator) Revoke(ctx context.Context, actor audit.Actor, within, id uuid.UUID) (Key, error) {
	k, err := a.Store.Revoke(ctx, actor, within, id)
	if err != nil {
		return Key{}, err
	}
	a.bus.Invalidate(ctx, id.String())
	return k, nil
}

// Cached counts the keys held in memory.
func (a *Authenticator) Cached() int {
	n := 0
	for i := range a.shards {
		sh := &a.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// authListener is the Authenticator as the bus sees it.
type authListener Authenticator

// Drop forgets the keys whose ids are ids.
func (l *authListener) Drop(ids []string) {
	want := make(map[uuid.UUID]bool, len(ids))
	for _, s := range ids {
		if id, err := uuid.Parse(s); err == nil {
			want[id] = true
		}
	}
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		for h, e := range sh.m {
			if want[e.key.ID] {
				delete(sh.m, h)
			}
		}
		sh.mu.Unlock()
	}
}

// Flush forgets every key.
func (l *authListener) Flush() {
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.Lock()
		clear(sh.m)
		sh.mu.Unlock()
	}
}
