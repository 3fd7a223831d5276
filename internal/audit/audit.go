// Package audit records who changed what, in the same transaction as the
// change itself, so the trail never disagrees with the data.
package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Platform is the tenant id used for events that belong to no tenant.
var Platform = uuid.Nil

// Event is one audit record.
type Event struct {
	TenantID uuid.UUID
	ID       int64
	At       time.Time
	Actor    string // "cli", "console:<user id>", "api:<user id>", ...
	Action   string // dotted verb, e.g. "tenant.settings.update"
	Target   string
	IP       string
	Details  map[string]any
}

// Record writes e inside tx.
func Record(ctx context.Context, tx pgx.Tx, e Event) error {
	details := e.Details
	if details == nil {
		details = map[string]any{}
	}
	raw, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("audit: details: %w", err)
	}
	_, err = tx.Exec(ctx, `INSERT INTO audit_events (tenant_id, actor, action, target, ip, details)
		VALUES ($1, $2, $3, $4, $5, $6)`, e.TenantID, e.Actor, e.Action, e.Target, e.IP, raw)
	if err != nil {
		return fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	return nil
}

// Querier runs a query; *pgxpool.Pool and pgx.Tx satisfy it.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// List returns a tenant's newest events first, at most limit of them.
func List(ctx context.Context, q Querier, tenantID uuid.UUID, limit int) ([]Event, error) {
	rows, err := q.Query(ctx, `SELECT tenant_id, id, at, actor, action, target, ip, details
		FROM audit_events WHERE tenant_id = $1 ORDER BY at DESC, id DESC LIMIT $2`, tenantID, limit)
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
