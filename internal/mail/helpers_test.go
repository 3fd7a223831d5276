package mail

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// newTenant inserts a tenant to send mail for.
func newTenant(t *testing.T, pool *pgxpool.Pool) uuid.UUID {
	t.Helper()
	id := uuid.New()
	if _, err := pool.Exec(context.Background(),
		`INSERT INTO tenants (id, slug, name) VALUES ($1, $2, 'Mail test')`, id, testenv.Slug("mail")); err != nil {
		t.Fatal(err)
	}
	return id
}

// quietOutbox marks every unsent row of earlier tests as sent: the tests of
// this package share one database, and workers serve every tenant.
func quietOutbox(t *testing.T, pool *pgxpool.Pool) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `UPDATE outbox SET sent_at = now() WHERE sent_at IS NULL`); err != nil {
		t.Fatal(err)
	}
}

// testLogger logs to the test's output.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// fastWorker returns a worker with test-sized delays.
func fastWorker(t *testing.T, pool *pgxpool.Pool, sender Sender) *Worker {
	w := NewWorker(pool, testenv.Sealer(t), sender, testLogger(t))
	w.BackoffBase = 5 * time.Millisecond
	w.BackoffMax = 50 * time.Millisecond
	w.PollInterval = 200 * time.Millisecond
	w.SendTimeout = 5 * time.Second
	return w
}

// run starts w.Run and stops it (and waits for it) when the test ends.
func run(t *testing.T, w *Worker) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("worker Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("worker did not stop")
		}
	})
}

// waitListening waits until n outbox listeners are connected to the test database.
func waitListening(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	eventually(t, 5*time.Second, func() error {
		var got int
		err := pool.QueryRow(context.Background(), `
			SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = $1
			  AND query = 'LISTEN `+NotifyChannel+`'`, listenerAppName).Scan(&got)
		if err != nil {
			return err
		}
		if got < n {
			return fmt.Errorf("%d listener(s), want %d", got, n)
		}
		return nil
	})
}

// eventually retries f until it succeeds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %v", timeout, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testMessage builds a rendered message for tenant.
func testMessage(t *testing.T, tenant uuid.UUID, to, link string) Message {
	t.Helper()
	subject, text, html, err := Render(KindEmailConfirmation, TemplateData{SiteName: "Acme", Link: link})
	if err != nil {
		t.Fatal(err)
	}
	return Message{
		TenantID: tenant, Kind: KindEmailConfirmation, To: to,
		FromName: "Acme", FromAddress: "no-reply@acme.test",
		Subject: subject, Text: text, HTML: html,
	}
}

// enqueue queues messages in one committed transaction and returns their ids.
func enqueue(t *testing.T, pool *pgxpool.Pool, msgs ...Message) []uuid.UUID {
	t.Helper()
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	ob := NewOutbox(testenv.Sealer(t))
	var ids []uuid.UUID
	for _, m := range msgs {
		id, err := ob.Enqueue(ctx, tx, m)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	return ids
}

// outboxRow is the bookkeeping of one outbox row.
type outboxRow struct {
	attempts  int
	lastError string
	sent      bool
}

func readRow(t *testing.T, pool *pgxpool.Pool, tenant, id uuid.UUID) outboxRow {
	t.Helper()
	var r outboxRow
	if err := pool.QueryRow(context.Background(), `
		SELECT attempts, last_error, sent_at IS NOT NULL FROM outbox WHERE tenant_id = $1 AND id = $2`,
		tenant, id).Scan(&r.attempts, &r.lastError, &r.sent); err != nil {
		t.Fatalf("outbox row %s: %v", id, err)
	}
	return r
}

// countingSender counts the messages another sender delivered.
type countingSender struct {
	Sender
	n atomic.Int64
}

func (c *countingSender) Send(ctx context.Context, id uuid.UUID, m Message) error {
	err := c.Sender.Send(ctx, id, m)
	if err == nil {
		c.n.Add(1)
	}
	return err
}

// syncBuffer is a bytes.Buffer safe for concurrent writers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ io.Writer = (*syncBuffer)(nil)
