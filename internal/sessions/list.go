package sessions

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Info is one of a user's sessions as allauth's usersessions shows it.
type Info struct {
	ID         int64
	UserAgent  string
	IP         string
	CreatedAt  time.Time
	LastSeenAt time.Time
	Current    bool
}

// List lists a user's live sessions, oldest first; the one whose storage
// key is current is marked Current.
func (s *Store) List(ctx context.Context, tenantID uuid.UUID, userID int64, current []byte) ([]Info, error) {
	rows, err := s.pool.Query(ctx, `SELECT public_id, user_agent, ip, created_at, last_seen_at, id = $3
		FROM sessions WHERE tenant_id = $1 AND user_id = $2 AND expires_at > now() ORDER BY created_at, public_id`,
		tenantID, userID, current)
	if err != nil {
		return nil, fmt.Errorf("sessions: list: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Info, error) {
		var s Info
		err := r.Scan(&s.ID, &s.UserAgent, &s.IP, &s.CreatedAt, &s.LastSeenAt, &s.Current)
		return s, err
	})
}

// EndListed ends the sessions of a user named by their public ids (as List
// shows them); ids of other users' sessions end nothing. hook (nil: none)
// runs in the transaction of the delete.
func (s *Store) EndListed(ctx context.Context, tenantID uuid.UUID, userID int64, publicIDs []int64, hook EndHook) error {
	deleted, err := endWith(ctx, s.pool, hook, `DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2 AND public_id = ANY($3)`+sqlEndReturning,
		tenantID, userID, publicIDs)
	if err != nil {
		return err
	}
	s.forgetEnded(ctx, tenantID, deleted)
	return nil
}

// Clear forgets the session's state and token, after it was ended
// elsewhere (EndListed) while this request held it.
func (s *Session) Clear() {
	s.State = State{}
	s.Token, s.id = "", nil
}

// Touch records activity on an authenticated session
// (USERSESSIONS_TRACK_ACTIVITY), at most once a minute per session.
func (s *Store) Touch(ctx context.Context, tenantID uuid.UUID, sess *Session) {
	if !sess.Authenticated() || sess.ID() == nil {
		return
	}
	key := redisKey(tenantID, sess.ID()) + ":seen"
	if ok, err := s.rdb.SetNX(ctx, key, "1", time.Minute).Result(); err == nil && !ok {
		return
	}
	_, _ = s.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = now(), ip = $3, user_agent = $4 WHERE tenant_id = $1 AND id = $2`,
		tenantID, sess.ID(), sess.IP, sess.UserAgent)
}
