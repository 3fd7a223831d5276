package social

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/pgtext"
)

// Account is a provider account connected to a user (allauth's
// SocialAccount).
type Account struct {
	ID     int64
	UserID int64
	// Provider is the app's sub-id.
	Provider  string
	UID       string
	ExtraData map[string]any
	CreatedAt time.Time
	LastLogin time.Time
}

// Accounts stores social accounts; every query is scoped by tenant id.
type Accounts struct {
	pool *pgxpool.Pool
}

// NewAccounts returns the social accounts store.
func NewAccounts(pool *pgxpool.Pool) *Accounts { return &Accounts{pool: pool} }

type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (a *Accounts) q(tx pgx.Tx) querier {
	if tx != nil {
		return tx
	}
	return a.pool
}

const accountColumns = `id, user_id, provider, uid, extra_data, created_at, last_login`

func scanAccount(row pgx.Row) (*Account, error) {
	var acc Account
	var extra []byte
	if err := row.Scan(&acc.ID, &acc.UserID, &acc.Provider, &acc.UID, &extra, &acc.CreatedAt, &acc.LastLogin); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, ErrAccountNotFound
		}
		return nil, fmt.Errorf("social: scan account: %w", err)
	}
	if err := json.Unmarshal(extra, &acc.ExtraData); err != nil {
		return nil, fmt.Errorf("social: account extra_data: %w", err)
	}
	return &acc, nil
}

func encodeExtra(extra map[string]any) ([]byte, error) {
	if extra == nil {
		return []byte("{}"), nil
	}
	// What a provider says is stored as it said it, less what jsonb
	// cannot hold (a NUL in a string).
	b, err := pgtext.Marshal(extra)
	if err != nil {
		return nil, fmt.Errorf("social: encode extra_data: %w", err)
	}
	return b, nil
}

// Find returns the account of provider and uid; ErrAccountNotFound if none.
func (a *Accounts) Find(ctx context.Context, tenantID uuid.UUID, provider, uid string) (*Account, error) {
	return scanAccount(a.pool.QueryRow(ctx, `SELECT `+accountColumns+` FROM social_accounts
		WHERE tenant_id = $1 AND provider = $2 AND uid = $3`, tenantID, provider, uid))
}

// ListForUser returns a user's accounts, oldest first.
func (a *Accounts) ListForUser(ctx context.Context, tenantID uuid.UUID, userID int64) ([]Account, error) {
	rows, err := a.pool.Query(ctx, `SELECT `+accountColumns+` FROM social_accounts
		WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at, id`, tenantID, userID)
	if err != nil {
		return nil, fmt.Errorf("social: list accounts: %w", err)
	}
	defer rows.Close()
	out := []Account{}
	for rows.Next() {
		acc, err := scanAccount(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *acc)
	}
	return out, rows.Err()
}

// Connect connects provider account uid to a user, within tx when not nil
// (a social signup creates the user in the same transaction). Connecting an
// account the user already has refreshes its extra_data (added = false);
// one connected to another user is ErrConnectedOther.
func (a *Accounts) Connect(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, userID int64, provider, uid string, extra map[string]any) (acc *Account, added bool, err error) {
	if provider == "" || uid == "" || len(uid) > UIDMaxLength || !pgtext.Valid(provider) || !pgtext.Valid(uid) {
		return nil, false, fmt.Errorf("social: invalid provider %q or uid", provider)
	}
	data, err := encodeExtra(extra)
	if err != nil {
		return nil, false, err
	}
	var inserted bool
	row := a.q(tx).QueryRow(ctx, `INSERT INTO social_accounts AS s (tenant_id, user_id, provider, uid, extra_data)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (tenant_id, provider, uid) DO UPDATE SET extra_data = EXCLUDED.extra_data
			WHERE s.user_id = EXCLUDED.user_id
		RETURNING `+accountColumns+`, (xmax = 0)`, tenantID, userID, provider, uid, data)
	var raw []byte
	acc = &Account{}
	if err := row.Scan(&acc.ID, &acc.UserID, &acc.Provider, &acc.UID, &raw, &acc.CreatedAt, &acc.LastLogin, &inserted); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, false, ErrConnectedOther
		}
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23503" {
			return nil, false, fmt.Errorf("social: connect: no user %d: %w", userID, err)
		}
		return nil, false, fmt.Errorf("social: connect: %w", err)
	}
	if err := json.Unmarshal(raw, &acc.ExtraData); err != nil {
		return nil, false, fmt.Errorf("social: account extra_data: %w", err)
	}
	return acc, inserted, nil
}

// Disconnect removes a user's account; ErrAccountNotFound if the user has no
// such account. allauth's disconnect rules (no_password, no_verified_email,
// disconnect_last) are the caller's, on ListForUser. tx is the
// transaction that records the change.
func (a *Accounts) Disconnect(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, userID int64, provider, uid string) error {
	tag, err := tx.Exec(ctx, `DELETE FROM social_accounts
		WHERE tenant_id = $1 AND user_id = $2 AND provider = $3 AND uid = $4`, tenantID, userID, provider, uid)
	if err != nil {
		return fmt.Errorf("social: disconnect: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrAccountNotFound
	}
	return nil
}

// TouchLogin records a login with the account: last_login = now and, when
// extra is not nil, the provider's fresh extra_data (allauth updates it on
// every login). It returns the account; ErrAccountNotFound if none.
func (a *Accounts) TouchLogin(ctx context.Context, tenantID uuid.UUID, provider, uid string, extra map[string]any) (*Account, error) {
	var data []byte
	if extra != nil {
		var err error
		if data, err = encodeExtra(extra); err != nil {
			return nil, err
		}
	}
	return scanAccount(a.pool.QueryRow(ctx, `UPDATE social_accounts
		SET last_login = now(), extra_data = coalesce($4::jsonb, extra_data)
		WHERE tenant_id = $1 AND provider = $2 AND uid = $3
		RETURNING `+accountColumns, tenantID, provider, uid, data))
}
