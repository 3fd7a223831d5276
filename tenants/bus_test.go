package tenants_test

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// switchProxy forwards TCP connections to a real Redis while up; while down
// it closes every connection, accepted or open, as a Redis that went away.
type switchProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	up     bool
	conns  []net.Conn
}

func newSwitchProxy(t *testing.T, target string) *switchProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &switchProxy{ln: ln, target: target, up: true}
	t.Cleanup(func() { _ = ln.Close(); p.setUp(false) })
	go p.accept()
	return p
}

func (p *switchProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if !p.up {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			_ = c.Close()
			continue
		}
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		go func() { _, _ = io.Copy(s, c); _ = s.Close() }()
		go func() { _, _ = io.Copy(c, s); _ = c.Close() }()
	}
}

func (p *switchProxy) setUp(up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.up = up
	if !up {
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.conns = nil
	}
}

// A settings change whose publish fails (the writer's Redis connection is
// gone at that moment) still reaches the other node soon after Redis is
// reachable again: the bus publishes it again in the background, long
// before the other node's cache entry would expire.
func TestBusRepublishesAChangeRedisDidNotTake(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool, sealer, rdb := testenv.Pool(t), testenv.Sealer(t), testenv.Redis(t)
	channel := "hp:test:" + testenv.Slug("bus")

	// Node B subscribes directly; its cache would keep entries for an hour.
	busB := tenants.NewBus(rdb, channel, nil)
	cacheB := tenants.NewCache(tenants.NewStore(pool, sealer, nil), time.Hour)
	ready := make(chan struct{})
	go busB.Run(ctx, cacheB, ready)
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		t.Fatal("bus B did not subscribe")
	}

	// Node A publishes through a connection that can be cut.
	proxy := newSwitchProxy(t, rdb.Options().Addr)
	rdbA := redis.NewClient(&redis.Options{Addr: proxy.ln.Addr().String(), DB: rdb.Options().DB,
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 200 * time.Millisecond, MaxRetries: 1, DialerRetries: 1})
	t.Cleanup(func() { _ = rdbA.Close() })
	busA := tenants.NewBus(rdbA, channel, nil)
	storeA := tenants.NewStore(pool, sealer, busA)

	slug := testenv.Slug("bus")
	if _, err := storeA.Create(ctx, tenants.CreateInput{Slug: slug}, "test"); err != nil {
		t.Fatal(err)
	}
	// B holds the tenant in its cache (the same pointer twice: a hit, not a
	// load racing the creation's own invalidation).
	waitFor(t, "B caches the tenant", func() bool {
		first, err := cacheB.BySlug(ctx, slug)
		if err != nil || first.Settings.LoginByCodeEnabled {
			return false
		}
		second, err := cacheB.BySlug(ctx, slug)
		return err == nil && first == second
	})

	proxy.setUp(false)
	if _, err := storeA.UpdateSettings(ctx, slug, []byte(`{"ACCOUNT_LOGIN_BY_CODE_ENABLED": true}`), "test"); err != nil {
		t.Fatal(err)
	}
	if busA.Unsent() != 1 {
		t.Fatalf("unsent changes while Redis is away: %d, want 1", busA.Unsent())
	}
	time.Sleep(300 * time.Millisecond)
	if tn, _ := cacheB.BySlug(ctx, slug); tn == nil || tn.Settings.LoginByCodeEnabled {
		t.Fatal("B saw the change although nothing could be published (the test proves nothing)")
	}

	proxy.setUp(true)
	back := time.Now()
	deadline := back.Add(3 * time.Second)
	for {
		tn, err := cacheB.BySlug(ctx, slug)
		if err == nil && tn.Settings.LoginByCodeEnabled {
			t.Logf("B saw the change %v after Redis came back", time.Since(back).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("B did not see the change within 3 s of Redis coming back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	waitFor(t, "the retry queue empties", func() bool { return busA.Unsent() == 0 })
}

// A change that cannot be published for longer than RetryFor is given up
// (other nodes see it when their cache entries expire) and the retrier ends.
func TestBusGivesUpAfterRetryFor(t *testing.T) {
	rdb := testenv.Redis(t)
	proxy := newSwitchProxy(t, rdb.Options().Addr)
	proxy.setUp(false)
	rdbA := redis.NewClient(&redis.Options{Addr: proxy.ln.Addr().String(),
		DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond, MaxRetries: 1, DialerRetries: 1})
	t.Cleanup(func() { _ = rdbA.Close() })
	bus := tenants.NewBus(rdbA, "hp:test:"+testenv.Slug("bus"), nil)
	bus.RetryFor = 400 * time.Millisecond
	err := bus.PublishChange(context.Background(), tenants.Change{ID: [16]byte{1}, Slug: "a"})
	if err == nil {
		t.Fatal("publish through a closed proxy succeeded")
	}
	if bus.Unsent() != 1 {
		t.Fatalf("unsent: %d, want 1", bus.Unsent())
	}
	deadline := time.Now().Add(3 * time.Second)
	for bus.Unsent() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still %d unsent 3 s after RetryFor ran out", bus.Unsent())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
