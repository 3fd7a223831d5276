// Package audit records who changed what, in the same transaction as the
// change itself, so the trail never disagrees with the data. Events carry
// no secrets: no password, token, key, code or seed goes into Target or
// Details, only what identifies the actor, the object and the change.
package audit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hallpass/hallpass/internal/pgtext"
)

// Platform is the tenant id used for events that belong to no tenant.
var Platform = uuid.Nil

// Event is one audit record.
type Event struct {
	TenantID uuid.UUID
	ID       int64
	At       time.Time
	Actor    string // "cli", "console:<user id>", "user:<tenant user id>", "anonymous", ...
	Action   string // dotted verb, e.g. "tenant.settings.update"
	Target   string
	IP       string
	Details  map[string]any
}

// Actor is who does an operation that records its own event (a console
// user disabling a tenant user, a management API client): Name becomes the
// event's Actor ("console:<id>", "cli"), IP its IP ("" when there is no
// request).
type Actor struct {
	Name string
	IP   string
}

// Execer runs a statement; pgx.Tx and *pgxpool.Pool satisfy it.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Record writes e with x: the transaction of the change the event records
// whenever there is one (a sign-in, which changes no row of its own, is
// recorded on the pool).
func Record(ctx context.Context, x Execer, e Event) error {
	sql, args, err := insert(e)
	if err != nil {
		return err
	}
	if _, err = x.Exec(ctx, sql, args...); err != nil {
		return fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	return nil
}

// Queue adds e's insert to a batch, for callers that send it in one round
// trip with the change it records (the batch runs as one transaction).
func Queue(b *pgx.Batch, e Event) error {
	sql, args, err := insert(e)
	if err != nil {
		return err
	}
	b.Queue(sql, args...)
	return nil
}

func insert(e Event) (string, []any, error) {
	details := e.Details
	if details == nil {
		details = map[string]any{}
	}
	// Targets, addresses and details often come from a request (a typed
	// address, a header): whatever they hold, the event is recorded.
	raw, err := pgtext.Marshal(details)
	if err != nil {
		return "", nil, fmt.Errorf("audit: details: %w", err)
	}
	return `INSERT INTO audit_events (tenant_id, actor, action, target, ip, details)
		VALUES ($1, $2, $3, $4, $5, $6)`, []any{e.TenantID, pgtext.Clean(e.Actor, 0), pgtext.Clean(e.Action, 0),
			pgtext.Clean(e.Target, 0), pgtext.Clean(e.IP, 100), raw}, nil
}

// DefaultRetention is how long events are kept: 400 days, so a full year
// can be looked back on, with a month to spare.
const DefaultRetention = 400 * 24 * time.Hour

// Purge deletes at most batch events, of every tenant and the platform,
// recorded longer than keep ago; it returns how many went. The janitor calls
// it until it deletes fewer than batch.
func Purge(ctx context.Context, x Execer, keep time.Duration, batch int) (int64, error) {
	tag, err := x.Exec(ctx, `DELETE FROM audit_events WHERE (tenant_id, id) IN (
		SELECT tenant_id, id FROM audit_events WHERE at < now() - make_interval(secs => $2) LIMIT $1)`, batch, keep.Seconds())
	if err != nil {
		return 0, fmt.Errorf("audit: purge: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Querier runs a query; *pgxpool.Pool and pgx.Tx satisfy it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// List returns a tenant's newest events first, at most limit of them.
func List(ctx context.Context, q Querier, tenantID uuid.UUID, limit int) ([]Event, error) {
	rows, err := q.Query(ctx, `SELECT tenant_id, id, at, actor, action, target, ip, details
		FROM audit_events WHERE tenant_id = $1 ORDER BY at DESC, id DESC LIMIT $2`, tenantID, limit)
	return collect(rows, err)
}

// Cursor is a position in a tenant's log, in its newest-first order: the
// time and id of the last event a page showed. Events are ordered by (at,
// id), both fixed once recorded, so paging from a cursor neither skips nor
// repeats an event, however many are recorded meanwhile. at is when the
// event was written (clock_timestamp(), so events of one transaction keep
// their order); the id is random (migration 00020: a sequence shared by all
// tenants told each the platform's volume) and only breaks ties.
type Cursor struct {
	At time.Time
	ID int64
}

// IsZero reports whether c is the zero cursor (the newest end of the log).
func (c Cursor) IsZero() bool { return c.At.IsZero() && c.ID == 0 }

// String encodes c for a URL: "<unix microseconds>.<id>" (Postgres keeps
// microseconds, so the encoding is exact); "" for the zero cursor.
func (c Cursor) String() string {
	if c.IsZero() {
		return ""
	}
	return strconv.FormatInt(c.At.UnixMicro(), 10) + "." + strconv.FormatInt(c.ID, 10)
}

// ParseCursor decodes Cursor.String; "" is the zero cursor.
func ParseCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	us, id, ok := strings.Cut(s, ".")
	micros, err1 := strconv.ParseInt(us, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if !ok || err1 != nil || err2 != nil || n <= 0 {
		return Cursor{}, fmt.Errorf("audit: malformed cursor %q", s)
	}
	return Cursor{At: time.UnixMicro(micros).UTC(), ID: n}, nil
}

// Cursor is the position just after e in newest-first order: ListBefore
// with it continues with the event older than e.
func (e Event) Cursor() Cursor { return Cursor{At: e.At, ID: e.ID} }

// ListBefore returns at most limit of a tenant's events older than before,
// newest first; the zero cursor starts at the newest event.
func ListBefore(ctx context.Context, q Querier, tenantID uuid.UUID, before Cursor, limit int) ([]Event, error) {
	var at *time.Time
	if !before.IsZero() {
		at = &before.At
	}
	rows, err := q.Query(ctx, `SELECT tenant_id, id, at, actor, action, target, ip, details
		FROM audit_events WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR (at, id) < ($2, $3))
		ORDER BY at DESC, id DESC LIMIT $4`, tenantID, at, before.ID, limit)
	return collect(rows, err)
}

// collect reads the rows of a List query.
func collect(rows pgx.Rows, err error) ([]Event, error) {
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var e Event
		if err := rows.Scan(&e.TenantID, &e.ID, &e.At, &e.Actor, &e.Action, &e.Target, &e.IP, &e.Details); err != nil {
			return nil, fmt.Errorf("audit: scan: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Filter narrows a listing: each field set must match (Action, Actor and
// Target exactly); Since and Until bound the time (Since inclusive, Until
// exclusive; zero: unbounded).
type Filter struct {
	Action, Actor, Target string
	Since, Until          time.Time
}

// ListFiltered returns at most limit of a tenant's events that match f and
// are older than before, newest first; the zero cursor starts at the
// newest event.
func ListFiltered(ctx context.Context, q Querier, tenantID uuid.UUID, f Filter, before Cursor, limit int) ([]Event, error) {
	var at, since, until *time.Time
	if !before.IsZero() {
		at = &before.At
	}
	if !f.Since.IsZero() {
		since = &f.Since
	}
	if !f.Until.IsZero() {
		until = &f.Until
	}
	rows, err := q.Query(ctx, `SELECT tenant_id, id, at, actor, action, target, ip, details
		FROM audit_events WHERE tenant_id = $1 AND ($2::timestamptz IS NULL OR (at, id) < ($2, $3))
		AND ($4 = '' OR action = $4) AND ($5 = '' OR actor = $5) AND ($6 = '' OR target = $6)
		AND ($7::timestamptz IS NULL OR at >= $7) AND ($8::timestamptz IS NULL OR at < $8)
		ORDER BY at DESC, id DESC LIMIT $9`, tenantID, at, before.ID, f.Action, f.Actor, f.Target, since, until, limit)
	return collect(rows, err)
}
