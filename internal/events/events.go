// Package events records what happened to a tenant's users, for the
// tenant's backend (issue #21): each change a customer may subscribe to
// (a signup, a verified address, a disabled user, a sign-in, ...) appends
// one Event in the transaction of the change, so a committed change always
// has its event and a rolled-back one never does. Delivery is not this
// package's business: a Fanout, given the same transaction, queues what
// must be sent.
package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hallpass/hallpass/internal/pgtext"
)

// Event types: what a customer subscribes to. The names are part of the
// public contract (docs/WEBHOOKS.md, Catalog); never rename one.
const (
	UserCreated         = "user.created"
	UserUpdated         = "user.updated"
	UserDeleted         = "user.deleted"
	UserDisabled        = "user.disabled"
	UserEnabled         = "user.enabled"
	EmailAdded          = "email.added"
	EmailVerified       = "email.verified"
	EmailRemoved        = "email.removed"
	EmailPrimaryChanged = "email.primary_changed"
	PasswordChanged     = "password.changed"
	PasswordReset       = "password.reset"
	SessionCreated      = "session.created"
	SessionEnded        = "session.ended"
	MFAEnabled          = "mfa.enabled"
	MFADisabled         = "mfa.disabled"
	SocialConnected     = "social.connected"
	SocialDisconnected  = "social.disconnected"
	LoginFailed         = "login.failed"
)

var types = []string{
	UserCreated, UserUpdated, UserDeleted, UserDisabled, UserEnabled,
	EmailAdded, EmailVerified, EmailRemoved, EmailPrimaryChanged,
	PasswordChanged, PasswordReset,
	SessionCreated, SessionEnded,
	MFAEnabled, MFADisabled,
	SocialConnected, SocialDisconnected,
	LoginFailed,
}

// Types lists every event type, in the catalog's order (a fresh slice).
func Types() []string { return append([]string(nil), types...) }

// Known reports whether name is an event type (an endpoint subscribing to
// anything else is refused at save).
func Known(name string) bool {
	for _, t := range types {
		if t == name {
			return true
		}
	}
	return false
}

// Event is one thing that happened in a tenant. Data is the payload's
// "data" object (see Payload); ID and At are given by Append.
type Event struct {
	ID       int64
	TenantID uuid.UUID
	Type     string
	At       time.Time
	Data     json.RawMessage
}

// ErrUnknownType is an Event whose Type is not one of Types (a programming
// error: the domain emits only the constants above).
var ErrUnknownType = errors.New("events: unknown event type")

// Fanout hands a just-recorded event to delivery, in the transaction that
// records it (so a delivery is queued exactly when the event commits). The
// webhooks package implements it.
type Fanout interface {
	Fanout(ctx context.Context, tx pgx.Tx, e Event) error
}

// Log appends events to the events table and passes each to Fanout. A nil
// *Log records nothing (domain objects built without one, benchmarks of
// the baseline).
type Log struct {
	// Fanout, when set, is called for every appended event in the same
	// transaction; nil queues no delivery.
	Fanout Fanout
}

// idTries bounds Append's retries of a colliding random id (one collision
// is already a one-in-a-billion event; see migration 00023).
const idTries = 3

// Append records e in tx (the transaction of the change e describes), then
// gives it, with its ID and time, to the Fanout in the same transaction. A
// nil Data is recorded as {}. An error means the change must not commit.
func (l *Log) Append(ctx context.Context, tx pgx.Tx, e Event) error {
	if l == nil {
		return nil
	}
	if !Known(e.Type) {
		return fmt.Errorf("%w %q", ErrUnknownType, e.Type)
	}
	if len(e.Data) == 0 {
		e.Data = json.RawMessage(`{}`)
	}
	for try := 0; ; try++ {
		// ON CONFLICT DO NOTHING: a colliding random id returns no row
		// instead of aborting the change's transaction, and is retried.
		err := tx.QueryRow(ctx, `INSERT INTO events (tenant_id, type, data) VALUES ($1, $2, $3)
			ON CONFLICT (tenant_id, id) DO NOTHING RETURNING id, created_at`,
			e.TenantID, e.Type, []byte(e.Data)).Scan(&e.ID, &e.At)
		if errors.Is(err, pgx.ErrNoRows) && try+1 < idTries {
			continue
		}
		if err != nil {
			return fmt.Errorf("events: append %s: %w", e.Type, err)
		}
		break
	}
	if l.Fanout == nil {
		return nil
	}
	if err := l.Fanout.Fanout(ctx, tx, e); err != nil {
		return fmt.Errorf("events: fanout %s: %w", e.Type, err)
	}
	return nil
}

// Emit marshals data (a map or struct: the payload's "data" object; nil is
// {}) and appends the event of type typ in tx: Append for the domain's
// callers, which build data as Go values.
func (l *Log) Emit(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, typ string, data any) error {
	if l == nil {
		return nil
	}
	raw := json.RawMessage(`{}`)
	if data != nil {
		var err error
		if raw, err = pgtext.Marshal(data); err != nil {
			return fmt.Errorf("events: %s data: %w", typ, err)
		}
	}
	return l.Append(ctx, tx, Event{TenantID: tenantID, Type: typ, Data: raw})
}

// Payload is what a receiver gets for e: {"type", "timestamp", "tenant",
// "data"}, where timestamp is RFC 3339 in UTC with microseconds and tenant
// is the tenant's slug (immutable, and what the management API addresses
// the tenant by).
func Payload(e Event, tenantSlug string) ([]byte, error) {
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage(`{}`)
	}
	return json.Marshal(struct {
		Type      string          `json:"type"`
		Timestamp string          `json:"timestamp"`
		Tenant    string          `json:"tenant"`
		Data      json.RawMessage `json:"data"`
	}{e.Type, e.At.UTC().Format(TimeFormat), tenantSlug, data})
}

// TimeFormat is the layout of a payload's timestamp (RFC 3339, UTC,
// microseconds: Postgres's precision).
const TimeFormat = "2006-01-02T15:04:05.000000Z07:00"

// Querier runs a query; *pgxpool.Pool and pgx.Tx satisfy it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// List returns a tenant's events in the order they happened (creation
// time, then id), at most limit of the newest ones.
func List(ctx context.Context, q Querier, tenantID uuid.UUID, limit int) ([]Event, error) {
	rows, err := q.Query(ctx, `SELECT id, tenant_id, type, created_at, data FROM (
		SELECT id, tenant_id, type, created_at, data FROM events WHERE tenant_id = $1
		ORDER BY created_at DESC, id DESC LIMIT $2) newest ORDER BY created_at, id`, tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("events: list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Event, error) {
		var e Event
		var data []byte
		err := r.Scan(&e.ID, &e.TenantID, &e.Type, &e.At, &data)
		e.Data = data
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("events: list: %w", err)
	}
	return out, nil
}

// DefaultRetention is how long events are kept: 30 days, well past the
// three days deliveries are retried, for the delivery log and manual
// redelivery.
const DefaultRetention = 30 * 24 * time.Hour

// Purge deletes at most batch events, of every tenant, recorded longer
// than keep ago, and returns how many went (a janitor calls it until it
// deletes fewer than batch, as audit.Purge).
func Purge(ctx context.Context, x interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}, keep time.Duration, batch int) (int64, error) {
	tag, err := x.Exec(ctx, `DELETE FROM events WHERE (tenant_id, id) IN (
		SELECT tenant_id, id FROM events WHERE created_at < now() - make_interval(secs => $2) LIMIT $1)`, batch, keep.Seconds())
	if err != nil {
		return 0, fmt.Errorf("events: purge: %w", err)
	}
	return tag.RowsAffected(), nil
}
