// Package mail sends a tenant's transactional email (verification links,
// codes, password resets) through a transactional outbox.
//
// A handler renders a message (Render) and enqueues it (Outbox.Enqueue) in
// the same database transaction as the change that causes it. The row is
// sealed at rest, and the enqueue notifies every node's Worker when, and only
// if, the transaction commits. Workers claim due rows with FOR UPDATE SKIP
// LOCKED and hand them to a Sender: SMTPSender in production, DevInbox when no
// SMTP server is configured. A row is retried with exponential backoff until
// the server accepts it, so mail survives an SMTP outage and is never lost.
package mail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"

	"github.com/google/uuid"
)

// Message is one email to one recipient, as a handler builds it.
type Message struct {
	// TenantID is the tenant the mail is sent for.
	TenantID uuid.UUID
	// Kind is the template kind that produced the message (see Render).
	Kind string
	// To is the recipient's address.
	To string
	// FromName is the display name of the sender (may be empty).
	FromName string
	// FromAddress is the sender's address.
	FromAddress string
	// Subject is the subject line.
	Subject string
	// Text is the text/plain body; always sent.
	Text string
	// HTML is the text/html alternative; sent when not empty.
	HTML string
}

// Sender delivers one message. id is the message's outbox id: it is stable
// across retries, so a Sender can make a re-delivery recognisable (SMTPSender
// derives the Message-ID from it) or idempotent (DevInbox).
type Sender interface {
	Send(ctx context.Context, id uuid.UUID, m Message) error
}

// ErrInvalidMessage is returned by Enqueue for a message that could never be sent.
var ErrInvalidMessage = errors.New("mail: invalid message")

// Validate reports why m could never be sent, wrapping ErrInvalidMessage.
// Enqueue calls it, so a bad address fails the caller's request instead of
// being retried forever by the worker.
func (m Message) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidMessage, fmt.Sprintf(format, args...))
	}
	switch {
	case m.TenantID == uuid.Nil:
		return bad("no tenant")
	case strings.TrimSpace(m.Kind) == "":
		return bad("no kind")
	case strings.TrimSpace(m.Subject) == "":
		return bad("no subject")
	case strings.TrimSpace(m.Text) == "":
		return bad("no text body")
	}
	if err := checkAddress(m.To); err != nil {
		return bad("recipient: %v", err)
	}
	if err := checkAddress(m.FromAddress); err != nil {
		return bad("sender: %v", err)
	}
	if strings.ContainsAny(m.FromName, "\r\n") {
		return bad("sender name contains a line break")
	}
	return nil
}

// checkAddress accepts a bare address (no display name, no line breaks).
func checkAddress(s string) error {
	if s == "" {
		return errors.New("empty address")
	}
	if strings.ContainsAny(s, "\r\n<>") {
		return errors.New("not a bare address")
	}
	a, err := netmail.ParseAddress(s)
	if err != nil {
		return err
	}
	if a.Name != "" || a.Address != s {
		return errors.New("not a bare address")
	}
	return nil
}

// RecipientHash is how the outbox records a recipient: the hex SHA-256 of the
// trimmed, lower-cased address. Support tools hash the address they are
// asked about and look it up.
func RecipientHash(addr string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(addr))))
	return hex.EncodeToString(sum[:])
}

// MessageID is the Message-ID (without angle brackets) of the outbox message
// id: stable across retries, so receivers can drop a duplicate delivery.
func MessageID(id uuid.UUID) string { return id.String() + "@hallpass" }

// sealContext binds a sealed payload to its outbox row.
func sealContext(tenantID, id uuid.UUID) string {
	return "tenant:" + tenantID.String() + ":outbox:" + id.String()
}
