// Package apikeys owns the management API's keys (table api_keys): minting
// one (the secret is returned once and only its hash is kept), listing,
// revoking, and authenticating a presented secret. A key belongs to one
// tenant or to the platform, and carries scopes.
package apikeys

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/failure"
)

// Errors. Every authentication failure answers the client alike (401);
// the distinction is for logs and tests.
var (
	// ErrUnknownKey: malformed, mistyped, or never issued.
	ErrUnknownKey = failure.NewSentinel(http.StatusUnauthorized, "invalid_api_key", "apikeys: unknown key")
	// ErrRevoked: the key was revoked.
	ErrRevoked = failure.NewSentinel(http.StatusUnauthorized, "invalid_api_key", "apikeys: key revoked")
	// ErrExpired: the key is past its expiry.
	ErrExpired = failure.NewSentinel(http.StatusUnauthorized, "invalid_api_key", "apikeys: key expired")
	// ErrNotFound: no key with that id (in that tenant).
	ErrNotFound = failure.NewSentinel(http.StatusNotFound, "not_found", "apikeys: no such key")
	// ErrInvalidScope: a scope list that is empty, unknown or not allowed.
	ErrInvalidScope = failure.NewSentinel(http.StatusBadRequest, "invalid_scope", "apikeys: invalid scope")
	// ErrInvalidKey: a name too long, an expiry in the past.
	ErrInvalidKey = failure.NewSentinel(http.StatusBadRequest, "invalid_key", "apikeys: invalid key")
)

// MaxNameLen bounds a key's name.
const MaxNameLen = 100

// Key is an API key as stored: never its secret.
type Key struct {
	ID uuid.UUID
	// TenantID is the tenant the key acts on; uuid.Nil for a platform key.
	TenantID uuid.UUID
	// Prefix is the start of the secret, for telling keys apart in a list.
	Prefix    string
	Name      string
	Scopes    []Scope
	CreatedBy string
	CreatedAt time.Time
	ExpiresAt *time.Time
	LastUsed  *time.Time
	RevokedAt *time.Time
}

// Platform reports whether k is a platform key.
func (k Key) Platform() bool { return k.TenantID == uuid.Nil }

// Can reports whether k holds scope.
func (k Key) Can(scope Scope) bool {
	for _, s := range k.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// Reaches reports whether k may act on the tenant tenantID: its own
// tenant, or any for a platform key.
func (k Key) Reaches(tenantID uuid.UUID) bool {
	return k.Platform() || subtle.ConstantTimeCompare(k.TenantID[:], tenantID[:]) == 1
}

// Actor is the audit actor of requests made with k.
func (k Key) Actor() string { return "apikey:" + k.ID.String() }

// Usable reports why k cannot authenticate at now, or nil.
func (k Key) Usable(now time.Time) error {
	if k.RevokedAt != nil {
		return ErrRevoked
	}
	if k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
		return ErrExpired
	}
	return nil
}

// NewKey is what Create needs.
type NewKey struct {
	// TenantID is the key's tenant; uuid.Nil makes a platform key.
	TenantID  uuid.UUID
	Name      string
	Scopes    []string
	ExpiresAt *time.Time
}

// Store keeps the keys in Postgres.
type Store struct {
	pool *pgxpool.Pool
	now  func() time.Time
}

// NewStore returns a store over pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool, now: time.Now} }

const keyColumns = `id, coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), prefix, name, scopes, created_by, created_at, expires_at, last_used_at, revoked_at`

func scanKey(row pgx.Row) (Key, error) {
	var k Key
	var scopes []string
	if err := row.Scan(&k.ID, &k.TenantID, &k.Prefix, &k.Name, &scopes, &k.CreatedBy, &k.CreatedAt, &k.ExpiresAt, &k.LastUsed, &k.RevokedAt); err != nil {
		return Key{}, err
	}
	k.Scopes = make([]Scope, len(scopes))
	for i, s := range scopes {
		k.Scopes[i] = Scope(s)
	}
	return k, nil
}

// tenantArg is the tenant_id column's value for tenantID.
func tenantArg(tenantID uuid.UUID) any {
	if tenantID == uuid.Nil {
		return nil
	}
	return tenantID
}

// auditTenant is the audit trail a key's events go to.
func auditTenant(tenantID uuid.UUID) uuid.UUID {
	if tenantID == uuid.Nil {
		return audit.Platform
	}
	return tenantID
}

// Create mints a key and returns it with its secret, which is shown once
// and never stored. The creation is audited with actor as its actor.
func (s *Store) Create(ctx context.Context, actor audit.Actor, nk NewKey) (Key, string, error) {
	scopes, err := CheckScopes(nk.Scopes, nk.TenantID == uuid.Nil)
	if err != nil {
		return Key{}, "", err
	}
	name := strings.TrimSpace(nk.Name)
	if len([]rune(name)) > MaxNameLen {
		return Key{}, "", fmt.Errorf("%w: the name is longer than %d characters", ErrInvalidKey, MaxNameLen)
	}
	if nk.ExpiresAt != nil && !nk.ExpiresAt.After(s.now()) {
		return Key{}, "", fmt.Errorf("%w: the expiry is in the past", ErrInvalidKey)
	}
	secret, err := newSecret()
	if err != nil {
		return Key{}, "", fmt.Errorf("apikeys: random: %w", err)
	}
	h := hashSecret(secret)
	names := make([]string, len(scopes))
	for i, sc := range scopes {
		names[i] = string(sc)
	}
	id := uuid.New()
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Key{}, "", fmt.Errorf("apikeys: create: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	k, err := scanKey(tx.QueryRow(ctx, `INSERT INTO api_keys (id, tenant_id, secret_hash, prefix, name, scopes, created_by, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+keyColumns,
		id, tenantArg(nk.TenantID), h[:], secret[:shownLen], name, names, actor.Name, nk.ExpiresAt))
	if err != nil {
		return Key{}, "", fmt.Errorf("apikeys: create: %w", err)
	}
	details := map[string]any{"name": name, "scopes": names, "prefix": k.Prefix}
	if k.ExpiresAt != nil {
		details["expires_at"] = k.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if err := audit.Record(ctx, tx, audit.Event{TenantID: auditTenant(nk.TenantID), Actor: actor.Name, IP: actor.IP,
		Action: "apikey.create", Target: "apikey:" + id.String(), Details: details}); err != nil {
		return Key{}, "", err
	}
	if err := tx.Commit(ctx); err != nil {
		return Key{}, "", fmt.Errorf("apikeys: create: %w", err)
	}
	return k, secret, nil
}

// List returns the keys of tenantID (uuid.Nil: the platform keys), newest
// first, revoked ones included (a list shows what happened).
func (s *Store) List(ctx context.Context, tenantID uuid.UUID) ([]Key, error) {
	q := `SELECT ` + keyColumns + ` FROM api_keys WHERE tenant_id = $1 ORDER BY created_at DESC, id`
	args := []any{tenantID}
	if tenantID == uuid.Nil {
		q = `SELECT ` + keyColumns + ` FROM api_keys WHERE tenant_id IS NULL ORDER BY created_at DESC, id`
		args = nil
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("apikeys: list: %w", err)
	}
	defer rows.Close()
	var out []Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("apikeys: list: %w", err)
		}
		out = append(out, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("apikeys: list: %w", err)
	}
	return out, nil
}

// ListAll returns every key, platform and tenant alike, newest first (the
// CLI's list).
func (s *Store) ListAll(ctx context.Context) ([]Key, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("apikeys: list: %w", err)
	}
	keys, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Key, error) { return scanKey(r) })
	if err != nil {
		return nil, fmt.Errorf("apikeys: list: %w", err)
	}
	return keys, nil
}

// Get returns the key id. With within set (not uuid.Nil) a key of another
// tenant, or a platform key, is ErrNotFound.
func (s *Store) Get(ctx context.Context, within, id uuid.UUID) (Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && within != uuid.Nil && k.TenantID != within) {
		return Key{}, ErrNotFound
	}
	if err != nil {
		return Key{}, fmt.Errorf("apikeys: get: %w", err)
	}
	return k, nil
}

// Revoke ends the key id at once; within, when set, must be its tenant
// (else ErrNotFound). Revoking a revoked key changes nothing and is not an
// error. The revocation is audited with actor as its actor.
func (s *Store) Revoke(ctx context.Context, actor audit.Actor, within, id uuid.UUID) (Key, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return Key{}, fmt.Errorf("apikeys: revoke: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	k, err := scanKey(tx.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = $1 FOR UPDATE`, id))
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && within != uuid.Nil && k.TenantID != within) {
		return Key{}, ErrNotFound
	}
	if err != nil {
		return Key{}, fmt.Errorf("apikeys: revoke: %w", err)
	}
	if k.RevokedAt != nil {
		return k, nil
	}
	if err := tx.QueryRow(ctx, `UPDATE api_keys SET revoked_at = clock_timestamp() WHERE id = $1 RETURNING revoked_at`, id).Scan(&k.RevokedAt); err != nil {
		return Key{}, fmt.Errorf("apikeys: revoke: %w", err)
	}
	if err := audit.Record(ctx, tx, audit.Event{TenantID: auditTenant(k.TenantID), Actor: actor.Name, IP: actor.IP,
		Action: "apikey.revoke", Target: "apikey:" + id.String(), Details: map[string]any{"name": k.Name, "prefix": k.Prefix}}); err != nil {
		return Key{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Key{}, fmt.Errorf("apikeys: revoke: %w", err)
	}
	return k, nil
}

// Lookup finds the key whose secret is secret, whatever its state (the
// caller checks Usable): ErrUnknownKey for a malformed secret or one never
// issued. It is one indexed read; Authenticator caches it.
func (s *Store) Lookup(ctx context.Context, secret string) (Key, error) {
	if !WellFormed(secret) {
		return Key{}, ErrUnknownKey
	}
	return s.lookupHash(ctx, hashSecret(secret))
}

// lookupHash finds the key whose secret hashes to h.
func (s *Store) lookupHash(ctx context.Context, h [32]byte) (Key, error) {
	k, err := scanKey(s.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE secret_hash = $1`, h[:]))
	if errors.Is(err, pgx.ErrNoRows) {
		return Key{}, ErrUnknownKey
	}
	if err != nil {
		return Key{}, fmt.Errorf("apikeys: lookup: %w", err)
	}
	return k, nil
}

// Authenticate returns the usable key whose secret is secret:
// ErrUnknownKey, ErrRevoked or ErrExpired otherwise.
func (s *Store) Authenticate(ctx context.Context, secret string) (Key, error) {
	k, err := s.Lookup(ctx, secret)
	if err != nil {
		return Key{}, err
	}
	if err := k.Usable(s.now()); err != nil {
		return Key{}, err
	}
	return k, nil
}

// Touch records that the keys ids were used at (at most once a minute per
// key: a busy key does not write on every request).
func (s *Store) Touch(ctx context.Context, at time.Time, ids ...uuid.UUID) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = $1::timestamptz
		WHERE id = ANY($2) AND (last_used_at IS NULL OR last_used_at < $1::timestamptz - interval '1 minute')`, at, ids)
	if err != nil {
		return fmt.Errorf("apikeys: touch: %w", err)
	}
	return nil
}
