package mfa

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// What an operator (the console, the management API) reads and does to
// second factors. Nothing here opens sealed data.

// Summaries lists a tenant user's authenticators, oldest first, without
// opening their sealed data: ID, UserID, Type and times only.
func (s *Store) Summaries(ctx context.Context, tenantID uuid.UUID, userID int64) ([]*Authenticator, error) {
	return s.query(ctx, s.pool, tenantID, false, `SELECT `+columns+` FROM authenticators
		WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at, id`, tenantID, userID)
}

// RemoveAll deletes every authenticator of a tenant user (TOTP, recovery
// codes, security keys and passkeys) in tx, and returns how many went. It
// records no event of its own: the caller records the reset it is part of
// in the same transaction (identity.UserAdmin.ResetMFA). Trusted-browser
// cookies die with the authenticators (they are bound to
// ConfigFingerprint).
func RemoveAll(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, userID int64) (int, error) {
	if err := lockUser(ctx, tx, tenantID, userID); err != nil {
		return 0, err
	}
	tag, err := tx.Exec(ctx, `DELETE FROM authenticators WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID)
	if err != nil {
		return 0, fmt.Errorf("mfa: remove all: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// RemoveAllConsole deletes every second factor of a console user in tx and
// returns how many went; the caller records the reset (console.Users.ResetMFA).
func RemoveAllConsole(ctx context.Context, tx pgx.Tx, userID uuid.UUID) (int, error) {
	tag, err := tx.Exec(ctx, `DELETE FROM console_authenticators WHERE user_id = $1`, userID)
	if err != nil {
		return 0, fmt.Errorf("mfa: remove all console authenticators: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

// TypesOf returns the authenticator types of each of a tenant's users, in
// Types' order, in one query (an operator's list of users); a user with
// none is absent.
func (s *Store) TypesOf(ctx context.Context, tenantID uuid.UUID, userIDs []int64) (map[int64][]string, error) {
	out := map[int64][]string{}
	if len(userIDs) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT user_id, type FROM authenticators WHERE tenant_id = $1 AND user_id = ANY($2)`,
		tenantID, userIDs)
	if err != nil {
		return nil, fmt.Errorf("mfa: types of users: %w", err)
	}
	have := map[int64]map[string]bool{}
	for rows.Next() {
		var id int64
		var typ string
		if err := rows.Scan(&id, &typ); err != nil {
			rows.Close()
			return nil, fmt.Errorf("mfa: types of users: %w", err)
		}
		if have[id] == nil {
			have[id] = map[string]bool{}
		}
		have[id][typ] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mfa: types of users: %w", err)
	}
	for id, types := range have {
		for _, t := range typeOrder {
			if types[t] {
				out[id] = append(out[id], t)
			}
		}
	}
	return out, nil
}
