package sessions

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/audit"
	hpevents "github.com/hallpass/hallpass/internal/events"
	hpmail "github.com/hallpass/hallpass/internal/mail"
)

// Janitor deletes what no request can use any more, so that the session
// tables stay the size of what is live: sessions past their expiry (their
// refresh tokens go with them, by the foreign key's cascade) and refresh
// tokens expired for longer than RefreshRetention. A spent token is kept
// until then so that presenting it again still revokes its family; after
// that it is refused as unknown.
//
// It also forgets what is kept only for a while: sent mail (sealed, but
// holding codes and links) and the dev inbox's clear copies after
// SentMailRetention, mail never sent after UnsentMailRetention, and audit
// events after AuditRetention.
//
// Deletes go in batches of BatchSize rows, each its own statement, so no
// lock is held for long; when several processes run a janitor, a Postgres
// advisory lock lets one of them work at a time.
type Janitor struct {
	Pool *pgxpool.Pool
	Log  *slog.Logger
	// Every is the pause between rounds (0: 10 minutes).
	Every time.Duration
	// BatchSize bounds the rows one statement deletes (0: 5,000).
	BatchSize int
	// RefreshRetention is how long an expired refresh token is kept (0: 7 days).
	RefreshRetention time.Duration
	// SentMailRetention is how long sent mail and dev-inbox mail are kept
	// (HALLPASS_OUTBOX_RETENTION; 0: mail.DefaultSentRetention).
	SentMailRetention time.Duration
	// UnsentMailRetention is how long mail that could not be sent is
	// retried and kept (HALLPASS_OUTBOX_UNSENT_RETENTION; 0:
	// mail.DefaultUnsentRetention).
	UnsentMailRetention time.Duration
	// AuditRetention is how long audit events are kept
	// (HALLPASS_AUDIT_RETENTION; 0: audit.DefaultRetention).
	AuditRetention time.Duration
	// EventRetention is how long the tenants' events (internal/events)
	// are kept (0: events.DefaultRetention).
	EventRetention time.Duration
}

// JanitorResult counts what one round deleted.
type JanitorResult struct {
	Sessions, RefreshTokens int64
	// SentMail and UnsentMail are outbox rows, DevInbox dev-inbox
	// messages, AuditEvents audit events.
	SentMail, UnsentMail, DevInbox, AuditEvents int64
	// Events are the tenants' events (internal/events).
	Events int64
	// Skipped: another process held the lock.
	Skipped bool
}

// janitorLock is the advisory lock key of the janitor's rounds.
const janitorLock = 0x6870_6a61_6e69 // "hpjani"

// Run runs rounds until ctx ends.
func (j *Janitor) Run(ctx context.Context) {
	every := j.Every
	if every <= 0 {
		every = 10 * time.Minute
	}
	t := time.NewTimer(every / 10) // a first round soon after start
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		res, err := j.Round(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			j.log().WarnContext(ctx, "janitor round failed", "err", err)
		case res.Sessions+res.RefreshTokens+res.SentMail+res.UnsentMail+res.DevInbox+res.AuditEvents > 0:
			j.log().InfoContext(ctx, "janitor round", "sessions", res.Sessions, "refresh_tokens", res.RefreshTokens,
				"sent_mail", res.SentMail, "unsent_mail", res.UnsentMail, "dev_inbox", res.DevInbox, "audit_events", res.AuditEvents)
		}
		t.Reset(every)
	}
}

func (j *Janitor) log() *slog.Logger {
	if j.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return j.Log
}

// Round deletes everything due now, batch by batch.
func (j *Janitor) Round(ctx context.Context) (JanitorResult, error) {
	var res JanitorResult
	conn, err := j.Pool.Acquire(ctx)
	if err != nil {
		return res, fmt.Errorf("janitor: %w", err)
	}
	defer conn.Release()
	var locked bool
	if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, int64(janitorLock)).Scan(&locked); err != nil {
		return res, fmt.Errorf("janitor: lock: %w", err)
	}
	if !locked {
		res.Skipped = true
		return res, nil
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(janitorLock))
	}()
	batch := j.BatchSize
	if batch <= 0 {
		batch = 5000
	}
	exec := func(sql string, arg ...any) func(int) (int64, error) {
		return func(batch int) (int64, error) {
			tag, err := conn.Exec(ctx, sql, append([]any{batch}, arg...)...)
			return tag.RowsAffected(), err
		}
	}
	sent := orDefault(j.SentMailRetention, hpmail.DefaultSentRetention)
	unsent := orDefault(j.UnsentMailRetention, hpmail.DefaultUnsentRetention)
	events := orDefault(j.AuditRetention, audit.DefaultRetention)
	for _, step := range []struct {
		purge func(batch int) (int64, error)
		count *int64
	}{
		{exec(sqlPurgeSessions), &res.Sessions},
		{exec(sqlPurgeRefreshTokens, orDefault(j.RefreshRetention, 7*24*time.Hour).Seconds()), &res.RefreshTokens},
		{func(batch int) (int64, error) { return hpmail.PurgeSent(ctx, conn, sent, batch) }, &res.SentMail},
		{func(batch int) (int64, error) { return hpmail.PurgeDevInbox(ctx, conn, sent, batch) }, &res.DevInbox},
		{func(batch int) (int64, error) { return hpmail.PurgeUnsent(ctx, conn, unsent, batch) }, &res.UnsentMail},
		{func(batch int) (int64, error) { return audit.Purge(ctx, conn, events, batch) }, &res.AuditEvents},
		{func(batch int) (int64, error) {
			return hpevents.Purge(ctx, conn, orDefault(j.EventRetention, hpevents.DefaultRetention), batch)
		}, &res.Events},
	} {
		for {
			n, err := step.purge(batch)
			if err != nil {
				return res, fmt.Errorf("janitor: %w", err)
			}
			*step.count += n
			if n < int64(batch) {
				break
			}
		}
	}
	return res, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// The janitor's statements ($1 the batch size).
const (
	// sqlPurgeSessions deletes a batch of expired sessions (their refresh
	// tokens cascade).
	sqlPurgeSessions = `DELETE FROM sessions WHERE (tenant_id, id) IN (
		SELECT tenant_id, id FROM sessions WHERE expires_at < now() LIMIT $1)`
	// sqlPurgeRefreshTokens deletes a batch of refresh tokens expired for
	// longer than $2 seconds.
	sqlPurgeRefreshTokens = `DELETE FROM refresh_tokens WHERE (tenant_id, jti) IN (
		SELECT tenant_id, jti FROM refresh_tokens WHERE expires_at < now() - make_interval(secs => $2) LIMIT $1)`
)
