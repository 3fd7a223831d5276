package mail

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/seal"
)

// NotifyChannel is the Postgres channel Enqueue notifies and workers LISTEN on.
const NotifyChannel = "hallpass_outbox"

// Outbox writes messages to the outbox table, sealed.
type Outbox struct {
	sealer *seal.Sealer
}

// NewOutbox returns an Outbox sealing payloads with sealer.
func NewOutbox(sealer *seal.Sealer) *Outbox {
	return &Outbox{sealer: sealer}
}

// payload is the sealed form of a Message.
type payload struct {
	TenantID    uuid.UUID `json:"tenant_id"`
	Kind        string    `json:"kind"`
	To          string    `json:"to"`
	FromName    string    `json:"from_name,omitempty"`
	FromAddress string    `json:"from_address"`
	Subject     string    `json:"subject"`
	Text        string    `json:"text"`
	HTML        string    `json:"html,omitempty"`
}

// Enqueue queues m in the caller's transaction tx and returns its outbox id.
// It also notifies the workers in that transaction: Postgres delivers the
// notification when, and only if, tx commits, to every listening node, so the
// mail leaves within moments of the commit and never for a rolled-back change.
func (o *Outbox) Enqueue(ctx context.Context, tx pgx.Tx, m Message) (uuid.UUID, error) {
	if err := m.Validate(); err != nil {
		return uuid.Nil, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return uuid.Nil, fmt.Errorf("mail: enqueue: %w", err)
	}
	plain, err := json.Marshal(payload(m))
	if err != nil {
		return uuid.Nil, fmt.Errorf("mail: enqueue: %w", err)
	}
	sealed, err := o.sealer.Seal(plain, sealContext(m.TenantID, id))
	if err != nil {
		return uuid.Nil, fmt.Errorf("mail: enqueue: %w", err)
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO outbox (tenant_id, id, kind, recipient_hash, payload)
		VALUES ($1, $2, $3, $4, $5)`,
		m.TenantID, id, m.Kind, RecipientHash(m.To), sealed); err != nil {
		return uuid.Nil, fmt.Errorf("mail: enqueue: %w", err)
	}
	// An empty payload: Postgres folds identical notifications of one
	// transaction into one, so a request queueing several mails wakes the
	// workers once.
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, NotifyChannel); err != nil {
		return uuid.Nil, fmt.Errorf("mail: enqueue: notify: %w", err)
	}
	return id, nil
}

// open decrypts a row's payload into a Message.
func open(sealer *seal.Sealer, tenantID, id uuid.UUID, sealed string) (Message, error) {
	plain, err := sealer.Open(sealed, sealContext(tenantID, id))
	if err != nil {
		return Message{}, fmt.Errorf("mail: open payload: %w", err)
	}
	var p payload
	if err := json.Unmarshal(plain, &p); err != nil {
		return Message{}, fmt.Errorf("mail: decode payload: %w", err)
	}
	if p.TenantID != tenantID {
		return Message{}, fmt.Errorf("mail: payload belongs to tenant %s, row to %s", p.TenantID, tenantID)
	}
	return Message(p), nil
}
