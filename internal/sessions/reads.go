package sessions

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/redisguard"
)

// getBatcher gathers the session GETs of concurrent requests into pipelines
// (one write and one read for many lookups instead of one each), the way
// auto-pipelining Redis clients do. Under load most of a session check's
// cost was the two syscalls of its own Redis round trip, on both ends.
// Pipelined GETs (not MGET) keep it valid on Redis Cluster, where the keys
// of different tenants live in different slots.
type getBatcher struct {
	rdb *redis.Client
	q   batchQueue[*getReq]
	// guard bounds each round trip and hears how it went.
	guard *redisguard.Guard
}

func newGetBatcher(rdb *redis.Client, guard *redisguard.Guard) *getBatcher {
	b := &getBatcher{rdb: rdb, guard: guard}
	// At most 4 round trips in flight, each carrying at most 64 GETs.
	b.q = batchQueue[*getReq]{workers: 4, maxBatch: 64, serve: b.run}
	return b
}

// getReq is one lookup waiting for its batch.
type getReq struct {
	key  string
	val  []byte
	err  error
	done chan struct{}
}

var getReqPool = sync.Pool{New: func() any { return &getReq{done: make(chan struct{}, 1)} }}

// get returns the value at key (redis.Nil when there is none).
func (b *getBatcher) get(ctx context.Context, key string) ([]byte, error) {
	r := getReqPool.Get().(*getReq)
	r.key, r.val, r.err = key, nil, nil
	if !b.q.submit(ctx, r) {
		getReqPool.Put(r)
		return nil, ctx.Err()
	}
	select {
	case <-r.done:
		val, err := r.val, r.err
		getReqPool.Put(r)
		return val, err
	case <-ctx.Done():
		// The worker still owns r and will answer into its buffered
		// channel; r is left to the garbage collector.
		return nil, ctx.Err()
	}
}

// run sends one batch's GETs in one round trip and answers each request.
func (b *getBatcher) run(batch []*getReq) {
	ctx, done := b.guard.Bound(context.Background())
	if len(batch) == 1 {
		r := batch[0]
		r.val, r.err = b.rdb.Get(ctx, r.key).Bytes()
		done(r.err)
	} else {
		pipe := b.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(batch))
		for i, r := range batch {
			cmds[i] = pipe.Get(ctx, r.key)
		}
		// The first command's error (redis.Nil for a miss is an answer).
		_, err := pipe.Exec(ctx)
		done(err)
		for i, r := range batch {
			r.val, r.err = cmds[i].Bytes()
		}
	}
	for _, r := range batch {
		r.done <- struct{}{}
	}
}
