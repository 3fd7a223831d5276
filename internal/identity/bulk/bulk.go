// Package bulk loads synthetic users and their email addresses into
// identity's tables with COPY, for load tests and query-plan checks at
// realistic table sizes (internal/seed: `hallpass seed`, hpbench -seeded,
// the EXPLAIN tests; their sessions: internal/sessions/bulk). It bypasses
// every rule of the account flows (normalisation, uniqueness checks,
// audit, caches): never for real users.
//
// Rows are streamed from the caller's next function, so that millions of
// them need no memory; it returns false when there are no more.
package bulk

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is what the loads run on: a pool, a connection or a transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// User is one synthetic user.
type User struct {
	TenantID uuid.UUID
	// ID is the user's id within the tenant; SetIDCounters makes the
	// tenant's next signup continue after the highest.
	ID int64
	// Username, and its comparison key (address.UsernameKey(Username);
	// the caller computes it, once for many rows if it can).
	Username, UsernameKey string
	// PasswordHash is the encoded hash ("!" for none).
	PasswordHash string
}

// Address is one synthetic email address.
type Address struct {
	TenantID uuid.UUID
	UserID   int64
	// Email, and its comparison key (address.EmailKey(Email)).
	Email, EmailKey   string
	Verified, Primary bool
}

// copyFrom streams rows from next into table's columns.
func copyFrom[T any](ctx context.Context, db DB, table string, columns []string, next func() (T, bool), row func(T) []any) (int64, error) {
	n, err := db.CopyFrom(ctx, pgx.Identifier{table}, columns, pgx.CopyFromFunc(func() ([]any, error) {
		v, ok := next()
		if !ok {
			return nil, nil
		}
		return row(v), nil
	}))
	if err != nil {
		return 0, fmt.Errorf("bulk: copy %s: %w", table, err)
	}
	return n, nil
}

// Users copies users in and returns how many went.
func Users(ctx context.Context, db DB, next func() (User, bool)) (int64, error) {
	return copyFrom(ctx, db, "users", []string{"tenant_id", "id", "username", "username_folded", "password_hash"}, next,
		func(u User) []any { return []any{u.TenantID, u.ID, u.Username, u.UsernameKey, u.PasswordHash} })
}

// Addresses copies email addresses in and returns how many went.
func Addresses(ctx context.Context, db DB, next func() (Address, bool)) (int64, error) {
	return copyFrom(ctx, db, "email_addresses", []string{"tenant_id", "user_id", "email", "email_folded", "verified", "is_primary"}, next,
		func(a Address) []any { return []any{a.TenantID, a.UserID, a.Email, a.EmailKey, a.Verified, a.Primary} })
}

// SetIDCounters makes each of the tenants number its next user after the
// highest id it holds (migrations/00018). The tenants must be new: no
// counter exists for them yet, and no server inserts users into them
// meanwhile.
func SetIDCounters(ctx context.Context, db DB, tenantIDs []uuid.UUID) error {
	if _, err := db.Exec(ctx, `INSERT INTO user_id_counters (tenant_id, last_id)
		SELECT tenant_id, max(id) FROM users WHERE tenant_id = ANY($1) GROUP BY tenant_id`, tenantIDs); err != nil {
		return fmt.Errorf("bulk: user id counters: %w", err)
	}
	return nil
}

// Analyze refreshes the planner's statistics of the tables the loads
// fill, so that queries are planned for their new sizes.
func Analyze(ctx context.Context, db DB) error {
	if _, err := db.Exec(ctx, `ANALYZE users, email_addresses`); err != nil {
		return fmt.Errorf("bulk: analyze: %w", err)
	}
	return nil
}
