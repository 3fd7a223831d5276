// Package leasebus lets the processes sharing one Redis keep copies of
// Postgres rows in memory and still see a change on the next request: a
// writer's invalidation reaches every node holding copies before the
// writer returns. It is the protocol of the local session cache
// (internal/sessions/localcache.go), for any cache keyed by strings:
//
//   - A node subscribes to the bus's channel and only then empties its cache
//     and registers in the nodes set (a Redis sorted set scored by lease
//     expiry, in Redis's clock). It renews its registration every leaseTick,
//     each time proving its subscription alive by a ping answered through
//     it, and serves from memory only until the renewal's send time plus
//     the lease (Serving).
//   - A writer changes Postgres first, then publishes the keys it changed
//     and, in the same script, reads the nodes whose lease runs. Each drops
//     the keys and acknowledges; the writer waits for every
//     acknowledgement. A node silent for AckTimeout is struck from the set
//     and the writer waits until its lease has run out. A struck node's next
//     renewal fails, and it empties its cache before registering again.
//   - A lost subscription, a missed renewal or an unanswered ping stop the
//     node serving from memory; a new subscription empties the cache.
//   - A writer that cannot reach Redis waits one lease: by then no node
//     serves from memory (they renew through the same Redis).
//
// The cache itself refuses a fill read before an invalidation that arrived
// while the read was in flight (Generation).
package leasebus

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
)

// Listener is a node's cache: the bus drops keys from it and empties it.
type Listener interface {
	// Drop forgets the entries named by keys.
	Drop(keys []string)
	// Flush forgets everything (invalidations may have been missed).
	Flush()
}

// Config times a bus.
type Config struct {
	// Lease is how long a node serves from memory after a renewal was sent;
	// 0 means 1.5 s. A crashed node delays writers by AckTimeout plus at
	// most this.
	Lease time.Duration
	// AckTimeout is how long a writer waits for acknowledgements before
	// striking the silent nodes; 0 means 300 ms.
	AckTimeout time.Duration
	// Namespace separates clusters sharing one Redis (tests); every node and
	// writer of a cluster must use the same. Empty means the Redis database
	// number.
	Namespace string
}

const (
	defaultLease      = 1500 * time.Millisecond
	defaultAckTimeout = 300 * time.Millisecond
	leaseTick         = 300 * time.Millisecond
	// callTimeout bounds one Redis call of the bus.
	callTimeout = time.Second
)

// Bus is one cache's invalidation channel: every writer publishes on it,
// and a node started by Start also listens, acknowledges and holds a lease.
type Bus struct {
	rdb        *redis.Client
	name       string
	namespace  string
	node       string
	lease      time.Duration
	ackTimeout time.Duration

	base       time.Time // monotonic origin of leaseUntil and lastPong
	leaseUntil atomic.Int64
	gen        atomic.Uint64 // invalidations and flushes applied here
	listener   atomic.Pointer[Listener]
}

// New returns the bus of the cache name ("apikeys") over rdb; rdb nil makes
// a bus whose writers wait one lease and whose nodes never serve.
func New(rdb *redis.Client, name string, cfg Config) *Bus {
	ns := cfg.Namespace
	if ns == "" {
		ns = "db0"
		if rdb != nil {
			ns = "db" + strconv.Itoa(rdb.Options().DB)
		}
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	b := &Bus{rdb: rdb, name: name, namespace: ns, node: hex.EncodeToString(id[:]),
		lease: cfg.Lease, ackTimeout: cfg.AckTimeout, base: time.Now()}
	if b.lease <= 0 {
		b.lease = defaultLease
	}
	if b.ackTimeout <= 0 {
		b.ackTimeout = defaultAckTimeout
	}
	return b
}

func (b *Bus) channel() string  { return "hp:inv:" + b.name + ":" + b.namespace }
func (b *Bus) nodesKey() string { return "hp:invnodes:" + b.name + ":" + b.namespace }
func (b *Bus) ackKey(nonce string) string {
	return "hp:invack:" + b.name + ":" + nonce
}

// now is the monotonic time since b.base.
func (b *Bus) now() int64 { return int64(time.Since(b.base)) }

// Serving reports whether this node's lease runs: only then may its cache
// answer from memory.
func (b *Bus) Serving() bool { return b.now() < b.leaseUntil.Load() }

// Generation counts the invalidations and flushes this node applied. A
// cache takes it before a read and keeps the result only if it is
// unchanged (and Serving) afterwards.
func (b *Bus) Generation() uint64 { return b.gen.Load() }

// publishScript publishes ARGV[2] on ARGV[1] and returns the nodes whose
// lease runs (KEYS[1] the nodes set).
var publishScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('PUBLISH', ARGV[1], ARGV[2])
return redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')`)

// renewScript registers (ARGV[3] = "register") or renews node ARGV[1] in
// KEYS[1] with a lease of ARGV[2] ms; renewing a node that was struck or
// lapsed fails (0).
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

// strikeScript removes the nodes ARGV from KEYS[1] and returns how many ms
// the longest of their leases still runs.
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

// Invalidate makes a change of keys (already written to the system of
// record) visible everywhere: it returns once no node can serve an older
// copy from memory. Keys must not contain spaces. The caller's
// cancellation does not cut the wait short (it is at most AckTimeout plus
// one lease): an early return would break the promise.
func (b *Bus) Invalidate(ctx context.Context, keys ...string) {
	if len(keys) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	b.apply(keys)
	if b.rdb == nil {
		return
	}
	var nb [12]byte
	_, _ = rand.Read(nb[:])
	nonce := hex.EncodeToString(nb[:])
	payload := b.node + " " + nonce + " " + strings.Join(keys, " ")
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	nodes, err := publishScript.Run(rctx, b.rdb, []string{b.nodesKey()}, b.channel(), payload).StringSlice()
	if err != nil {
		// No node renews through an unreachable Redis either.
		sleep(ctx, b.lease)
		return
	}
	pending := make(map[string]bool, len(nodes))
	for _, n := range nodes {
		if n != b.node {
			pending[n] = true
		}
	}
	deadline := time.Now().Add(b.ackTimeout)
	for len(pending) > 0 {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		// BLPOP takes fractional seconds; go-redis's BLPop rounds up.
		res, err := b.rdb.Do(rctx, "BLPOP", b.ackKey(nonce), strconv.FormatFloat(left.Seconds(), 'f', 3, 64)).StringSlice()
		if err != nil {
			break
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
	waitMS, err := strikeScript.Run(rctx, b.rdb, []string{b.nodesKey()}, silent...).Int64()
	wait := time.Duration(waitMS) * time.Millisecond
	if err != nil {
		wait = b.lease
	}
	if wait > 0 {
		// Clocks drift a little between Redis and the nodes.
		sleep(ctx, wait+wait/20+10*time.Millisecond)
	}
}

// apply drops keys from this process's own cache.
func (b *Bus) apply(keys []string) {
	b.gen.Add(1)
	if l := b.listener.Load(); l != nil {
		(*l).Drop(keys)
	}
}

// flush empties this process's cache.
func (b *Bus) flush() {
	b.gen.Add(1)
	if l := b.listener.Load(); l != nil {
		(*l).Flush()
	}
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// Start makes this process a node with cache l until ctx ends or stop is
// called (stop waits for the goroutines and leaves the nodes set). Call it
// once, before serving. Without Redis the node never serves.
func (b *Bus) Start(ctx context.Context, l Listener) (stop func()) {
	b.listener.Store(&l)
	if b.rdb == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	n := &node{bus: b, kick: make(chan struct{}, 1)}
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
			b.leaseUntil.Store(0)
			rctx, c := context.WithTimeout(context.Background(), callTimeout)
			defer c()
			_ = b.rdb.ZRem(rctx, b.nodesKey(), b.node).Err()
		})
	}
}

// node is a node's listening and renewing.
type node struct {
	bus  *Bus
	ps   *redis.PubSub
	kick chan struct{}

	subscribed atomic.Bool
	register   atomic.Bool
	lastPong   atomic.Int64
}

func (n *node) receive(ctx context.Context) {
	b := n.bus
	for {
		msg, err := n.ps.Receive(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, redis.ErrClosed) {
				return
			}
			n.subscribed.Store(false)
			b.leaseUntil.Store(0)
			b.flush()
			sleep(ctx, 100*time.Millisecond)
			continue
		}
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				b.flush()
				n.lastPong.Store(b.now())
				n.register.Store(true)
				n.subscribed.Store(true)
				select {
				case n.kick <- struct{}{}:
				default:
				}
			}
		case *redis.Pong:
			n.lastPong.Store(b.now())
		case *redis.Message:
			origin, rest, _ := strings.Cut(m.Payload, " ")
			nonce, keys, _ := strings.Cut(rest, " ")
			if origin == b.node || nonce == "" {
				continue
			}
			b.apply(strings.Fields(keys))
			n.ack(ctx, nonce)
		}
	}
}

// ack tells the writer of nonce this node dropped its keys. Revocations
// are rare: one round trip each is fine.
func (n *node) ack(ctx context.Context, nonce string) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	k := n.bus.ackKey(nonce)
	pipe := n.bus.rdb.Pipeline()
	pipe.RPush(rctx, k, n.bus.node)
	pipe.PExpire(rctx, k, 5*time.Second)
	_, _ = pipe.Exec(rctx)
}

func (n *node) renew(ctx context.Context) {
	b := n.bus
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
		now := b.now()
		if now-n.lastPong.Load() > int64(3*leaseTick) {
			b.leaseUntil.Store(0)
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
		rctx, cancel := context.WithTimeout(ctx, callTimeout)
		ok, err := renewScript.Run(rctx, b.rdb, []string{b.nodesKey()}, b.node, b.lease.Milliseconds(), mode).Int()
		cancel()
		switch {
		case err != nil:
			// The lease runs out by itself.
		case ok == 0:
			b.leaseUntil.Store(0)
			b.flush()
			n.register.Store(true)
		default:
			if register {
				n.register.Store(false)
			}
			b.leaseUntil.Store(now + int64(b.lease))
		}
	}
}
