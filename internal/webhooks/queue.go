package webhooks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/hallpass/hallpass/internal/events"
)

// TestEventType is the type of the message "send test event" posts; it is
// not in the catalog and no endpoint subscribes to it.
const TestEventType = "webhook.test"

// Message is one event as delivered: ID is the webhook-id header (the
// same on every attempt and every endpoint), Payload the JSON body; its
// first "tenant":"" (events.Payload's, before any user data) is filled
// with the tenant's slug when queued.
type Message struct {
	TenantID uuid.UUID
	ID       uuid.UUID
	Type     string
	Payload  []byte
}

// Triggers of a delivery, as the log shows them.
const (
	TriggerEvent     = "auto"
	TriggerRedeliver = "redeliver"
	TriggerTest      = "test"
)

// deliveryArgs is one River job: deliver a message to an endpoint.
type deliveryArgs struct {
	TenantID   uuid.UUID `json:"tenant_id"`
	EndpointID uuid.UUID `json:"endpoint_id"`
	MessageID  uuid.UUID `json:"message_id"`
	Trigger    string    `json:"trigger,omitempty"`
}

// Kind names the job kind in river_job.
func (deliveryArgs) Kind() string { return "webhook_delivery" }

func (s *Service) job(tenantID, endpointID, messageID uuid.UUID, trigger string) river.InsertManyParams {
	return river.InsertManyParams{Args: deliveryArgs{TenantID: tenantID, EndpointID: endpointID, MessageID: messageID, Trigger: trigger},
		InsertOpts: &river.InsertOpts{Queue: s.cfg.Queue, MaxAttempts: s.cfg.MaxAttempts}}
}

// Enqueue queues m, in the caller's transaction tx, for every enabled
// endpoint of its tenant subscribed to its type, and returns how many.
// With no such endpoint it writes nothing: one query, no row. Otherwise it
// writes the message, a delivery per endpoint and their River jobs, so
// they commit, or roll back, with the change that caused the event.
func (s *Service) Enqueue(ctx context.Context, tx pgx.Tx, m Message) (int, error) {
	rows, err := tx.Query(ctx, `
		WITH eps AS (
			SELECT id FROM webhook_endpoints
			WHERE tenant_id = $1 AND enabled AND (cardinality(events) = 0 OR $3 = ANY (events))
		), msg AS (
			INSERT INTO webhook_messages (tenant_id, id, event_type, payload)
			SELECT $1, $2, $3, regexp_replace($4::text, '"tenant":""', '"tenant":' || to_json(t.slug)::text)::json
			FROM tenants t WHERE t.id = $1 AND EXISTS (SELECT 1 FROM eps)
			RETURNING id
		)
		INSERT INTO webhook_deliveries (tenant_id, endpoint_id, message_id)
		SELECT $1, eps.id, msg.id FROM eps, msg
		RETURNING endpoint_id`, m.TenantID, m.ID, m.Type, m.Payload)
	if err != nil {
		return 0, fmt.Errorf("webhooks: enqueue: %w", err)
	}
	endpoints, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
	if err != nil {
		return 0, fmt.Errorf("webhooks: enqueue: %w", err)
	}
	if len(endpoints) == 0 {
		return 0, nil
	}
	jobs := make([]river.InsertManyParams, len(endpoints))
	for i, ep := range endpoints {
		jobs[i] = s.job(m.TenantID, ep, m.ID, TriggerEvent)
	}
	if _, err := s.river.InsertManyTx(ctx, tx, jobs); err != nil {
		return 0, fmt.Errorf("webhooks: enqueue jobs: %w", err)
	}
	return len(endpoints), nil
}

// Fanout queues event e's deliveries in tx, the transaction that appends
// it (events.Log calls it): it implements events.Fanout.
func (s *Service) Fanout(ctx context.Context, tx pgx.Tx, e events.Event) error {
	payload, err := events.Payload(e, "")
	if err != nil {
		return err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return err
	}
	_, err = s.Enqueue(ctx, tx, Message{TenantID: e.TenantID, ID: id, Type: e.Type, Payload: payload})
	return err
}

var _ events.Fanout = (*Service)(nil)

// SendTest queues a test message to one endpoint, enabled or not, and
// returns its id; the attempt shows in the endpoint's log.
func (s *Service) SendTest(ctx context.Context, tenantID, endpointID uuid.UUID, payload func(id uuid.UUID, at time.Time) []byte) (uuid.UUID, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.Nil, err
	}
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT true FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2`, tenantID, endpointID).Scan(&ok); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_messages (tenant_id, id, event_type, payload) VALUES ($1, $2, $3, $4)`,
			tenantID, id, TestEventType, payload(id, time.Now())); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO webhook_deliveries (tenant_id, endpoint_id, message_id) VALUES ($1, $2, $3)`,
			tenantID, endpointID, id); err != nil {
			return err
		}
		_, err := s.river.InsertManyTx(ctx, tx, []river.InsertManyParams{s.job(tenantID, endpointID, id, TriggerTest)})
		return err
	})
	return id, err
}

// Redeliver queues one message to one endpoint again, whatever became of
// it before (a new run of attempts).
func (s *Service) Redeliver(ctx context.Context, tenantID, endpointID, messageID uuid.UUID) error {
	return pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = 'pending'
			WHERE tenant_id = $1 AND endpoint_id = $2 AND message_id = $3`, tenantID, endpointID, messageID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		_, err = s.river.InsertManyTx(ctx, tx, []river.InsertManyParams{s.job(tenantID, endpointID, messageID, TriggerRedeliver)})
		return err
	})
}

// MaxRedeliver bounds the messages one "redeliver failed since" queues.
const MaxRedeliver = 10000

// RedeliverFailed queues again every message to the endpoint that failed
// (gave up, or was skipped while it was disabled) and was created at or
// after since, at most MaxRedeliver of them, oldest first; it returns how
// many.
func (s *Service) RedeliverFailed(ctx context.Context, tenantID, endpointID uuid.UUID, since time.Time) (int, error) {
	n := 0
	err := pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT true FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2`, tenantID, endpointID).Scan(&ok); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		rows, err := tx.Query(ctx, `UPDATE webhook_deliveries d SET status = 'pending'
			FROM (SELECT message_id FROM webhook_deliveries
				WHERE tenant_id = $1 AND endpoint_id = $2 AND status = 'failed' AND created_at >= $3
				ORDER BY created_at LIMIT $4 FOR UPDATE) f
			WHERE d.tenant_id = $1 AND d.endpoint_id = $2 AND d.message_id = f.message_id
			RETURNING d.message_id`, tenantID, endpointID, since, MaxRedeliver)
		if err != nil {
			return err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[uuid.UUID])
		if err != nil || len(ids) == 0 {
			return err
		}
		jobs := make([]river.InsertManyParams, len(ids))
		for i, id := range ids {
			jobs[i] = s.job(tenantID, endpointID, id, TriggerRedeliver)
		}
		n = len(ids)
		_, err = s.river.InsertManyTx(ctx, tx, jobs)
		return err
	})
	return n, err
}

// TestPayload is the body of a test message for the tenant slug: the
// payload shape of every event, of type TestEventType.
func TestPayload(slug string) func(id uuid.UUID, at time.Time) []byte {
	return func(id uuid.UUID, at time.Time) []byte {
		b, _ := events.Payload(events.Event{Type: TestEventType, At: at,
			Data: []byte(`{"message":"A test event sent from Hallpass: your endpoint is reachable and can verify the signature."}`)}, slug)
		return b
	}
}

// CatalogTypes lists the event types an endpoint may subscribe to.
func CatalogTypes() []string { return events.Types() }
