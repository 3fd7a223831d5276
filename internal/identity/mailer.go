package identity

import (
	"context"
	"net/mail"

	"github.com/jackc/pgx/v5"

	hpmail "github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/tenants"
)

// OutboxMailer renders account mails and queues them in the transactional
// outbox, so a mail exists exactly when the change that caused it commits.
type OutboxMailer struct {
	Outbox *hpmail.Outbox
	// DefaultFrom is the sender when the tenant sets no HALLPASS_EMAIL_FROM.
	DefaultFrom string
}

// Queue implements Mailer.
func (m *OutboxMailer) Queue(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, kind, to string, data MailData) error {
	subject, text, html, err := hpmail.Render(kind, hpmail.TemplateData{
		SiteName: t.Name, Email: data.Email, Link: data.Link, Code: data.Code,
		PasswordResetURL: data.PasswordResetURL, SignupURL: data.SignupURL, Provider: data.Provider,
	})
	if err != nil {
		return err
	}
	fromName, fromAddr := t.Name, m.DefaultFrom
	if t.Settings.EmailFrom != "" {
		if a, err := mail.ParseAddress(t.Settings.EmailFrom); err == nil {
			fromAddr = a.Address
			if a.Name != "" {
				fromName = a.Name
			}
		}
	}
	_, err = m.Outbox.Enqueue(ctx, tx, hpmail.Message{TenantID: t.ID, Kind: kind, To: to, FromName: fromName, FromAddress: fromAddr,
		Subject: subject, Text: text, HTML: html})
	return err
}
