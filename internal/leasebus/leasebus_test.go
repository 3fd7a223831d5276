package leasebus_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/leasebus"
	"github.com/hallpass/hallpass/internal/testenv"
)

// recorder is a cache that notes what the bus tells it.
type recorder struct {
	mu      sync.Mutex
	dropped []string
	flushes int
}

func (r *recorder) Drop(keys []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropped = append(r.dropped, keys...)
}

func (r *recorder) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.flushes++
}

func (r *recorder) has(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Contains(r.dropped, key)
}

func startNode(t *testing.T, rdb *redis.Client, ns string) (*leasebus.Bus, *recorder) {
	t.Helper()
	b := leasebus.New(rdb, "test", leasebus.Config{Namespace: ns})
	rec := &recorder{}
	t.Cleanup(b.Start(context.Background(), rec))
	deadline := time.Now().Add(10 * time.Second)
	for !b.Serving() {
		if time.Now().After(deadline) {
			t.Fatal("no lease after 10 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	return b, rec
}

// An invalidation is applied by every node before Invalidate returns; a
// node that holds a lease but does not answer is struck, and the writer
// waits its lease out.
func TestInvalidateReachesNodesOrOutwaitsThem(t *testing.T) {
	rdb := testenv.Redis(t)
	ns := "leasebus-test-" + uuid.NewString()
	_, recA := startNode(t, rdb, ns)
	_, recB := startNode(t, rdb, ns)
	writer := leasebus.New(rdb, "test", leasebus.Config{Namespace: ns, AckTimeout: 200 * time.Millisecond})
	genBefore := writer.Generation()
	writer.Invalidate(context.Background(), "k1", "k2")
	if !recA.has("k1") || !recA.has("k2") || !recB.has("k2") {
		t.Fatal("a node had not dropped the keys when Invalidate returned")
	}
	if writer.Generation() == genBefore {
		t.Error("the writer's own generation did not move")
	}

	// A silent node with a lease of 800 ms: the writer strikes it and
	// waits until its lease is over.
	ctx := context.Background()
	tm, err := rdb.Time(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	lease := tm.Add(800 * time.Millisecond).UnixMilli()
	if err := rdb.ZAdd(ctx, "hp:invnodes:test:"+ns, redis.Z{Score: float64(lease), Member: "silent"}).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	writer.Invalidate(ctx, "k3")
	if took := time.Since(start); took < 600*time.Millisecond {
		t.Fatalf("returned after %v, before the silent node's lease ran out", took)
	}
	if n, _ := rdb.ZScore(ctx, "hp:invnodes:test:"+ns, "silent").Result(); n != 0 {
		t.Error("the silent node was not struck")
	}
	if !recA.has("k3") {
		t.Error("A missed k3")
	}
}

// Without Redis a node never serves from memory.
func TestNoRedisNoServing(t *testing.T) {
	b := leasebus.New(nil, "test", leasebus.Config{})
	defer b.Start(context.Background(), &recorder{})()
	time.Sleep(50 * time.Millisecond)
	if b.Serving() {
		t.Fatal("a node without Redis serves")
	}
	b.Invalidate(context.Background(), "k") // returns: nobody can hold it
}
