package webhooks_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/internal/webhooks"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var actor = audit.Actor{Name: "test"}

// fixture is a running service (its own River queue) and a tenant.
type fixture struct {
	t      *testing.T
	pool   *pgxpool.Pool
	svc    *webhooks.Service
	tenant uuid.UUID
	slug   string
}

func newFixture(t *testing.T, tune func(*webhooks.Config)) *fixture {
	t.Helper()
	pool := testenv.Pool(t)
	cfg := webhooks.Config{Pool: pool, Sealer: testenv.Sealer(t), URLs: webhooks.URLPolicy{AllowPrivate: true},
		Outbox: mail.NewOutbox(testenv.Sealer(t)), MailFrom: "no-reply@example.com", ConsoleURL: "https://console.example.com",
		Owners: func(ctx context.Context, tenantID uuid.UUID) ([]string, error) {
			rows, err := pool.Query(ctx, `SELECT u.email FROM memberships m JOIN console_users u ON u.id = m.console_user_id
				WHERE m.tenant_id = $1 AND m.role = 'owner'`, tenantID)
			if err != nil {
				return nil, err
			}
			return pgx.CollectRows(rows, pgx.RowTo[string])
		},
		Queue: strings.ReplaceAll(strings.ToLower(testenv.Slug("wh")), "-", "_"), RetryBase: 50 * time.Millisecond,
		PollInterval: 50 * time.Millisecond, RequestTimeout: 2 * time.Second}
	if tune != nil {
		tune(&cfg)
	}
	svc, err := webhooks.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = svc.Stop(ctx)
	})
	f := &fixture{t: t, pool: pool, svc: svc, tenant: uuid.New(), slug: strings.ToLower(testenv.Slug("wht"))}
	if _, err := pool.Exec(context.Background(), `INSERT INTO tenants (id, slug, name) VALUES ($1, $2, 'Webhook Tests')`, f.tenant, f.slug); err != nil {
		t.Fatal(err)
	}
	return f
}

// endpoint creates an endpoint on url, subscribed to types (none: all).
func (f *fixture) endpoint(url string, types ...string) (webhooks.Endpoint, string) {
	f.t.Helper()
	in := webhooks.EndpointInput{URL: &url}
	if len(types) > 0 {
		in.Events = &types
	}
	ep, secret, err := f.svc.Create(context.Background(), f.tenant, in, actor)
	if err != nil {
		f.t.Fatal(err)
	}
	return ep, secret
}

// emit appends nothing to the events table: it calls Fanout as events.Log
// does, in a transaction it commits (or rolls back when rollback).
func (f *fixture) emit(typ string, rollback bool) events.Event {
	f.t.Helper()
	e := events.Event{ID: time.Now().UnixNano(), TenantID: f.tenant, Type: typ, At: time.Now(),
		Data: json.RawMessage(`{"user":{"id":"1","email":"ada@example.com"}}`)}
	ctx := context.Background()
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := f.svc.Fanout(ctx, tx, e); err != nil {
		f.t.Fatal(err)
	}
	if !rollback {
		if err := tx.Commit(ctx); err != nil {
			f.t.Fatal(err)
		}
	}
	return e
}

func (f *fixture) count(sql string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), sql, args...).Scan(&n); err != nil {
		f.t.Fatal(err)
	}
	return n
}

// receiver is a webhook receiver whose answers a test scripts.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex
	got  []received
	next func(n int) (status int, body string, hang bool)
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, answer func(n int) (status int, body string, hang bool)) *receiver {
	r := &receiver{next: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, received{header: req.Header.Clone(), body: body})
		n, next := len(r.got), r.next
		r.mu.Unlock()
		status, text, hang := next(n)
		if hang {
			select {
			case <-req.Context().Done():
			case <-time.After(30 * time.Second):
			}
			return
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, text)
	}))
	t.Cleanup(r.Close)
	return r
}

// answer changes how the receiver answers from now on.
func (r *receiver) answer(f func(n int) (int, string, bool)) {
	r.mu.Lock()
	r.next = f
	r.mu.Unlock()
}

func (r *receiver) requests() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]received(nil), r.got...)
}

func (r *receiver) wait(t *testing.T, n int, within time.Duration) []received {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if got := r.requests(); len(got) >= n {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("receiver got %d requests, want %d", len(r.requests()), n)
	return nil
}

func always(status int) func(int) (int, string, bool) {
	return func(int) (int, string, bool) { return status, "ok", false }
}

// waitFor polls cond until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}
