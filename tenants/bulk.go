package tenants

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Bulk loading of synthetic tenants (`hallpass seed`, hpbench): COPY and
// mass deletes by slug prefix, without the validation, settings history,
// audit events and cache invalidation of Create and Delete. Never for
// customers' tenants.

// BulkDB is what the bulk functions run on: a pool, a connection or a
// transaction.
type BulkDB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error)
}

// SeedTenant is one synthetic tenant for CopyTenants.
type SeedTenant struct {
	ID   uuid.UUID
	Slug string
	Name string
	// Settings is the overrides document, stored as given (the caller
	// validates it with ParseSettings); nil stores {}.
	Settings json.RawMessage
}

// CopyTenants inserts tenants with COPY and returns how many went in.
func CopyTenants(ctx context.Context, db BulkDB, list []SeedTenant) (int64, error) {
	i := 0
	n, err := db.CopyFrom(ctx, pgx.Identifier{"tenants"}, []string{"id", "slug", "name", "settings"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(list) {
				return nil, nil
			}
			t := list[i]
			i++
			settings := []byte(t.Settings)
			if settings == nil {
				settings = []byte(`{}`)
			}
			return []any{t.ID, t.Slug, t.Name, settings}, nil
		}))
	if err != nil {
		return 0, fmt.Errorf("tenants: copy: %w", err)
	}
	return n, nil
}

// CountBySlugPrefix returns how many tenants have a slug starting with
// prefix.
func CountBySlugPrefix(ctx context.Context, db BulkDB, prefix string) (int, error) {
	var n int
	if err := db.QueryRow(ctx, `SELECT count(*) FROM tenants WHERE starts_with(slug, $1)`, prefix).Scan(&n); err != nil {
		return 0, fmt.Errorf("tenants: count by prefix: %w", err)
	}
	return n, nil
}

// DeleteBySlugPrefix deletes the tenants whose slug starts with prefix and,
// by the foreign keys' cascade, everything they own; it returns how many
// went. Servers holding one of them in cache keep it until the entry
// expires.
func DeleteBySlugPrefix(ctx context.Context, db BulkDB, prefix string) (int64, error) {
	if prefix == "" {
		return 0, errors.New("tenants: delete by prefix: the prefix is empty")
	}
	tag, err := db.Exec(ctx, `DELETE FROM tenants WHERE starts_with(slug, $1)`, prefix)
	if err != nil {
		return 0, fmt.Errorf("tenants: delete by prefix: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Analyze refreshes the planner's statistics of the tenants table after a
// bulk load.
func Analyze(ctx context.Context, db BulkDB) error {
	if _, err := db.Exec(ctx, `ANALYZE tenants`); err != nil {
		return fmt.Errorf("tenants: analyze: %w", err)
	}
	return nil
}
