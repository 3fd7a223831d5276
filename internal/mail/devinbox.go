package mail

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DevInbox is the Sender used when no SMTP server is configured
// (development): it keeps each message, in clear, in the dev_inbox table for
// the console, and logs its links and codes so `make run` shows them.
type DevInbox struct {
	pool *pgxpool.Pool
	log  *slog.Logger
}

// NewDevInbox returns a DevInbox storing into pool and logging to log.
func NewDevInbox(pool *pgxpool.Pool, log *slog.Logger) *DevInbox {
	if log == nil {
		log = slog.Default()
	}
	return &DevInbox{pool: pool, log: log.With("component", "mail.devinbox")}
}

// DevMail is one message kept by the DevInbox.
type DevMail struct {
	// TenantID is the tenant the mail was sent for.
	TenantID uuid.UUID
	// ID is the message's outbox id.
	ID uuid.UUID
	// Kind is the template kind.
	Kind string
	// To is the recipient.
	To string
	// Subject is the subject line.
	Subject string
	// Text is the text/plain body.
	Text string
	// HTML is the text/html body ("" when the message had none).
	HTML string
	// CreatedAt is when the message was delivered to the inbox.
	CreatedAt time.Time
}

// Send stores m under its outbox id (a re-delivery is stored once) and logs
// the tenant, recipient, subject, and every link and code in the text body.
func (d *DevInbox) Send(ctx context.Context, id uuid.UUID, m Message) error {
	if _, err := d.pool.Exec(ctx, `
		INSERT INTO dev_inbox (tenant_id, id, kind, recipient, subject, text_body, html_body)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (tenant_id, id) DO NOTHING`,
		m.TenantID, id, m.Kind, m.To, m.Subject, m.Text, m.HTML); err != nil {
		return fmt.Errorf("mail: dev inbox: %w", err)
	}
	links, codes := linksAndCodes(m.Text)
	d.log.InfoContext(ctx, "dev inbox: mail stored (no SMTP server configured)",
		"tenant", m.TenantID, "id", id, "kind", m.Kind, "to", m.To, "subject", m.Subject,
		"links", links, "codes", codes)
	return nil
}

// List returns a tenant's dev-inbox mail, newest first, at most limit
// (default 50, at most 500).
func (d *DevInbox) List(ctx context.Context, tenantID uuid.UUID, limit int) ([]DevMail, error) {
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 500)
	rows, err := d.pool.Query(ctx, `
		SELECT tenant_id, id, kind, recipient, subject, text_body, html_body, created_at
		FROM dev_inbox
		WHERE tenant_id = $1
		ORDER BY created_at DESC, id DESC
		LIMIT $2`, tenantID, limit)
	if err != nil {
		return nil, fmt.Errorf("mail: dev inbox list: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DevMail, error) {
		var m DevMail
		err := r.Scan(&m.TenantID, &m.ID, &m.Kind, &m.To, &m.Subject, &m.Text, &m.HTML, &m.CreatedAt)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("mail: dev inbox list: %w", err)
	}
	return out, nil
}

var (
	linkRE = regexp.MustCompile(`https?://[^\s<>"']+`)
	// A code is a line of its own: 4 to 32 letters, digits and dashes, with
	// at least one digit or no lower-case letter (so ordinary words are not
	// mistaken for one).
	codeRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{2,30}[A-Za-z0-9]$`)
)

// linksAndCodes finds the http(s) links and code-looking lines of a text body.
func linksAndCodes(text string) (links, codes []string) {
	links = linkRE.FindAllString(text, -1)
	for i, l := range links {
		links[i] = strings.TrimRight(l, ".,;:!?)")
	}
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if !codeRE.MatchString(line) {
			continue
		}
		if strings.ContainsAny(line, "0123456789") || strings.ToUpper(line) == line {
			codes = append(codes, line)
		}
	}
	return links, codes
}
