package sessions

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/metrics"
	"github.com/hallpass/hallpass/internal/testenv"
)

// localNode is one process of a cluster sharing the test Postgres and Redis
// in a namespace of the test's own: its own Redis client, Store and
// local cache.
type localNode struct {
	s    *Store
	rdb  *redis.Client
	stop func()
}

// testLease and testAck keep the waits of the silent-node tests short.
const (
	testLease = 600 * time.Millisecond
	testAck   = 150 * time.Millisecond
)

func startLocalNode(t *testing.T, ns string, cfg LocalCacheConfig) *localNode {
	t.Helper()
	opt := *testenv.Redis(t).Options()
	opt.ClientName = "hp-test-" + uuid.NewString()[:8]
	rdb := redis.NewClient(&opt)
	t.Cleanup(func() { _ = rdb.Close() })
	s := NewStore(testenv.Pool(t), rdb)
	cfg.Namespace = ns
	n := &localNode{s: s, rdb: rdb, stop: s.StartLocalCache(context.Background(), cfg)}
	t.Cleanup(n.stop)
	n.waitServing(t)
	return n
}

// waitServing waits until the node holds a lease.
func (n *localNode) waitServing(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !n.s.bus.local.Load().serving() {
		if time.Now().After(deadline) {
			t.Fatal("the node got no lease within 5 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// held reports whether the node serves key from memory right now.
func (n *localNode) held(key string) bool {
	return n.s.bus.local.Load().get(key) != nil
}

// clusterFixture is a cacheFixture whose session is known to two nodes.
func clusterFixture(t *testing.T, cfg LocalCacheConfig) (f *cacheFixture, a, b *localNode) {
	t.Helper()
	f = newCacheFixture(t)
	ns := "test-" + uuid.NewString()
	f.s.SetLocalNamespace(ns)
	a, b = startLocalNode(t, ns, cfg), startLocalNode(t, ns, cfg)
	return f, a, b
}

// lookupOn looks the fixture's session up on n, twice: the second answer
// comes from n's memory.
func lookupOn(t *testing.T, n *localNode, f *cacheFixture) *Session {
	t.Helper()
	for range 2 {
		sess, err := n.s.Lookup(context.Background(), f.tenant, f.sess.Token, "", "")
		if err != nil {
			t.Fatalf("lookup: %v", err)
		}
		if !n.held(redisKey(f.tenant, f.sess.id)) {
			continue
		}
		return sess
	}
	t.Fatal("the session was not kept in the node's memory")
	return nil
}

// A session checked on a node is answered from its memory afterwards:
// even with the Redis entry gone (evicted), the node does not ask.
func TestLocalCacheServesFromMemory(t *testing.T) {
	f, a, _ := clusterFixture(t, LocalCacheConfig{})
	ctx := context.Background()
	lookupOn(t, a, f)
	if err := f.s.rdb.Del(ctx, redisKey(f.tenant, f.sess.id)).Err(); err != nil {
		t.Fatal(err)
	}
	sess, err := a.s.Lookup(ctx, f.tenant, f.sess.Token, "", "")
	if err != nil || sess.State.UserID != f.user || sess.User().PrimaryEmail != "ivy@example.com" {
		t.Fatalf("from memory: %v %+v", err, sess)
	}
	if f.entry(t) != "" {
		t.Fatal("the lookup asked Redis (and refilled it) instead of its memory")
	}
}

// Every kind of change made on one node (or by a process serving nothing
// from memory, as the CLI) is seen by the very next lookup on another node
// holding the session in memory: no sleep between the change and the check.
func TestLocalCacheChangesSeenAtOnceElsewhere(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		// change runs on w (a node, or the writer-only fixture store).
		change func(t *testing.T, f *cacheFixture, w *Store)
		check  func(t *testing.T, sess *Session, err error)
	}{
		{"logout", func(t *testing.T, f *cacheFixture, w *Store) {
			sess, err := w.Lookup(ctx, f.tenant, f.sess.Token, "", "")
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Logout(ctx, sess); err != nil {
				t.Fatal(err)
			}
		}, wantGone},
		{"state saved", func(t *testing.T, f *cacheFixture, w *Store) {
			sess, err := w.Lookup(ctx, f.tenant, f.sess.Token, "", "")
			if err != nil {
				t.Fatal(err)
			}
			sess.State.PendingTOTP = "sealed-offer"
			sess.Changed()
			if err := w.Save(ctx, sess, time.Minute); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, sess *Session, err error) {
			if err != nil || sess.State.PendingTOTP != "sealed-offer" {
				t.Fatalf("the saved state is not seen: %v %+v", err, sess)
			}
		}},
		{"user changed", func(t *testing.T, f *cacheFixture, w *Store) {
			if _, err := w.pool.Exec(ctx, `UPDATE users SET username = 'ivy2' WHERE tenant_id = $1 AND id = $2`, f.tenant, f.user); err != nil {
				t.Fatal(err)
			}
			if err := w.UserChanged(ctx, f.tenant, f.user); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, sess *Session, err error) {
			if err != nil || sess.User().Username != "ivy2" {
				t.Fatalf("the user's change is not seen: %v %+v", err, sess)
			}
		}},
		{"user's sessions ended", func(t *testing.T, f *cacheFixture, w *Store) {
			if err := w.EndUserSessions(ctx, f.tenant, f.user, nil); err != nil {
				t.Fatal(err)
			}
		}, wantGone},
		{"ended by id (refresh-token reuse)", func(t *testing.T, f *cacheFixture, w *Store) {
			if err := w.DeleteID(ctx, f.tenant, f.sess.id); err != nil {
				t.Fatal(err)
			}
		}, wantGone},
		{"ended from the sessions list", func(t *testing.T, f *cacheFixture, w *Store) {
			if _, err := w.pool.Exec(ctx, `DELETE FROM sessions WHERE tenant_id = $1 AND id = $2`, f.tenant, f.sess.id); err != nil {
				t.Fatal(err)
			}
			w.forgetEnded(ctx, f.tenant, [][]byte{f.sess.id})
		}, wantGone},
	} {
		for _, writer := range []string{"other node", "writer-only process"} {
			t.Run(tc.name+"/"+writer, func(t *testing.T) {
				f, a, b := clusterFixture(t, LocalCacheConfig{})
				lookupOn(t, b, f)
				w := a.s
				if writer != "other node" {
					w = f.s
				}
				start := time.Now()
				tc.change(t, f, w)
				if took := time.Since(start); took > time.Second {
					t.Errorf("the change took %v: a node did not acknowledge", took)
				}
				sess, err := b.s.Lookup(ctx, f.tenant, f.sess.Token, "", "")
				tc.check(t, sess, err)
			})
		}
	}
}

func wantGone(t *testing.T, sess *Session, err error) {
	t.Helper()
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("the ended session is still served: %v %+v", err, sess)
	}
}

// An anonymous session's pending flow lives in Redis only; a node holding
// it sees the flow's next step at once.
func TestLocalCacheAnonymousFlow(t *testing.T) {
	f, a, b := clusterFixture(t, LocalCacheConfig{})
	ctx := context.Background()
	sess := a.s.New(f.tenant, "app", "127.0.0.1", "test")
	sess.State.Login = &PendingLogin{UserID: f.user, Stage: "mfa_authenticate", StartedAt: time.Now()}
	sess.Changed()
	if err := a.s.Save(ctx, sess, time.Minute); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := b.s.Lookup(ctx, f.tenant, sess.Token, "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if !b.held(redisKey(f.tenant, sess.id)) {
		t.Fatal("the flow was not kept in memory")
	}
	sess.State.Login.MFADone = true
	sess.Changed()
	if err := a.s.Save(ctx, sess, time.Minute); err != nil {
		t.Fatal(err)
	}
	got, err := b.s.Lookup(ctx, f.tenant, sess.Token, "", "")
	if err != nil || got.State.Login == nil || !got.State.Login.MFADone {
		t.Fatalf("the flow's step is not seen: %v %+v", err, got)
	}
}

// A node that does not acknowledge (stuck, partitioned) is struck from the
// nodes set, and the writer returns only once its lease has run out: the
// silent node then no longer serves from memory. When it recovers it
// empties its memory and registers again.
func TestLocalCacheSilentNodeIsStruck(t *testing.T) {
	cfg := LocalCacheConfig{Lease: testLease, AckTimeout: testAck}
	f, a, b := clusterFixture(t, cfg)
	ctx := context.Background()
	lookupOn(t, b, f)
	release := make(chan struct{})
	var releaseOnce sync.Once
	unblock := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(unblock) // before the node's stop (cleanups run last first)
	var held atomic.Int32
	hook := func() {
		held.Add(1)
		<-release
	}
	b.s.bus.beforeApply.Store(&hook)
	sess, err := a.s.Lookup(ctx, f.tenant, f.sess.Token, "", "")
	if err != nil {
		t.Fatal(err)
	}
	strikes := counter(t, "hallpass_session_local_strikes_total")
	start := time.Now()
	if err := a.s.Logout(ctx, sess); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if counter(t, "hallpass_session_local_strikes_total") <= strikes {
		t.Error("the strike was not counted in /metrics")
	}
	if took < testAck {
		t.Errorf("logout returned after %v, before the silent node's acknowledgement could time out", took)
	}
	if held.Load() == 0 {
		t.Fatal("the silent node never received the invalidation")
	}
	// The silent node has not applied the invalidation, yet does not
	// answer from memory: its lease ran out while the writer waited (and
	// a renewal since found it struck, and emptied its memory).
	if b.held(redisKey(f.tenant, f.sess.id)) {
		t.Fatal("the struck node still serves the session from memory")
	}
	if _, err := b.s.Lookup(ctx, f.tenant, f.sess.Token, "", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the struck node served the ended session: %v", err)
	}
	t.Logf("logout with a silent node took %v (ack timeout %v, lease %v)", took.Round(time.Millisecond), testAck, testLease)
	unblock()
	b.waitServing(t)
	if n := b.s.bus.local.Load().len(); n != 0 {
		t.Errorf("the node registered again holding %d entries from before", n)
	}
}

// A node whose subscription is cut stops serving from memory at once, and
// a change made while it was cut off is not served stale after it
// resubscribes.
func TestLocalCacheLostSubscription(t *testing.T) {
	cfg := LocalCacheConfig{Lease: testLease, AckTimeout: testAck}
	f, a, b := clusterFixture(t, cfg)
	ctx := context.Background()
	lookupOn(t, b, f)
	lapses := counter(t, "hallpass_session_local_lapses_total")
	killPubSub(t, b)
	if counter(t, "hallpass_session_local_lapses_total") <= lapses {
		t.Error("the lapse was not counted in /metrics")
	}
	sess, err := a.s.Lookup(ctx, f.tenant, f.sess.Token, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := a.s.Logout(ctx, sess); err != nil {
		t.Fatal(err)
	}
	if _, err := b.s.Lookup(ctx, f.tenant, f.sess.Token, "", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("served after its subscription was cut: %v", err)
	}
	b.waitServing(t)
	if _, err := b.s.Lookup(ctx, f.tenant, f.sess.Token, "", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("served after resubscribing: %v", err)
	}
}

// killPubSub closes n's subscription connection from the Redis side.
func killPubSub(t *testing.T, n *localNode) {
	t.Helper()
	ctx := context.Background()
	list, err := n.rdb.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name="+n.rdb.Options().ClientName+" ") || !strings.Contains(line, "sub=1") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				if err := n.rdb.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err != nil {
					t.Fatal(err)
				}
				killed++
			}
		}
	}
	if killed != 1 {
		t.Fatalf("killed %d subscription connections, want 1", killed)
	}
	deadline := time.Now().Add(2 * time.Second)
	for n.s.bus.local.Load().serving() {
		if time.Now().After(deadline) {
			t.Fatal("the node kept its lease after losing its subscription")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A writer that cannot reach Redis waits one lease before answering: by
// then no node can renew, so none serves from memory.
func TestLocalCacheWriterWithoutRedisWaitsALease(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: 50 * time.Millisecond})
	defer rdb.Close()
	b := newSessionBus(rdb)
	b.lease = 200 * time.Millisecond
	start := time.Now()
	b.invalidate(context.Background(), "hp:{x}:sess:00")
	if took := time.Since(start); took < b.lease {
		t.Fatalf("returned after %v, before a lease (%v) ran out", took, b.lease)
	}
}

// A fill whose Redis read raced an invalidation or a flush is refused, and
// the cache holds at most its bound.
func TestLocalCacheFillRules(t *testing.T) {
	c := newLocalCache(localShards*2, time.Minute)
	c.leaseUntil.Store(c.now() + int64(time.Hour))
	const key = "hp:{t}:sess:aa"
	tk := c.ticket(key)
	c.drop([]string{key})
	c.fill(key, &cached{}, tk)
	if c.held(key) {
		t.Fatal("a read that raced an invalidation was kept")
	}
	tk = c.ticket(key)
	c.flush()
	c.fill(key, &cached{}, tk)
	if c.held(key) {
		t.Fatal("a read that raced a flush was kept")
	}
	c.fill(key, &cached{}, c.ticket(key))
	if !c.held(key) {
		t.Fatal("a clean read was not kept")
	}
	for i := range 1000 {
		k := "hp:{t}:sess:" + uuid.NewString()
		c.fill(k, &cached{}, c.ticket(k))
		if i > 0 && c.len() > localShards*2 {
			t.Fatalf("%d entries held, bound %d", c.len(), localShards*2)
		}
	}
	c.leaseUntil.Store(0)
	if c.get(key) != nil {
		t.Fatal("served without a lease")
	}
}

// held reports whether key is in c, lease or not.
func (c *localCache) held(key string) bool {
	sh := c.shard(key)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	_, ok := sh.m[key]
	return ok
}

// redisKey's one-allocation form spells the key as the plain one does.
func TestRedisKeySpelling(t *testing.T) {
	tenant := uuid.New()
	for _, id := range [][]byte{tokenID("x"), {}, {0xab}} {
		want := "hp:{" + tenant.String() + "}:sess:" + hex.EncodeToString(id)
		if got := redisKey(tenant, id); got != want {
			t.Fatalf("redisKey = %q, want %q", got, want)
		}
	}
}

// counter reads a counter of the process's /metrics.
func counter(t *testing.T, name string) float64 {
	t.Helper()
	var buf bytes.Buffer
	if _, err := metrics.Default.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(buf.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("%s not in /metrics", name)
	return 0
}
