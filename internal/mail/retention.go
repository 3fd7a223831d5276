package mail

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Execer runs a statement; a pooled connection, a pool or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Retention defaults: a sent message (its sealed payload carries codes and
// links that log people in) is kept a week for support questions; one that
// could not be sent is given up after 30 days, long after any code or link
// in it has expired.
const (
	DefaultSentRetention   = 7 * 24 * time.Hour
	DefaultUnsentRetention = 30 * 24 * time.Hour
)

// PurgeSent deletes at most batch outbox rows sent longer than keep ago and
// returns how many went. The janitor calls it until it deletes fewer than
// batch.
func PurgeSent(ctx context.Context, x Execer, keep time.Duration, batch int) (int64, error) {
	// created_at <= sent_at: the first condition lets the BRIN index on
	// created_at skip the recent part of the table.
	tag, err := x.Exec(ctx, `DELETE FROM outbox WHERE (tenant_id, id) IN (
		SELECT tenant_id, id FROM outbox
		WHERE created_at < now() - make_interval(secs => $2) AND sent_at < now() - make_interval(secs => $2)
		LIMIT $1)`, batch, keep.Seconds())
	if err != nil {
		return 0, fmt.Errorf("mail: purge sent: %w", err)
	}
	return tag.RowsAffected(), nil
}

// PurgeDevInbox deletes at most batch dev-inbox messages (mail kept in
// clear, codes and links included) delivered longer than keep ago, the
// retention of sent mail; it returns how many went.
func PurgeDevInbox(ctx context.Context, x Execer, keep time.Duration, batch int) (int64, error) {
	tag, err := x.Exec(ctx, `DELETE FROM dev_inbox WHERE (tenant_id, id) IN (
		SELECT tenant_id, id FROM dev_inbox WHERE created_at < now() - make_interval(secs => $2) LIMIT $1)`, batch, keep.Seconds())
	if err != nil {
		return 0, fmt.Errorf("mail: purge dev inbox: %w", err)
	}
	return tag.RowsAffected(), nil
}

// PurgeUnsent deletes at most batch outbox rows never sent and written
// longer than keep ago: the workers stop retrying them. It returns how many
// rows went.
func PurgeUnsent(ctx context.Context, x Execer, keep time.Duration, batch int) (int64, error) {
	tag, err := x.Exec(ctx, `DELETE FROM outbox WHERE (tenant_id, id) IN (
		SELECT tenant_id, id FROM outbox
		WHERE sent_at IS NULL AND created_at < now() - make_interval(secs => $2)
		LIMIT $1)`, batch, keep.Seconds())
	if err != nil {
		return 0, fmt.Errorf("mail: purge unsent: %w", err)
	}
	return tag.RowsAffected(), nil
}
