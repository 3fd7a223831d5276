package sessions

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// What an operator (the console, the management API, through
// identity.UserAdmin) reads of and does to a user's sessions.

// Live is one of a user's live sessions as an operator sees it.
type Live struct {
	// ID is the session's public id (as List shows it).
	ID                           int64
	Client, IP, UserAgent        string
	CreatedAt, LastSeen, Expires time.Time
}

// ListLive lists a user's live sessions, most recently used first.
func (s *Store) ListLive(ctx context.Context, tenantID uuid.UUID, userID int64) ([]Live, error) {
	rows, err := s.pool.Query(ctx, `SELECT public_id, client, ip, user_agent, created_at, last_seen_at, expires_at
		FROM sessions WHERE tenant_id = $1 AND user_id = $2 AND expires_at > now() ORDER BY last_seen_at DESC, public_id DESC`,
		tenantID, userID)
	if err != nil {
		return nil, fmt.Errorf("sessions: list live: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Live, error) {
		var l Live
		err := r.Scan(&l.ID, &l.Client, &l.IP, &l.UserAgent, &l.CreatedAt, &l.LastSeen, &l.Expires)
		return l, err
	})
}

// CountLive returns how many live sessions each of a tenant's users has
// (a user with none is absent).
func (s *Store) CountLive(ctx context.Context, tenantID uuid.UUID, userIDs []int64) (map[int64]int, error) {
	out := map[int64]int{}
	if len(userIDs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT user_id, count(*) FROM sessions
		WHERE tenant_id = $1 AND user_id = ANY($2) AND expires_at > now() GROUP BY user_id`, tenantID, userIDs)
	if err != nil {
		return nil, fmt.Errorf("sessions: count live: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("sessions: count live: %w", err)
		}
		out[id] = n
	}
	return out, rows.Err()
}

// EndOne ends one of a user's sessions, named by its public id, on every
// node before it returns; ErrNotFound when the user has no such session.
// hook (nil: none) runs in the transaction of the delete.
func (s *Store) EndOne(ctx context.Context, tenantID uuid.UUID, userID, publicID int64, hook EndHook) error {
	ids, err := endWith(ctx, s.pool, hook, `DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2 AND public_id = $3`+sqlEndReturning,
		tenantID, userID, publicID)
	if err != nil {
		return fmt.Errorf("sessions: end one: %w", err)
	}
	if len(ids) == 0 {
		return ErrNotFound
	}
	s.forgetEnded(ctx, tenantID, ids)
	return nil
}
