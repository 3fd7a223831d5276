// Package migrations holds the SQL schema, embedded in the binary and applied
// by `hallpass migrate` (and by the test harness) with goose, and the Go
// migrations SQL cannot express (00013: address keys).
package migrations

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

//go:embed *.sql
var files embed.FS

// Result names one migration that was applied.
type Result struct {
	Version int64
	Source  string
}

// Up applies every pending migration to the database at databaseURL. Nodes
// starting together serialise on a Postgres advisory lock.
func Up(ctx context.Context, databaseURL string) ([]Result, error) {
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return nil, fmt.Errorf("migrate: open: %w", err)
	}
	defer db.Close()
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		return nil, fmt.Errorf("migrate: locker: %w", err)
	}
	// Out of order: migrations written on parallel branches land in any order.
	p, err := goose.NewProvider(goose.DialectPostgres, db, files, goose.WithSessionLocker(locker), goose.WithAllowOutofOrder(true),
		goose.WithGoMigrations(addressKeys))
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	applied, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	out := make([]Result, 0, len(applied))
	for _, r := range applied {
		out = append(out, Result{Version: r.Source.Version, Source: r.Source.Path})
	}
	return out, nil
}

// ensure the pgx database/sql driver is registered.
var _ = stdlib.GetDefaultDriver
