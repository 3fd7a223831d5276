package sessions

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/audit"
)

// Mail and audit events are forgotten after their retention: sent mail (and
// its dev-inbox copy) older than the sent-mail retention goes, recent mail
// stays, mail not yet sent stays until its own, longer retention; audit
// events older than the audit retention go, of a tenant and of the
// platform alike. Before this, nothing was ever deleted.
func TestJanitorRetention(t *testing.T) {
	f := newCacheFixture(t)
	ctx := context.Background()
	pool := f.s.pool
	day := 24 * time.Hour
	now := time.Now()
	type mailRow struct {
		name    string
		created time.Time
		sent    *time.Time
		want    bool // kept
	}
	at := func(d time.Duration) *time.Time { v := now.Add(-d); return &v }
	rows := []mailRow{
		{"sent 8 days ago", now.Add(-8 * day), at(8 * day), false},
		{"written 9 days ago, sent 6 days ago", now.Add(-9 * day), at(6 * day), true},
		{"sent an hour ago", now.Add(-time.Hour), at(time.Hour), true},
		{"unsent, 8 days old (still retried)", now.Add(-8 * day), nil, true},
		{"unsent, 31 days old (given up)", now.Add(-31 * day), nil, false},
	}
	ids := make([]uuid.UUID, len(rows))
	for i, r := range rows {
		ids[i] = uuid.New()
		if _, err := pool.Exec(ctx, `INSERT INTO outbox (tenant_id, id, kind, recipient_hash, payload, created_at, sent_at)
			VALUES ($1, $2, 'login_code', $3, 'sealed', $4, $5)`, f.tenant, ids[i], strings.Repeat("a", 64), r.created, r.sent); err != nil {
			t.Fatal(err)
		}
		if r.sent != nil {
			if _, err := pool.Exec(ctx, `INSERT INTO dev_inbox (tenant_id, id, recipient, subject, text_body, created_at)
				VALUES ($1, $2, 'ivy@example.com', 'Your code', 'code 123456', $3)`, f.tenant, ids[i], *r.sent); err != nil {
				t.Fatal(err)
			}
		}
	}
	events := map[string]struct {
		tenant uuid.UUID
		age    time.Duration
		want   bool
	}{
		"tenant, 401 days":   {f.tenant, 401 * day, false},
		"tenant, 399 days":   {f.tenant, 399 * day, true},
		"platform, 401 days": {audit.Platform, 401 * day, false},
		"tenant, today":      {f.tenant, 0, true},
	}
	eventIDs := map[string]int64{}
	for name, e := range events {
		var id int64
		if err := pool.QueryRow(ctx, `INSERT INTO audit_events (tenant_id, at, actor, action, target) VALUES ($1, $2, 'test', 'test.retention', $3)
			RETURNING id`, e.tenant, now.Add(-e.age), name).Scan(&id); err != nil {
			t.Fatal(err)
		}
		eventIDs[name] = id
	}

	res, err := (&Janitor{Pool: pool, BatchSize: 1}).Round(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Other tests share the database: at least ours went.
	if res.SentMail < 1 || res.UnsentMail < 1 || res.DevInbox < 1 || res.AuditEvents < 2 {
		t.Fatalf("round: %+v", res)
	}
	exists := func(sql string, args ...any) bool {
		t.Helper()
		var ok bool
		if err := pool.QueryRow(ctx, `SELECT EXISTS (`+sql+`)`, args...).Scan(&ok); err != nil {
			t.Fatal(err)
		}
		return ok
	}
	for i, r := range rows {
		if got := exists(`SELECT 1 FROM outbox WHERE tenant_id = $1 AND id = $2`, f.tenant, ids[i]); got != r.want {
			t.Errorf("outbox row %s: kept %v, want %v", r.name, got, r.want)
		}
		if r.sent != nil {
			if got := exists(`SELECT 1 FROM dev_inbox WHERE tenant_id = $1 AND id = $2`, f.tenant, ids[i]); got != (*r.sent).After(now.Add(-7*day)) {
				t.Errorf("dev inbox copy of %s: kept %v", r.name, got)
			}
		}
	}
	for name, e := range events {
		if got := exists(`SELECT 1 FROM audit_events WHERE tenant_id = $1 AND id = $2`, e.tenant, eventIDs[name]); got != e.want {
			t.Errorf("audit event %s: kept %v, want %v", name, got, e.want)
		}
	}

	// Shorter retentions, as set by HALLPASS_OUTBOX_RETENTION and
	// HALLPASS_AUDIT_RETENTION, take the rest but today's.
	j := &Janitor{Pool: pool, SentMailRetention: 2 * time.Hour, UnsentMailRetention: 7 * day, AuditRetention: day}
	if _, err := j.Round(ctx); err != nil {
		t.Fatal(err)
	}
	for i, r := range rows {
		want := r.name == "sent an hour ago"
		if got := exists(`SELECT 1 FROM outbox WHERE tenant_id = $1 AND id = $2`, f.tenant, ids[i]); got != want {
			t.Errorf("short retention: outbox row %s: kept %v, want %v", r.name, got, want)
		}
	}
	if exists(`SELECT 1 FROM audit_events WHERE tenant_id = $1 AND id = $2`, f.tenant, eventIDs["tenant, 399 days"]) ||
		!exists(`SELECT 1 FROM audit_events WHERE tenant_id = $1 AND id = $2`, f.tenant, eventIDs["tenant, today"]) {
		t.Error("short audit retention")
	}
}
