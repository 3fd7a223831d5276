package sessions

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// batchQueue is what the batchers of this package share (session reads in
// reads.go, refresh rotations in refresh_batch.go): requests queue, at
// most workers goroutines each take what has queued, up to maxBatch, and
// hand it to serve as one batch. A lone request goes out at once; requests
// arriving while batches are in flight ride the next one. A worker idle for
// batchIdle exits, so an idle server keeps none.
type batchQueue[T any] struct {
	workers, maxBatch int
	serve             func(batch []T)

	reqs    chan T
	once    sync.Once
	running atomic.Int32
}

// batchIdle is how long a batch worker waits for work before it exits.
const batchIdle = time.Second

// submit queues r for a batch; false when ctx ended first (r was not
// queued).
func (q *batchQueue[T]) submit(ctx context.Context, r T) bool {
	q.init()
	q.startWorker()
	select {
	case q.reqs <- r:
	case <-ctx.Done():
		return false
	}
	// Again once queued: a worker that went idle just before the request
	// arrived has left its place free (see next).
	q.startWorker()
	return true
}

// init makes the queue on first use.
func (q *batchQueue[T]) init() {
	q.once.Do(func() { q.reqs = make(chan T, q.workers*q.maxBatch) })
}

// startWorker starts a worker unless q.workers already run.
func (q *batchQueue[T]) startWorker() {
	for {
		n := q.running.Load()
		if n >= int32(q.workers) {
			return
		}
		if q.running.CompareAndSwap(n, n+1) {
			go q.loop()
			return
		}
	}
}

// next waits for a request; false after batchIdle without one, when the
// worker has given up its place (unless work arrived meanwhile).
func (q *batchQueue[T]) next(idle *time.Timer) (T, bool) {
	for {
		idle.Reset(batchIdle)
		select {
		case r := <-q.reqs:
			return r, true
		case <-idle.C:
			q.running.Add(-1)
			var none T
			if len(q.reqs) == 0 {
				return none, false
			}
			// A request slipped in as we left: take the place back if free.
			if n := q.running.Load(); n >= int32(q.workers) || !q.running.CompareAndSwap(n, n+1) {
				return none, false
			}
		}
	}
}

// loop serves batches until it has been idle for batchIdle.
func (q *batchQueue[T]) loop() {
	batch := make([]T, 0, q.maxBatch)
	idle := time.NewTimer(batchIdle)
	defer idle.Stop()
	for {
		r, ok := q.next(idle)
		if !ok {
			return
		}
		batch = append(batch[:0], r)
	fill:
		for len(batch) < q.maxBatch {
			select {
			case r := <-q.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		q.serve(batch)
		clear(batch)
	}
}
