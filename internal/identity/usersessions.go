package identity

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/tenants"
)

// SessionInfo is one of a user's sessions as allauth's usersessions shows it.
type SessionInfo struct {
	ID         int64
	UserAgent  string
	IP         string
	CreatedAt  time.Time
	LastSeenAt time.Time
	Current    bool
}

// UserSessions lists the logged-in user's live sessions, oldest first.
func (a *Accounts) UserSessions(ctx context.Context, t *tenants.Tenant, sess *Session) ([]SessionInfo, error) {
	if !sess.Authenticated() {
		return nil, ErrNotAuthenticated
	}
	rows, err := a.Store.pool.Query(ctx, `SELECT public_id, user_agent, ip, created_at, last_seen_at, id = $3
		FROM sessions WHERE tenant_id = $1 AND user_id = $2 AND expires_at > now() ORDER BY created_at, public_id`,
		t.ID, sess.State.UserID, sess.ID())
	if err != nil {
		return nil, fmt.Errorf("identity: user sessions: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (SessionInfo, error) {
		var s SessionInfo
		err := r.Scan(&s.ID, &s.UserAgent, &s.IP, &s.CreatedAt, &s.LastSeenAt, &s.Current)
		return s, err
	})
}

// EndSessions ends the listed sessions of the logged-in user; ids of
// sessions that are not the user's are an error (nothing ends). It reports
// whether the current session was among them.
func (a *Accounts) EndSessions(ctx context.Context, t *tenants.Tenant, sess *Session, ids []int64) (bool, error) {
	if !sess.Authenticated() {
		return false, ErrNotAuthenticated
	}
	mine, err := a.UserSessions(ctx, t, sess)
	if err != nil {
		return false, err
	}
	byID := map[int64]SessionInfo{}
	for _, s := range mine {
		byID[s.ID] = s
	}
	current := false
	for _, id := range ids {
		s, ok := byID[id]
		if !ok {
			return false, Errors{{Code: "invalid_choice", Param: "sessions",
				Message: "Select a valid choice. " + strconv.FormatInt(id, 10) + " is not one of the available choices."}}
		}
		current = current || s.Current
	}
	rows, err := a.Store.pool.Query(ctx, `DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2 AND public_id = ANY($3) RETURNING id`,
		t.ID, sess.State.UserID, ids)
	if err != nil {
		return false, err
	}
	deleted, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return false, err
	}
	a.Sessions.forgetEnded(ctx, t.ID, deleted)
	if current {
		sess.State = SessionState{}
		sess.Token, sess.id = "", nil
	}
	return current, nil
}

// TouchSession records activity on an authenticated session
// (USERSESSIONS_TRACK_ACTIVITY), at most once a minute per session.
func (a *Accounts) TouchSession(ctx context.Context, tenantID uuid.UUID, sess *Session) {
	if !sess.Authenticated() || sess.ID() == nil {
		return
	}
	key := redisKey(tenantID, sess.ID()) + ":seen"
	if ok, err := a.Redis.SetNX(ctx, key, "1", time.Minute).Result(); err == nil && !ok {
		return
	}
	_, _ = a.Store.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = now(), ip = $3, user_agent = $4 WHERE tenant_id = $1 AND id = $2`,
		tenantID, sess.ID(), sess.IP, sess.UserAgent)
}
