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

// Up applies every pending migration to the database at databaseURL, then
// River's (the webhook delivery queue's) own. Nodes starting together
// serialise on Postgres advisory locks.
func Up(ctx context.Context, databaseURL string) ([]Result, error) {
	applied, err := UpTo(ctx, databaseURL, goose.MaxVersion)
	if err != nil {
		return applied, err
	}
	river, err := upRiver(ctx, databaseURL)
	return append(applied, river...), err
}

// UpTo applies the pending migrations up to and including version (tests
// of a migration start from the schema before it).
func UpTo(ctx context.Context, databaseURL string, version int64) ([]Result, error) {
	p, closeDB, err := provider(databaseURL)
	if err != nil {
		return nil, err
	}
	defer closeDB()
	applied, err := p.UpTo(ctx, version)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return results(applied), nil
}

// DownTo rolls back the applied migrations above version.
func DownTo(ctx context.Context, databaseURL string, version int64) ([]Result, error) {
	p, closeDB, err := provider(databaseURL)
	if err != nil {
		return nil, err
	}
	defer closeDB()
	applied, err := p.DownTo(ctx, version)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	return results(applied), nil
}

func provider(databaseURL string) (*goose.Provider, func(), error) {
	db, err := sql.Open("pgx", databaseURL)
	if err != nil {
		return nil, nil, fmt.Errorf("migrate: open: %w", err)
	}
	locker, err := lock.NewPostgresSessionLocker()
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migrate: locker: %w", err)
	}
	// Out of order: migrations written on parallel branches land in any order.
	p, err := goose.NewProvider(goose.DialectPostgres, db, files, goose.WithSessionLocker(locker), goose.WithAllowOutofOrder(true),
		goose.WithGoMigrations(addressKeys))
	if err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("migrate: %w", err)
	}
	return p, func() { db.Close() }, nil
}

func results(applied []*goose.MigrationResult) []Result {
	out := make([]Result, 0, len(applied))
	for _, r := range applied {
		out = append(out, Result{Version: r.Source.Version, Source: r.Source.Path})
	}
	return out
}

// ensure the pgx database/sql driver is registered.
var _ = stdlib.GetDefaultDriver
