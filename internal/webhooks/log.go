package webhooks

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Attempt is one entry of an endpoint's delivery log.
type Attempt struct {
	ID         int64
	MessageID  uuid.UUID
	EventType  string
	At         time.Time
	Outcome    string
	StatusCode *int
	Latency    time.Duration
	Excerpt    string
	Error      string
	Trigger    string
}

// Attempts lists an endpoint's delivery log, newest first: up to limit
// entries with ids below before (0: from the newest).
func (s *Service) Attempts(ctx context.Context, tenantID, endpointID uuid.UUID, before int64, limit int) ([]Attempt, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.cfg.Pool.Query(ctx, `SELECT a.id, a.message_id, coalesce(m.event_type, ''), a.at, a.outcome, a.response_status,
			a.latency_ms, a.response_excerpt, a.error, a.trigger
		FROM webhook_attempts a LEFT JOIN webhook_messages m ON m.tenant_id = a.tenant_id AND m.id = a.message_id
		WHERE a.tenant_id = $1 AND a.endpoint_id = $2 AND a.id < $3 ORDER BY a.id DESC LIMIT $4`, tenantID, endpointID, before, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Attempt, error) {
		var a Attempt
		var ms int64
		err := r.Scan(&a.ID, &a.MessageID, &a.EventType, &a.At, &a.Outcome, &a.StatusCode, &ms, &a.Excerpt, &a.Error, &a.Trigger)
		a.Latency = time.Duration(ms) * time.Millisecond
		return a, err
	})
}

// Delivery is one message's state at one endpoint.
type Delivery struct {
	MessageID     uuid.UUID
	EventType     string
	Status        string
	Attempts      int
	CreatedAt     time.Time
	LastAttemptAt *time.Time
}

// Deliveries lists the messages queued for an endpoint, newest first,
// status one of pending, delivered, failed, or "" for all.
func (s *Service) Deliveries(ctx context.Context, tenantID, endpointID uuid.UUID, status string, limit int) ([]Delivery, error) {
	rows, err := s.cfg.Pool.Query(ctx, `SELECT d.message_id, m.event_type, d.status, d.attempts, d.created_at, d.last_attempt_at
		FROM webhook_deliveries d JOIN webhook_messages m ON m.tenant_id = d.tenant_id AND m.id = d.message_id
		WHERE d.tenant_id = $1 AND d.endpoint_id = $2 AND ($3 = '' OR d.status = $3)
		ORDER BY d.created_at DESC LIMIT $4`, tenantID, endpointID, status, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Delivery, error) {
		var d Delivery
		err := r.Scan(&d.MessageID, &d.EventType, &d.Status, &d.Attempts, &d.CreatedAt, &d.LastAttemptAt)
		return d, err
	})
}
