// Package testenv gives tests the real backing services `make test` starts:
// a fresh, migrated Postgres database per test binary, the test Redis, and a
// sealer. Tests never mock the stores.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/pguuid"
	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/migrations"
)

var (
	dbOnce sync.Once
	dbURL  string
	dbName string
	dbErr  error
)

// Main runs a package's tests and drops the database they used. Call it from
// TestMain: `func TestMain(m *testing.M) { testenv.Main(m) }`.
func Main(m *testing.M) {
	code := m.Run()
	DropDatabase()
	os.Exit(code)
}

// DropDatabase drops this test binary's database, if it made one; for a
// TestMain that needs to do more than Main does.
func DropDatabase() {
	if dbName == "" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, os.Getenv("HALLPASS_TEST_DATABASE_URL")); err == nil {
		_, _ = conn.Exec(ctx, `DROP DATABASE IF EXISTS "`+dbName+`" WITH (FORCE)`)
		_ = conn.Close(ctx)
	}
}

func require(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: run the tests with `make test`, which starts Postgres and Redis and sets it", name)
	}
	return v
}

// DatabaseURL returns the URL of this test binary's own migrated database,
// creating it on first use.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	admin := require(t, "HALLPASS_TEST_DATABASE_URL")
	dbOnce.Do(func() { dbURL, dbErr = createDatabase(admin) })
	if dbErr != nil {
		t.Fatalf("test database: %v", dbErr)
	}
	return dbURL
}

func createDatabase(admin string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "hp_test_" + hex.EncodeToString(b[:])
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		return "", fmt.Errorf("connect admin: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		return "", fmt.Errorf("create database: %w", err)
	}
	dbName = name
	u, err := url.Parse(admin)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	if _, err := migrations.Up(ctx, u.String()); err != nil {
		return "", err
	}
	return u.String(), nil
}

// Pool returns a connection pool to this test binary's database, closed
// when the test ends.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 8
	cfg.AfterConnect = pguuid.AfterConnect
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Redis returns a client for the test Redis, closed when the test ends.
func Redis(t testing.TB) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(require(t, "HALLPASS_TEST_REDIS_URL"))
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	if err := c.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("test redis: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

var (
	sealerOnce sync.Once
	sealer     *seal.Sealer
)

// Sealer returns this test binary's sealer: one master key per binary, as a
// deployment has one, so every test can read every tenant in the database.
func Sealer(t testing.TB) *seal.Sealer {
	t.Helper()
	sealerOnce.Do(func() { sealer = NewSealer(t) })
	return sealer
}

// NewSealer returns a sealer with a fresh random master key (another deployment).
func NewSealer(t testing.TB) *seal.Sealer {
	t.Helper()
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	s, err := seal.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Slug returns a unique tenant slug with a readable prefix, so tests sharing
// a database never collide.
func Slug(prefix string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	prefix = strings.ToLower(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, prefix))
	if len(prefix) > 40 {
		prefix = prefix[:40]
	}
	return strings.Trim(prefix, "-") + "-" + hex.EncodeToString(b[:])
}
