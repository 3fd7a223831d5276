package identity

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ExportQuerier runs an export's reads: a read-only, repeatable-read
// transaction, so that every page sees the same snapshot.
type ExportQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// ExportedUser is a user as a tenant export carries them.
type ExportedUser struct {
	ID           int64
	Username     string
	PasswordHash string
	IsActive     bool
	DateJoined   time.Time
	LastLogin    *time.Time
	// Profile, PublicMetadata and PrivateMetadata are the user's documents
	// as stored (JSON objects).
	Profile, PublicMetadata, PrivateMetadata json.RawMessage
	Emails                                   []ExportedEmail
}

// ExportedEmail is one of an exported user's addresses.
type ExportedEmail struct {
	Email             string
	Verified, Primary bool
}

// ExportUsers reads the next page of a tenant's users for an export: at
// most limit users with ids above after, in id order, each with their
// addresses (the primary first, then by address), in two statements.
func ExportUsers(ctx context.Context, q ExportQuerier, tenantID uuid.UUID, after int64, limit int) ([]ExportedUser, error) {
	rows, err := q.Query(ctx, `SELECT id, coalesce(username, ''), password_hash, is_active, date_joined, last_login,
			profile, public_metadata, private_metadata
		FROM users WHERE tenant_id = $1 AND id > $2 ORDER BY id LIMIT $3`, tenantID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("identity: export users: %w", err)
	}
	users, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ExportedUser, error) {
		var u ExportedUser
		var profile, public, private []byte
		err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.IsActive, &u.DateJoined, &u.LastLogin, &profile, &public, &private)
		u.Profile, u.PublicMetadata, u.PrivateMetadata = profile, public, private
		return u, err
	})
	if err != nil || len(users) == 0 {
		if err != nil {
			err = fmt.Errorf("identity: export users: %w", err)
		}
		return nil, err
	}
	ids := make([]int64, len(users))
	at := make(map[int64]int, len(users))
	for i, u := range users {
		ids[i], at[u.ID] = u.ID, i
	}
	rows, err = q.Query(ctx, `SELECT user_id, email, verified, is_primary FROM email_addresses
		WHERE tenant_id = $1 AND user_id = ANY($2) ORDER BY user_id, is_primary DESC, email_folded, email`, tenantID, ids)
	if err != nil {
		return nil, fmt.Errorf("identity: export addresses: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var userID int64
		var e ExportedEmail
		if err := rows.Scan(&userID, &e.Email, &e.Verified, &e.Primary); err != nil {
			return nil, fmt.Errorf("identity: export addresses: %w", err)
		}
		u := &users[at[userID]]
		u.Emails = append(u.Emails, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("identity: export addresses: %w", err)
	}
	return users, nil
}
