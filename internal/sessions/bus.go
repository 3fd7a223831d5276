package sessions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/metrics"
)

// sessionBus carries invalidations between the processes sharing one
// Redis: every Store publishes; a node started by StartLocalCache also
// listens, acknowledges and keeps a localCache.
type sessionBus struct {
	rdb        *redis.Client
	namespace  string
	node       string // this process's id in the nodes set and messages
	lease      time.Duration
	ackTimeout time.Duration

	local atomic.Pointer[localCache] // nil: this process serves nothing from memory

	// beforeApply, when set (tests), runs before a received invalidation
	// is applied.
	beforeApply atomic.Pointer[func()]
}

func newSessionBus(rdb *redis.Client) *sessionBus {
	ns := "db0"
	if rdb != nil {
		ns = "db" + strconv.Itoa(rdb.Options().DB)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	return &sessionBus{rdb: rdb, namespace: ns, node: hex.EncodeToString(id[:]), lease: defaultLease, ackTimeout: defaultAckTimeout}
}

func (b *sessionBus) channel() string  { return "hp:sessinv:" + b.namespace }
func (b *sessionBus) nodesKey() string { return "hp:sessnodes:" + b.namespace }
func ackKey(nonce string) string       { return "hp:sessack:" + nonce }

// publishScript publishes an invalidation (ARGV[1] channel, ARGV[2]
// payload) and returns the nodes whose lease runs (KEYS[1] the nodes set).
var publishScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('PUBLISH', ARGV[1], ARGV[2])
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')`)

// renewScript registers (ARGV[3] = "register") or renews node ARGV[1] in
// the nodes set KEYS[1] with a lease of ARGV[2] ms. A renewal of a node
// that was struck, or whose lease ran out, fails (0): the node may have
// missed invalidations and must empty its cache and register again.
var renewScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[3] ~= 'register' then
	local s = redis.call('ZSCORE', KEYS[1], ARGV[1])
	if not s or tonumber(s) <= now then
		return 0
	end
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 600000)
return 1`)

// strikeScript removes the nodes ARGV from the nodes set KEYS[1] and
// returns how many ms the longest of their leases still runs.
var strikeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wait = 0
for _, n in ipairs(ARGV) do
	local s = redis.call('ZSCORE', KEYS[1], n)
	if s then
		redis.call('ZREM', KEYS[1], n)
		if tonumber(s) - now > wait then
			wait = tonumber(s) - now
		end
	end
end
return wait`)

// busTimeout bounds one Redis call of the bus.
const busTimeout = time.Second

// invalidate makes the change of keys (already written to Redis) visible
// to every node: see the protocol at the top of localcache.go. It returns when
// no node can serve an older value from memory.
func (b *sessionBus) invalidate(ctx context.Context, keys ...string) {
	if len(keys) == 0 || b.rdb == nil {
		return
	}
	if l := b.local.Load(); l != nil {
		l.drop(keys)
	}
	var nb [12]byte
	_, _ = rand.Read(nb[:])
	nonce := hex.EncodeToString(nb[:])
	payload := b.node + " " + nonce + " " + strings.Join(keys, " ")
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), busTimeout)
	defer cancel()
	nodes, err := publishScript.Run(rctx, b.rdb, []string{b.nodesKey()}, b.channel(), payload).StringSlice()
	if err != nil {
		// No node can renew through an unreachable Redis either: after one
		// lease none serves from memory.
		b.sleep(ctx, b.lease)
		return
	}
	pending := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		if n != b.node {
			pending[n] = true
		}
	}
	if len(pending) == 0 {
		return
	}
	deadline := time.Now().Add(b.ackTimeout)
	for len(pending) > 0 {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		// BLPOP takes fractional seconds (Redis ≥ 6); go-redis's BLPop
		// rounds up to whole ones.
		res, err := b.rdb.Do(rctx, "BLPOP", ackKey(nonce), strconv.FormatFloat(left.Seconds(), 'f', 3, 64)).StringSlice()
		if err != nil {
			break // redis.Nil: timed out
		}
		if len(res) == 2 {
			delete(pending, res[1])
		}
	}
	if len(pending) == 0 {
		return
	}
	silent := make([]any, 0, len(pending))
	for n := range pending {
		silent = append(silent, n)
	}
	metrics.SessionLocalStrike()
	waitMS, err := strikeScript.Run(rctx, b.rdb, []string{b.nodesKey()}, silent...).Int64()
	wait := time.Duration(waitMS) * time.Millisecond
	if err != nil {
		wait = b.lease
	}
	if wait > 0 {
		// Clocks drift a little between Redis and the nodes.
		b.sleep(ctx, wait+wait/20+10*time.Millisecond)
	}
}

// sleep waits d, or less if ctx ends.
func (b *sessionBus) sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// StartLocalCache makes this process a node of the local session cache
// (see the protocol at the top of localcache.go) until ctx ends or stop is called;
// stop waits for its goroutines and leaves the nodes set. Call it once,
// before serving.
func (s *Store) StartLocalCache(ctx context.Context, cfg LocalCacheConfig) (stop func()) {
	b := s.bus
	if cfg.Namespace != "" {
		b.namespace = cfg.Namespace
	}
	if cfg.Lease > 0 {
		b.lease = cfg.Lease
	}
	if cfg.AckTimeout > 0 {
		b.ackTimeout = cfg.AckTimeout
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultLocalCacheEntries
	}
	if cfg.EntryTTL <= 0 {
		cfg.EntryTTL = defaultEntryTTL
	}
	l := newLocalCache(cfg.MaxEntries, cfg.EntryTTL)
	b.local.Store(l)
	metrics.Default.Collect("session_local_cache", func(e *metrics.Emitter) {
		e.Gauge("hallpass_session_local_cache_entries", "Sessions held in this process's memory.", float64(l.len()))
	})
	ctx, cancel := context.WithCancel(ctx)
	n := &nodeLoop{bus: b, local: l, kick: make(chan struct{}, 1)}
	n.ps = b.rdb.Subscribe(ctx, b.channel())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); n.receive(ctx) }()
	go func() { defer wg.Done(); n.renew(ctx) }()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			_ = n.ps.Close()
			wg.Wait()
			l.leaseUntil.Store(0)
			rctx, c := context.WithTimeout(context.Background(), busTimeout)
			defer c()
			_ = b.rdb.ZRem(rctx, b.nodesKey(), b.node).Err()
		})
	}
}

// FlushLocal empties this process's memory layer, as a lost subscription
// does; the next lookups ask Redis.
func (s *Store) FlushLocal() {
	if l := s.bus.local.Load(); l != nil {
		l.flush()
	}
}

// SetLocalNamespace sets the namespace of a process that writes but serves
// nothing from memory (tests sharing one Redis between clusters).
func (s *Store) SetLocalNamespace(ns string) { s.bus.namespace = ns }

// nodeLoop is a node's listening and renewing.
type nodeLoop struct {
	bus   *sessionBus
	local *localCache
	ps    *redis.PubSub
	kick  chan struct{} // renew now (a fresh subscription)

	subscribed atomic.Bool
	register   atomic.Bool  // the next renewal registers anew
	lastPong   atomic.Int64 // local time of the last proof of the subscription
}

// receive applies invalidations and notes pongs until ctx ends.
func (n *nodeLoop) receive(ctx context.Context) {
	acks := make(chan string, 256)
	done := make(chan struct{})
	go func() { defer close(done); n.acknowledge(acks) }()
	defer func() { close(acks); <-done }()
	for {
		msg, err := n.ps.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
				return
			}
			// Lost: whatever was published meanwhile is gone. Stop serving
			// until a new subscription (which empties the cache).
			n.subscribed.Store(false)
			n.lapse()
			n.local.flush()
			n.bus.sleep(ctx, 100*time.Millisecond)
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				n.local.flush()
				n.lastPong.Store(n.local.now())
				n.register.Store(true)
				n.subscribed.Store(true)
				select {
				case n.kick <- struct{}{}:
				default:
				}
			}
		case *redis.Pong:
			n.lastPong.Store(n.local.now())
		case *redis.Message:
			origin, rest, _ := strings.Cut(m.Payload, " ")
			nonce, keys, _ := strings.Cut(rest, " ")
			if origin == n.bus.node || nonce == "" {
				continue
			}
			if hook := n.bus.beforeApply.Load(); hook != nil {
				(*hook)()
			}
			n.local.drop(strings.Fields(keys))
			select {
			case acks <- nonce:
			default:
				n.ack([]string{nonce})
			}
		}
	}
}

// acknowledge sends the acknowledgements queued on acks, several per
// round trip.
func (n *nodeLoop) acknowledge(acks <-chan string) {
	batch := make([]string, 0, 64)
	for nonce := range acks {
		batch = append(batch[:0], nonce)
	more:
		for len(batch) < cap(batch) {
			select {
			case x, ok := <-acks:
				if !ok {
					break more
				}
				batch = append(batch, x)
			default:
				break more
			}
		}
		n.ack(batch)
	}
}

func (n *nodeLoop) ack(nonces []string) {
	ctx, cancel := context.WithTimeout(context.Background(), busTimeout)
	defer cancel()
	pipe := n.bus.rdb.Pipeline()
	for _, nonce := range nonces {
		pipe.RPush(ctx, ackKey(nonce), n.bus.node)
		pipe.PExpire(ctx, ackKey(nonce), 5*time.Second)
	}
	_, _ = pipe.Exec(ctx)
}

// lapse stops the node answering from memory (counted once per lapse).
func (n *nodeLoop) lapse() {
	if n.local.leaseUntil.Swap(0) != 0 {
		metrics.SessionLocalLapse()
	}
}

// renew keeps the node's lease while its subscription is proven alive.
func (n *nodeLoop) renew(ctx context.Context) {
	t := time.NewTicker(leaseTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-n.kick:
		}
		if !n.subscribed.Load() {
			continue
		}
		now := n.local.now()
		if now-n.lastPong.Load() > int64(3*leaseTick) {
			// The subscription answers no pings: stop serving; a recovered
			// connection resubscribes (and empties the cache).
			n.lapse()
		}
		_ = n.ps.Ping(ctx)
		if now-n.lastPong.Load() > int64(3*leaseTick) {
			continue
		}
		mode := "renew"
		register := n.register.Load()
		if register {
			mode = "register"
		}
		rctx, cancel := context.WithTimeout(ctx, busTimeout)
		ok, err := renewScript.Run(rctx, n.bus.rdb, []string{n.bus.nodesKey()}, n.bus.node, n.bus.lease.Milliseconds(), mode).Int()
		cancel()
		switch {
		case err != nil:
			// The lease runs out by itself.
		case ok == 0:
			// Struck (or lapsed): anything held may be stale.
			n.lapse()
			n.local.flush()
			n.register.Store(true)
		default:
			if register {
				n.register.Store(false)
			}
			n.local.leaseUntil.Store(now + int64(n.bus.lease))
		}
	}
}
