package identity

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
func (s *Sessions) IssueRefresh(ctx context.Context, tenantID uuid.UUID, sessionID []byte, family uuid.UUID, lifetime time.Duration) (RefreshGrant, error) {
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
// with rotation its successor (same family, lifetime) is recorded in the same
// transaction. A token presented after it was spent means it leaked or was
// replayed: its whole family and its session are revoked. The row lock makes
// concurrent uses of one token resolve to exactly one success, and the
// winner's successor exists before any loser can revoke it.
func (s *Sessions) UseRefresh(ctx context.Context, tenantID uuid.UUID, jti uuid.UUID, rotate bool, lifetime time.Duration) (used, next RefreshGrant, err error) {
	var spent *time.Time
	reused := false
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `SELECT r.jti, r.session_id, r.family, r.expires_at, r.spent_at, s.user_id FROM refresh_tokens r
			JOIN sessions s ON s.tenant_id = r.tenant_id AND s.id = r.session_id AND s.expires_at > now()
			WHERE r.tenant_id = $1 AND r.jti = $2 FOR UPDATE OF r`, tenantID, jti).Scan(&used.JTI, &used.SessionID, &used.Family, &used.ExpiresAt, &spent, &used.UserID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrRefreshInvalid
		}
		if err != nil {
			return err
		}
		if spent != nil {
			reused = true
			return nil
		}
		if time.Now().After(used.ExpiresAt) {
			return ErrRefreshInvalid
		}
		if !rotate {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE refresh_tokens SET spent_at = now() WHERE tenant_id = $1 AND jti = $2`, tenantID, jti); err != nil {
			return err
		}
		next = RefreshGrant{JTI: uuid.New(), SessionID: used.SessionID, Family: used.Family, ExpiresAt: time.Now().Add(lifetime).Truncate(time.Second)}
		_, err = tx.Exec(ctx, `INSERT INTO refresh_tokens (tenant_id, jti, session_id, family, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			tenantID, next.JTI, next.SessionID, next.Family, next.ExpiresAt)
		return err
	})
	if err != nil {
		if errors.Is(err, ErrRefreshInvalid) {
			return used, next, err
		}
		return used, next, fmt.Errorf("sessions: use refresh: %w", err)
	}
	if reused {
		// Deleting the session cascades to every refresh token it holds.
		if err := s.DeleteID(ctx, tenantID, used.SessionID); err != nil {
			return used, next, err
		}
		if _, err := s.pool.Exec(ctx, `UPDATE refresh_tokens SET spent_at = coalesce(spent_at, now()) WHERE tenant_id = $1 AND family = $2`, tenantID, used.Family); err != nil {
			return used, next, err
		}
		return used, next, ErrRefreshInvalid
	}
	return used, next, nil
}
