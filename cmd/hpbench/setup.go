package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/pguuid"
	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/tenants"
)

// Slugs of the tenants the scenarios use.
const (
	sessionSlug  = "bench-session"
	jwtSlugStem  = "bench-jwt-" // + lower-case algorithm
	configPrefix = "bt-"        // + 5 digits: the (e) tenants
)

func jwtSlug(alg string) string { return jwtSlugStem + strings.ToLower(alg) }

func configSlug(i int) string { return fmt.Sprintf("%s%05d", configPrefix, i) }

// baseSettings are every scenario tenant's: email + password, no
// verification, no rate limits (the bench measures work, not the limiter).
func baseSettings() map[string]any {
	return map[string]any{
		"ACCOUNT_LOGIN_METHODS":      []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":      []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "none",
		"ACCOUNT_RATE_LIMITS":        false,
	}
}

func jwtSettings(alg string) map[string]any {
	s := baseSettings()
	s["HEADLESS_TOKEN_STRATEGY"] = "jwt"
	s["HEADLESS_JWT_ALGORITHM"] = alg
	return s
}

// db is the bench's own connection to the server's database: it creates
// the scenario tenants through the tenants store (validated, audited) and
// bulk-loads the (e) tenants with COPY.
type db struct {
	pool  *pgxpool.Pool
	store *tenants.Store
}

func openDB(ctx context.Context, databaseURL, masterKey string) (*db, error) {
	if err := loopbackDatabase(ctx, databaseURL); err != nil {
		return nil, err
	}
	key, err := seal.ParseKey(masterKey)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	sealer, err := seal.New(key)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(databaseURL)
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 4
	cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	cfg.AfterConnect = pguuid.AfterConnect
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return &db{pool: pool, store: tenants.NewStore(pool, sealer, nil)}, nil
}

func (d *db) close() { d.pool.Close() }

// ensureTenant creates slug with settings unless it exists. No pub/sub:
// the server has never seen a new slug, so nothing is cached for it.
func (d *db) ensureTenant(ctx context.Context, slug string, settings map[string]any) error {
	if _, err := d.store.Get(ctx, slug); err == nil {
		return nil
	} else if !errors.Is(err, tenants.ErrNotFound) {
		return err
	}
	raw, err := json.Marshal(settings)
	if err != nil {
		return err
	}
	_, err = d.store.Create(ctx, tenants.CreateInput{Slug: slug, Name: slug, Settings: raw}, "hpbench")
	return err
}

// seedConfigTenants makes n tenants bt-00000.. with default settings ({}),
// by COPY into tenants (a few hundred ms for 10,000); existing ones are kept
// when the count is already right.
func (d *db) seedConfigTenants(ctx context.Context, n int) (time.Duration, error) {
	start := time.Now()
	have, err := tenants.CountBySlugPrefix(ctx, d.pool, "bt-")
	if err != nil {
		return 0, err
	}
	if have == n {
		return time.Since(start), nil
	}
	if _, err := tenants.DeleteBySlugPrefix(ctx, d.pool, "bt-"); err != nil {
		return 0, err
	}
	list := make([]tenants.SeedTenant, n)
	for i := range list {
		s := configSlug(i)
		list[i] = tenants.SeedTenant{ID: uuid.New(), Slug: s, Name: s, Settings: []byte("{}")}
	}
	if _, err := tenants.CopyTenants(ctx, d.pool, list); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

var dbNamePattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// prepareDatabase (re)creates the database name on the cluster adminURL
// points at and returns its URL (adminURL with the path replaced). It
// refuses names of the test suite's databases.
func prepareDatabase(ctx context.Context, adminURL, name string) (string, error) {
	if !dbNamePattern.MatchString(name) || strings.HasPrefix(name, "hp_test_") || name == "postgres" || strings.HasPrefix(name, "template") || name == "hallpass" || name == "hallpass_test" {
		return "", fmt.Errorf("database name %q: not allowed (use a dedicated bench database)", name)
	}
	if err := loopbackDatabase(ctx, adminURL); err != nil {
		return "", err
	}
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect admin: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
		return "", fmt.Errorf("drop %s: %w", name, err)
	}
	if _, err := conn.Exec(ctx, `CREATE DATABASE "`+name+`"`); err != nil {
		return "", fmt.Errorf("create %s: %w", name, err)
	}
	u, err := url.Parse(adminURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}
