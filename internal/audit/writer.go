package audit

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Batcher sends a batch of statements in one round trip; *pgxpool.Pool
// satisfies it.
type Batcher interface {
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// RecordBatch writes events in one round trip and one statement: all of
// them or none. One INSERT over arrays costs Postgres a fraction of one
// INSERT per event (a busy management API queues thousands a second). An
// event's At, when set, is its time (the request's, not the flush's).
func RecordBatch(ctx context.Context, db Batcher, events []Event) error {
	if len(events) == 0 {
		return nil
	}
	n := len(events)
	tenants := make([]uuid.UUID, n)
	actors, actions, targets, ips, details := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	at := make([]*time.Time, n)
	for i, e := range events {
		_, args, err := insert(e)
		if err != nil {
			return err
		}
		tenants[i] = args[0].(uuid.UUID)
		actors[i], actions[i], targets[i], ips[i] = args[1].(string), args[2].(string), args[3].(string), args[4].(string)
		details[i] = string(args[5].([]byte))
		if !e.At.IsZero() {
			t := e.At
			at[i] = &t
		}
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO audit_events (tenant_id, actor, action, target, ip, details, at)
		SELECT t, a, ac, tg, ip, d::jsonb, coalesce(at, clock_timestamp())
		FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[])
			AS u(t, a, ac, tg, ip, d, at)`, tenants, actors, actions, targets, ips, details, at)
	if err := db.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("audit: record %d events: %w", len(events), err)
	}
	return nil
}

// Writer records events that belong to no change of their own (a
// management API request) off the request's path: Record queues, and the
// queue is written in batches every FlushEvery, when it holds BatchSize
// events, and on Close.
type Writer struct {
	db  Batcher
	log *slog.Logger
	// FlushEvery, BatchSize and MaxPending are read by Start; zero means
	// 500 ms, 500 and 100 000. Past MaxPending (Postgres down a long
	// while) events are dropped, and counted in the log, rather than
	// growing memory without bound.
	FlushEvery time.Duration
	BatchSize  int
	MaxPending int

	mu      sync.Mutex
	queue   []Event
	dropped int
	kick    chan struct{}
	flushMu sync.Mutex // one batch at a time, in order
	stop    func()
}

// NewWriter returns a writer to db; Start runs it.
func NewWriter(db Batcher, log *slog.Logger) *Writer {
	if log == nil {
		log = slog.Default()
	}
	return &Writer{db: db, log: log, kick: make(chan struct{}, 1)}
}

// Record queues e; it never waits for Postgres.
func (w *Writer) Record(e Event) {
	w.mu.Lock()
	if len(w.queue) >= w.maxPending() {
		w.dropped++
		w.mu.Unlock()
		return
	}
	w.queue = append(w.queue, e)
	full := len(w.queue) >= w.batchSize()
	w.mu.Unlock()
	if full {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

func (w *Writer) maxPending() int {
	if w.MaxPending > 0 {
		return w.MaxPending
	}
	return 100_000
}

func (w *Writer) batchSize() int {
	if w.BatchSize > 0 {
		return w.BatchSize
	}
	return 500
}

// Start writes the queue in the background until Close.
func (w *Writer) Start(ctx context.Context) {
	every := w.FlushEvery
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-w.kick:
			}
			w.Flush(ctx)
		}
	}()
	var once sync.Once
	w.stop = func() { once.Do(func() { cancel(); <-done }) }
}

// Flush writes everything queued so far, in batches of BatchSize. A batch
// Postgres refuses goes back to the queue's head for the next flush.
func (w *Writer) Flush(ctx context.Context) {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	for {
		w.mu.Lock()
		n := min(len(w.queue), w.batchSize())
		batch := w.queue[:n:n]
		w.queue = w.queue[n:]
		dropped := w.dropped
		w.dropped = 0
		w.mu.Unlock()
		if dropped > 0 {
			w.log.Error("audit: events dropped, the queue was full", "dropped", dropped)
		}
		if n == 0 {
			return
		}
		if err := RecordBatch(ctx, w.db, batch); err != nil {
			w.log.Warn("audit: writing queued events failed; retrying", "events", n, "err", err)
			w.mu.Lock()
			w.queue = append(batch, w.queue...)
			w.mu.Unlock()
			return
		}
	}
}

// Close stops the background writing and writes what is queued (waiting
// at most 5 s for Postgres).
func (w *Writer) Close() {
	if w.stop != nil {
		w.stop()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w.Flush(ctx)
}
