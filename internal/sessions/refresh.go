package sessions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ErrRefreshInvalid is any refused refresh: unknown, expired, spent (which
// also revokes the family and session), or its session is gone.
var ErrRefreshInvalid = errors.New("invalid refresh token")

// RefreshGrant is a live refresh token's record.
type RefreshGrant struct {
	JTI       uuid.UUID
	SessionID []byte
	Family    uuid.UUID
	ExpiresAt time.Time
	// UserID is the session's user when the grant was used.
	UserID int64
}

// IssueRefresh records a new refresh token for a session; family is
// uuid.Nil for the first token of a login.
func (s *Store) IssueRefresh(ctx context.Context, tenantID uuid.UUID, sessionID []byte, family uuid.UUID, lifetime time.Duration) (RefreshGrant, error) {
	g := RefreshGrant{JTI: uuid.New(), SessionID: sessionID, Family: family, ExpiresAt: time.Now().Add(lifetime).Truncate(time.Second)}
	if g.Family == uuid.Nil {
		g.Family = uuid.New()
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO refresh_tokens (tenant_id, jti, session_id, family, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		tenantID, g.JTI, sessionID, g.Family, g.ExpiresAt)
	if err != nil {
		return g, fmt.Errorf("sessions: issue refresh: %w", err)
	}
	return g, nil
}

// UseRefresh spends (rotate) or checks (no rotation) the refresh token jti;
// with rotation its successor (same family, lifetime) is recorded by the same
// statement. A token presented after it was spent means it leaked or was
// replayed: its whole family and its session are revoked.
//
// A rotation is one statement: the UPDATE that spends the token only
// matches it unspent, unexpired and with a live session, and the INSERT of
// the successor reads the UPDATE's result. Concurrent rotations share that
// statement (rotateBatcher, refresh_batch.go). Two concurrent uses of one
// token serialise on its row lock (or, in one batch, only one goes out);
// the second re-checks the row after the first commits, finds it spent,
// and (below) revokes the family, successor included, exactly as a later
// replay would.
func (s *Store) UseRefresh(ctx context.Context, tenantID uuid.UUID, jti uuid.UUID, rotate bool, lifetime time.Duration) (used, next RefreshGrant, err error) {
	return s.useRefresh(ctx, s.rotator().rotate, tenantID, jti, rotate, lifetime)
}

// rotateFunc spends a token and records its successor; pgx.ErrNoRows when
// the token is not usable.
type rotateFunc func(ctx context.Context, tenantID, jti, nextJTI uuid.UUID, nextExpires time.Time) (rotation, error)

// useRefresh is UseRefresh with the rotation done by spend.
func (s *Store) useRefresh(ctx context.Context, spend rotateFunc, tenantID uuid.UUID, jti uuid.UUID, rotate bool, lifetime time.Duration) (used, next RefreshGrant, err error) {
	used.JTI = jti
	if rotate {
		next = RefreshGrant{JTI: uuid.New(), ExpiresAt: time.Now().Add(lifetime).Truncate(time.Second)}
		var r rotation
		r, err = spend(ctx, tenantID, jti, next.JTI, next.ExpiresAt)
		used.SessionID, used.Family, used.ExpiresAt, used.UserID = r.sessionID, r.family, r.expiresAt, r.userID
	} else {
		err = s.pool.QueryRow(ctx, sqlCheckRefresh, tenantID, jti).Scan(&used.SessionID, &used.Family, &used.ExpiresAt, &used.UserID)
	}
	if err == nil {
		if rotate {
			next.SessionID, next.Family = used.SessionID, used.Family
		}
		return used, next, nil
	}
	next = RefreshGrant{}
	if !errors.Is(err, pgx.ErrNoRows) {
		return used, next, fmt.Errorf("sessions: use refresh: %w", err)
	}
	// Not usable: unknown, expired, its session gone, or spent. Only the
	// last is a replay.
	var spent bool
	err = s.pool.QueryRow(ctx, sqlRefreshState, tenantID, jti).Scan(&used.SessionID, &used.Family, &spent)
	if errors.Is(err, pgx.ErrNoRows) || err == nil && !spent {
		return used, next, ErrRefreshInvalid
	}
	if err != nil {
		return used, next, fmt.Errorf("sessions: use refresh: %w", err)
	}
	// Deleting the session cascades to every refresh token it holds.
	if err := s.DeleteID(ctx, tenantID, used.SessionID); err != nil {
		return used, next, err
	}
	if _, err := s.pool.Exec(ctx, `UPDATE refresh_tokens SET spent_at = coalesce(spent_at, now()) WHERE tenant_id = $1 AND family = $2`, tenantID, used.Family); err != nil {
		return used, next, err
	}
	return used, next, ErrRefreshInvalid
}

// The refresh statements, named for the plan checks (explain_test.go).
const (
	// sqlRotateRefresh spends an unspent, unexpired token of a live session
	// and records its successor ($1 tenant, $2 jti, $3 successor jti, $4 its
	// expiry).
	sqlRotateRefresh = `WITH used AS (
				UPDATE refresh_tokens r SET spent_at = now()
				FROM sessions s
				WHERE r.tenant_id = $1 AND r.jti = $2 AND r.spent_at IS NULL AND r.expires_at > now()
					AND s.tenant_id = r.tenant_id AND s.id = r.session_id AND s.expires_at > now()
				RETURNING r.session_id, r.family, r.expires_at, s.user_id),
			successor AS (
				INSERT INTO refresh_tokens (tenant_id, jti, session_id, family, expires_at)
				SELECT $1, $3, session_id, family, $4 FROM used)
			SELECT session_id, family, expires_at, user_id FROM used`
	// sqlRotateBatch is sqlRotateRefresh for many tokens, of any tenants
	// ($1 tenants, $2 jtis, $3 successor jtis, $4 their expiries, one
	// element per token); it returns the ordinal (from 1) of each token it
	// spent. The session is read by subqueries, not joined: with a join, a
	// planner whose statistics are young may start from sessions and walk
	// every token of each session's chain (seen: 900 µs a rotation instead
	// of 60); the subqueries leave it one way, through the primary keys.
	sqlRotateBatch = `WITH req AS (
				SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[])
					WITH ORDINALITY AS q(tenant_id, jti, next_jti, next_expires, i)),
			used AS (
				UPDATE refresh_tokens r SET spent_at = now()
				FROM req q
				WHERE r.tenant_id = q.tenant_id AND r.jti = q.jti AND r.spent_at IS NULL AND r.expires_at > now()
					AND (SELECT s.expires_at FROM sessions s WHERE s.tenant_id = r.tenant_id AND s.id = r.session_id) > now()
				RETURNING q.i, q.next_jti, q.next_expires, r.tenant_id, r.session_id, r.family, r.expires_at,
					(SELECT s.user_id FROM sessions s WHERE s.tenant_id = r.tenant_id AND s.id = r.session_id) AS user_id),
			successor AS (
				INSERT INTO refresh_tokens (tenant_id, jti, session_id, family, expires_at)
				SELECT tenant_id, next_jti, session_id, family, next_expires FROM used)
			SELECT i, session_id, family, expires_at, user_id FROM used`
	// sqlCheckRefresh reads a usable token without spending it.
	sqlCheckRefresh = `SELECT r.session_id, r.family, r.expires_at, s.user_id FROM refresh_tokens r
			JOIN sessions s ON s.tenant_id = r.tenant_id AND s.id = r.session_id AND s.expires_at > now()
			WHERE r.tenant_id = $1 AND r.jti = $2 AND r.spent_at IS NULL AND r.expires_at > now()`
	// sqlRefreshState tells why a token was not usable.
	sqlRefreshState = `SELECT r.session_id, r.family, r.spent_at IS NOT NULL FROM refresh_tokens r
		JOIN sessions s ON s.tenant_id = r.tenant_id AND s.id = r.session_id AND s.expires_at > now()
		WHERE r.tenant_id = $1 AND r.jti = $2`
)
