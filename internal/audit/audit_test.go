package audit_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// record writes events in one transaction, so they share one `at`.
func record(t *testing.T, pool *pgxpool.Pool, tenant uuid.UUID, actions ...string) {
	t.Helper()
	ctx := context.Background()
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		for _, a := range actions {
			if err := audit.Record(ctx, tx, audit.Event{TenantID: tenant, Actor: "test", Action: a, Details: map[string]any{"n": a}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Paging with ListBefore visits every event once, newest first, even when
// many share a timestamp and new events arrive between pages; another
// tenant's events never appear.
func TestListBeforePagesStably(t *testing.T) {
	pool := testenv.Pool(t)
	ctx := context.Background()
	tenant, other := uuid.New(), uuid.New()
	var want []string
	for batch := range 4 {
		var actions []string
		for i := range 5 {
			actions = append(actions, fmt.Sprintf("e.%d.%d", batch, i))
		}
		record(t, pool, tenant, actions...)
		record(t, pool, other, "other")
		want = append(want, actions...)
	}
	var got []string
	var cur audit.Cursor
	for page := 0; ; page++ {
		events, err := audit.ListBefore(ctx, pool, tenant, cur, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(events) == 0 {
			break
		}
		for _, e := range events {
			if e.TenantID != tenant {
				t.Fatalf("event of another tenant: %+v", e)
			}
			got = append(got, e.Action)
		}
		if page == 1 {
			// Newer events do not shift the pages still to come.
			record(t, pool, tenant, "late.1", "late.2")
		}
		next := events[len(events)-1].Cursor()
		parsed, err := audit.ParseCursor(next.String())
		if err != nil || !parsed.At.Equal(next.At) || parsed.ID != next.ID {
			t.Fatalf("cursor %q round-trips to %+v, %v; want %+v", next.String(), parsed, err, next)
		}
		cur = parsed
	}
	if len(got) != len(want) {
		t.Fatalf("paged %d events, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if got[i] != want[len(want)-1-i] {
			t.Fatalf("event %d is %s, want %s (all: %v)", i, got[i], want[len(want)-1-i], got)
		}
	}
	first, err := audit.ListBefore(ctx, pool, tenant, audit.Cursor{}, 2)
	if err != nil || len(first) != 2 || first[0].Action != "late.2" {
		t.Fatalf("the zero cursor starts at the newest: %v, %v", first, err)
	}
	// List (unchanged) agrees with ListBefore's order.
	listed, err := audit.List(ctx, pool, tenant, 100)
	if err != nil || len(listed) != len(want)+2 {
		t.Fatalf("List: %d, %v", len(listed), err)
	}
}

func TestParseCursor(t *testing.T) {
	if c, err := audit.ParseCursor(""); err != nil || !c.IsZero() || c.String() != "" {
		t.Fatalf("empty cursor: %+v, %v", c, err)
	}
	at := time.Date(2025, 3, 4, 5, 6, 7, 123456000, time.UTC)
	c := audit.Cursor{At: at, ID: 42}
	back, err := audit.ParseCursor(c.String())
	if err != nil || !back.At.Equal(at) || back.ID != 42 {
		t.Fatalf("round trip of %s: %+v, %v", c, back, err)
	}
	for _, bad := range []string{"x", "1", "1.", ".2", "1.x", "1.0", "1.-3", "a.1"} {
		if _, err := audit.ParseCursor(bad); err == nil {
			t.Errorf("ParseCursor(%q) accepted", bad)
		}
	}
}

// An event whose target, address or details hold what Postgres text and
// jsonb refuse (NUL, invalid UTF-8: a typed address, a header) is still
// recorded, cleaned, rather than failing the change it records.
func TestRecordCleansText(t *testing.T) {
	pool := testenv.Pool(t)
	tenant := uuid.New()
	e := audit.Event{TenantID: tenant, Actor: "anonymous", Action: "login.failed", Target: "a\x00b\xff@example.com",
		IP: "1.2.3.4\x00, junk\xff", Details: map[string]any{"agent\x00": "x\x00y", "list": []string{"\xff"}}}
	if err := audit.Record(context.Background(), pool, e); err != nil {
		t.Fatal(err)
	}
	got, err := audit.List(context.Background(), pool, tenant, 10)
	if err != nil || len(got) != 1 {
		t.Fatalf("%v %v", got, err)
	}
	if got[0].Target != "ab\uFFFD@example.com" || got[0].IP != "1.2.3.4, junk\uFFFD" || got[0].Details["agent"] != "xy" {
		t.Fatalf("stored %+v", got[0])
	}
}

// The writer queues without touching Postgres, and Close writes the queue.
func TestWriterFlushesOnClose(t *testing.T) {
	pool := testenv.Pool(t)
	tenant := uuid.New()
	w := audit.NewWriter(pool, nil)
	w.FlushEvery = time.Hour
	w.Start(context.Background())
	for i := range 3 {
		w.Record(audit.Event{TenantID: tenant, Actor: "apikey:x", Action: "api.request", Target: fmt.Sprint("GET /", i)})
	}
	if events, _ := audit.List(context.Background(), pool, tenant, 10); len(events) != 0 {
		t.Fatalf("written before any flush: %d", len(events))
	}
	w.Close()
	events, err := audit.List(context.Background(), pool, tenant, 10)
	if err != nil || len(events) != 3 {
		t.Fatalf("after Close: %d events, %v", len(events), err)
	}
}
