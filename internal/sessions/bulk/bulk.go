// Package bulk loads synthetic authenticated sessions with COPY, for load
// tests and query-plan checks at realistic table sizes (internal/seed:
// `hallpass seed`, hpbench -seeded, the EXPLAIN tests). Nothing is cached
// in Redis: the sessions are found in Postgres. Never for real sessions.
package bulk

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DB is what the loads run on: a pool, a connection or a transaction.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// Session is one synthetic authenticated session.
type Session struct {
	TenantID uuid.UUID
	// ID is the storage key (a token's SHA-256; random bytes for a session
	// nobody holds).
	ID        []byte
	UserID    int64
	Client    string
	ExpiresAt time.Time
}

// Sessions copies sessions in, streamed from next (false: no more), and
// returns how many went.
func Sessions(ctx context.Context, db DB, next func() (Session, bool)) (int64, error) {
	n, err := db.CopyFrom(ctx, pgx.Identifier{"sessions"}, []string{"tenant_id", "id", "user_id", "client", "expires_at"},
		pgx.CopyFromFunc(func() ([]any, error) {
			s, ok := next()
			if !ok {
				return nil, nil
			}
			return []any{s.TenantID, s.ID, s.UserID, s.Client, s.ExpiresAt}, nil
		}))
	if err != nil {
		return 0, fmt.Errorf("bulk: copy sessions: %w", err)
	}
	return n, nil
}

// Analyze refreshes the planner's statistics of the sessions table.
func Analyze(ctx context.Context, db DB) error {
	if _, err := db.Exec(ctx, `ANALYZE sessions`); err != nil {
		return fmt.Errorf("bulk: analyze sessions: %w", err)
	}
	return nil
}
