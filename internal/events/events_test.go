package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// tenant inserts a bare tenant row (events references tenants).
func tenant(t *testing.T, pool *pgxpool.Pool) uuid.UUID {
	t.Helper()
	id := uuid.New()
	if _, err := pool.Exec(context.Background(), `INSERT INTO tenants (id, slug, name) VALUES ($1, $2, 'Events')`,
		id, testenv.Slug("ev")); err != nil {
		t.Fatal(err)
	}
	return id
}

// fanout records what it was given, and the transaction it was given.
type fanout struct {
	got []events.Event
	txs []pgx.Tx
	err error
}

func (f *fanout) Fanout(_ context.Context, tx pgx.Tx, e events.Event) error {
	f.got = append(f.got, e)
	f.txs = append(f.txs, tx)
	return f.err
}

func count(t *testing.T, pool *pgxpool.Pool, tenantID uuid.UUID) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM events WHERE tenant_id = $1`, tenantID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Append writes the row in the caller's transaction and hands the event,
// with its id and time, to the Fanout in that same transaction; a
// rollback leaves neither.
func TestAppendInTransaction(t *testing.T) {
	pool := testenv.Pool(t)
	ctx := context.Background()
	tid := tenant(t, pool)
	f := &fanout{}
	log := &events.Log{Fanout: f}

	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := log.Emit(ctx, tx, tid, events.UserCreated, map[string]any{"user": map[string]any{"id": 7}}); err != nil {
			return err
		}
		if f.txs[0] != tx {
			t.Error("fanout ran outside the change's transaction")
		}
		return errors.New("rolled back")
	})
	if err == nil || count(t, pool, tid) != 0 {
		t.Fatalf("rolled back change: err %v, %d events", err, count(t, pool, tid))
	}

	f.got = nil
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return log.Emit(ctx, tx, tid, events.UserCreated, map[string]any{"user": map[string]any{"id": 7}})
	}); err != nil {
		t.Fatal(err)
	}
	if len(f.got) != 1 || f.got[0].ID == 0 || f.got[0].At.IsZero() || f.got[0].TenantID != tid || f.got[0].Type != events.UserCreated {
		t.Fatalf("fanout got %+v", f.got)
	}
	var typ string
	var data map[string]any
	if err := pool.QueryRow(ctx, `SELECT type, data FROM events WHERE tenant_id = $1 AND id = $2`, tid, f.got[0].ID).Scan(&typ, &data); err != nil {
		t.Fatal(err)
	}
	if typ != events.UserCreated || data["user"].(map[string]any)["id"] != float64(7) {
		t.Fatalf("row %s %v", typ, data)
	}

	// A failing fanout fails the change.
	f.err = errors.New("queue down")
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return log.Emit(ctx, tx, tid, events.UserDeleted, nil) })
	if !errors.Is(err, f.err) || count(t, pool, tid) != 1 {
		t.Fatalf("fanout failure: %v, %d events", err, count(t, pool, tid))
	}
}

// A nil Log records nothing and needs no transaction; unknown types are
// refused.
func TestAppendNilAndUnknown(t *testing.T) {
	var none *events.Log
	if err := none.Emit(context.Background(), nil, uuid.New(), "nope", nil); err != nil {
		t.Fatal(err)
	}
	pool := testenv.Pool(t)
	tid := tenant(t, pool)
	err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error {
		return (&events.Log{}).Emit(context.Background(), tx, tid, "user.renamed", nil)
	})
	if !errors.Is(err, events.ErrUnknownType) {
		t.Fatalf("unknown type: %v", err)
	}
}

func TestPayload(t *testing.T) {
	e := events.Event{Type: events.EmailVerified, Data: json.RawMessage(`{"user":{"id":1}}`)}
	e.At = mustTime(t, "2026-12-07T10:11:12.345678+01:00")
	got, err := events.Payload(e, "acme")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"email.verified","timestamp":"2026-12-07T09:11:12.345678Z","tenant":"acme","data":{"user":{"id":1}}}`
	if string(got) != want {
		t.Fatalf("payload\n got %s\nwant %s", got, want)
	}
}

// The catalog has every type once, in Types' order, each with a schema.
func TestCatalogCoversTypes(t *testing.T) {
	var names []string
	for _, c := range events.Catalog() {
		names = append(names, c.Type)
		if c.Description == "" || !json.Valid(c.Schema) || !slices.Equal(c.Schema, events.Schema(c.Type)) {
			t.Errorf("%s: incomplete catalog entry", c.Type)
		}
	}
	if !slices.Equal(names, events.Types()) || len(names) != 18 {
		t.Fatalf("catalog %v\ntypes %v", names, events.Types())
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// Purge deletes the events older than the retention, of every tenant, in
// batches, and keeps the rest.
func TestPurge(t *testing.T) {
	pool := testenv.Pool(t)
	ctx := context.Background()
	tid := tenant(t, pool)
	if _, err := pool.Exec(ctx, `INSERT INTO events (tenant_id, type, created_at) SELECT $1, 'user.created', now() - interval '40 days'
		FROM generate_series(1, 5)`, tid); err != nil {
		t.Fatal(err)
	}
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return (&events.Log{}).Emit(ctx, tx, tid, events.UserUpdated, nil) }); err != nil {
		t.Fatal(err)
	}
	total := int64(0)
	for {
		n, err := events.Purge(ctx, pool, events.DefaultRetention, 2)
		if err != nil {
			t.Fatal(err)
		}
		total += n
		if n < 2 {
			break
		}
	}
	if total < 5 || count(t, pool, tid) != 1 {
		t.Fatalf("purged %d, %d left", total, count(t, pool, tid))
	}
}
