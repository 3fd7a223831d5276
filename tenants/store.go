package tenants

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/seal"
)

// Publisher tells every node that a tenant changed, so caches drop it.
type Publisher interface {
	PublishChange(ctx context.Context, c Change) error
}

// Change names a tenant whose cached copies are stale: by id, slug and domains,
// so negative cache entries (an unknown slug that now exists) drop too.
type Change struct {
	ID      uuid.UUID `json:"id"`
	Slug    string    `json:"slug"`
	Domains []string  `json:"domains,omitempty"`
}

// Store keeps tenants in Postgres; secrets inside settings are sealed at rest.
type Store struct {
	pool      *pgxpool.Pool
	sealer    *seal.Sealer
	publisher Publisher
}

// NewStore returns a Store. publisher may be nil (a single-node CLI run).
func NewStore(pool *pgxpool.Pool, sealer *seal.Sealer, publisher Publisher) *Store {
	return &Store{pool: pool, sealer: sealer, publisher: publisher}
}

// CreateInput is what a new tenant needs.
type CreateInput struct {
	Slug     string
	Name     string
	Settings []byte // overrides document (JSON object); empty = all defaults
}

// Create validates and inserts a tenant, records settings version 1 and an audit event.
func (s *Store) Create(ctx context.Context, in CreateInput, actor string) (*Tenant, error) {
	if err := ValidateSlug(in.Slug); err != nil {
		return nil, err
	}
	if in.Name == "" {
		in.Name = in.Slug
	}
	if err := ValidateName(in.Name); err != nil {
		return nil, err
	}
	doc, err := decodeObject(in.Settings)
	if err != nil {
		return nil, err
	}
	if err := keepRedactedSecrets(doc, nil); err != nil {
		return nil, err
	}
	overrides, settings, err := parseOverrides(in.Settings)
	if err != nil {
		return nil, err
	}
	t := &Tenant{ID: uuid.New(), Slug: in.Slug, Name: in.Name, Settings: settings, Overrides: overrides, SettingsVersion: 1}
	sealed, err := s.sealOverrides(t.ID, overrides)
	if err != nil {
		return nil, err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO tenants (id, slug, name, settings) VALUES ($1, $2, $3, $4)
			RETURNING created_at, updated_at`, t.ID, t.Slug, t.Name, sealed).Scan(&t.CreatedAt, &t.UpdatedAt)
		if err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("%w: %q", ErrSlugTaken, t.Slug)
			}
			return fmt.Errorf("tenants: insert: %w", err)
		}
		if err := insertHistory(ctx, tx, t.ID, 1, sealed, actor); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{TenantID: t.ID, Actor: actor, Action: "tenant.create", Target: t.Slug,
			Details: map[string]any{"name": t.Name, "settings": RedactSecrets(overrides)}})
	})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, t)
	return t, nil
}

// Get loads a tenant by slug.
func (s *Store) Get(ctx context.Context, slug string) (*Tenant, error) {
	return s.getWhere(ctx, "t.slug = $1", slug)
}

// GetByID loads a tenant by id.
func (s *Store) GetByID(ctx context.Context, id uuid.UUID) (*Tenant, error) {
	return s.getWhere(ctx, "t.id = $1", id)
}

// GetByDomain loads the tenant that owns a verified custom domain.
func (s *Store) GetByDomain(ctx context.Context, domain string) (*Tenant, error) {
	return s.getWhere(ctx, `t.id = (SELECT tenant_id FROM tenant_domains WHERE domain = $1 AND verified_at IS NOT NULL)`, domain)
}

const tenantColumns = `t.id, t.slug, t.name, t.settings, t.settings_version, t.created_at, t.updated_at`

func (s *Store) getWhere(ctx context.Context, where string, arg any) (*Tenant, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants t WHERE `+where, arg)
	t, err := s.scanTenant(row)
	if err != nil {
		return nil, err
	}
	if t.Domains, err = s.domains(ctx, t.ID); err != nil {
		return nil, err
	}
	return t, nil
}

// ListOptions pages through tenants ordered by slug.
type ListOptions struct {
	After string // slug to start after
	Limit int    // default 100, at most 1000
}

// List returns tenants ordered by slug (domains not loaded).
func (s *Store) List(ctx context.Context, opt ListOptions) ([]*Tenant, error) {
	if opt.Limit <= 0 {
		opt.Limit = 100
	}
	opt.Limit = min(opt.Limit, 1000)
	rows, err := s.pool.Query(ctx, `SELECT `+tenantColumns+` FROM tenants t WHERE t.slug > $1 ORDER BY t.slug LIMIT $2`, opt.After, opt.Limit)
	if err != nil {
		return nil, fmt.Errorf("tenants: list: %w", err)
	}
	defer rows.Close()
	var out []*Tenant
	for rows.Next() {
		t, err := s.scanTenant(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// UpdateSettings merges patch (a JSON object) into the tenant's overrides:
// keys in patch replace, a null value removes a key (back to allauth's
// default). A secret given as Redacted keeps its current value, so a document
// copied from the console can be pasted back.
func (s *Store) UpdateSettings(ctx context.Context, slug string, patch []byte, actor string) (*Tenant, error) {
	p, err := decodeObject(patch)
	if err != nil {
		return nil, err
	}
	return s.writeSettings(ctx, slug, 0, actor, mergeInto(p))
}

// UpdateSettingsAt is UpdateSettings on the condition that the settings
// are still at version: otherwise it writes nothing and fails with
// ErrStaleSettings (the management API's If-Match).
func (s *Store) UpdateSettingsAt(ctx context.Context, slug string, version int, patch []byte, actor string) (*Tenant, error) {
	p, err := decodeObject(patch)
	if err != nil {
		return nil, err
	}
	if version < 1 {
		return nil, fmt.Errorf("%w: version %d", ErrStaleSettings, version)
	}
	return s.writeSettings(ctx, slug, version, actor, mergeInto(p))
}

// mergeInto merges patch into a copy of the current overrides: keys in
// patch replace, a null removes.
func mergeInto(p map[string]any) func(current map[string]any) map[string]any {
	return func(current map[string]any) map[string]any {
		merged, _ := deepCopy(current).(map[string]any)
		for k, v := range p {
			if v == nil {
				delete(merged, k)
				continue
			}
			merged[k] = v
		}
		return merged
	}
}

// ReplaceSettings sets the tenant's whole overrides document.
func (s *Store) ReplaceSettings(ctx context.Context, slug string, doc []byte, actor string) (*Tenant, error) {
	d, err := decodeObject(doc)
	if err != nil {
		return nil, err
	}
	return s.writeSettings(ctx, slug, 0, actor, func(map[string]any) map[string]any { return d })
}

// writeSettings writes next's document; when version is not 0, only if
// the settings are still at that version (ErrStaleSettings otherwise).
func (s *Store) writeSettings(ctx context.Context, slug string, version int, actor string, next func(current map[string]any) map[string]any) (*Tenant, error) {
	var out *Tenant
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		row := tx.QueryRow(ctx, `SELECT `+tenantColumns+` FROM tenants t WHERE t.slug = $1 FOR UPDATE`, slug)
		t, err := s.scanTenant(row)
		if err != nil {
			return err
		}
		if version != 0 && t.SettingsVersion != version {
			return fmt.Errorf("%w: at version %d, not %d", ErrStaleSettings, t.SettingsVersion, version)
		}
		before := t.Overrides
		after := next(before)
		if err := keepRedactedSecrets(after, before); err != nil {
			return err
		}
		raw, err := json.Marshal(after)
		if err != nil {
			return fmt.Errorf("tenants: encode settings: %w", err)
		}
		overrides, settings, err := parseOverrides(raw)
		if err != nil {
			return err
		}
		sealed, err := s.sealOverrides(t.ID, overrides)
		if err != nil {
			return err
		}
		t.SettingsVersion++
		if err := tx.QueryRow(ctx, `UPDATE tenants SET settings = $2, settings_version = $3, updated_at = now()
			WHERE id = $1 RETURNING updated_at`, t.ID, sealed, t.SettingsVersion).Scan(&t.UpdatedAt); err != nil {
			return fmt.Errorf("tenants: update settings: %w", err)
		}
		if err := insertHistory(ctx, tx, t.ID, t.SettingsVersion, sealed, actor); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, audit.Event{TenantID: t.ID, Actor: actor, Action: "tenant.settings.update", Target: t.Slug,
			Details: map[string]any{"version": t.SettingsVersion, "before": RedactSecrets(before), "after": RedactSecrets(overrides)}}); err != nil {
			return err
		}
		t.Overrides, t.Settings = overrides, settings
		if t.Domains, err = domainsTx(ctx, tx, t.ID); err != nil {
			return err
		}
		out = t
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.publish(ctx, out)
	return out, nil
}

// Rename changes a tenant's display name.
func (s *Store) Rename(ctx context.Context, slug, name, actor string) (*Tenant, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	err := s.inTenantTx(ctx, slug, func(tx pgx.Tx, id uuid.UUID) error {
		if _, err := tx.Exec(ctx, `UPDATE tenants SET name = $2, updated_at = now() WHERE id = $1`, id, name); err != nil {
			return fmt.Errorf("tenants: rename: %w", err)
		}
		return audit.Record(ctx, tx, audit.Event{TenantID: id, Actor: actor, Action: "tenant.rename", Target: slug, Details: map[string]any{"name": name}})
	})
	if err != nil {
		return nil, err
	}
	t, err := s.Get(ctx, slug)
	if err == nil {
		s.publish(ctx, t)
	}
	return t, err
}

// Delete removes a tenant and everything it owns.
func (s *Store) Delete(ctx context.Context, slug, actor string) error {
	t, err := s.Get(ctx, slug)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, t.ID); err != nil {
			return fmt.Errorf("tenants: delete: %w", err)
		}
		return audit.Record(ctx, tx, audit.Event{TenantID: t.ID, Actor: actor, Action: "tenant.delete", Target: slug})
	})
	if err != nil {
		return err
	}
	s.publish(ctx, t)
	return nil
}

// SettingsVersion is one entry of a tenant's settings history.
type SettingsVersion struct {
	Version   int
	Settings  map[string]any // secrets redacted
	ChangedBy string
	ChangedAt time.Time
}

// SettingsHistory lists a tenant's settings versions, newest first.
func (s *Store) SettingsHistory(ctx context.Context, tenantID uuid.UUID) ([]SettingsVersion, error) {
	return s.SettingsHistoryBefore(ctx, tenantID, 0, 0)
}

// SettingsHistoryBefore lists at most limit of a tenant's settings
// versions older than before (0: from the newest), newest first; limit 0
// lists them all.
func (s *Store) SettingsHistoryBefore(ctx context.Context, tenantID uuid.UUID, before, limit int) ([]SettingsVersion, error) {
	rows, err := s.pool.Query(ctx, `SELECT version, settings, changed_by, changed_at FROM settings_history
		WHERE tenant_id = $1 AND ($2 = 0 OR version < $2) ORDER BY version DESC LIMIT nullif($3, 0)`, tenantID, before, limit)
	if err != nil {
		return nil, fmt.Errorf("tenants: history: %w", err)
	}
	defer rows.Close()
	var out []SettingsVersion
	for rows.Next() {
		var v SettingsVersion
		if err := rows.Scan(&v.Version, &v.Settings, &v.ChangedBy, &v.ChangedAt); err != nil {
			return nil, fmt.Errorf("tenants: history: %w", err)
		}
		v.Settings = RedactSecrets(v.Settings)
		out = append(out, v)
	}
	return out, rows.Err()
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

func (s *Store) inTenantTx(ctx context.Context, slug string, fn func(tx pgx.Tx, id uuid.UUID) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var id uuid.UUID
		if err := tx.QueryRow(ctx, `SELECT id FROM tenants WHERE slug = $1 FOR UPDATE`, slug).Scan(&id); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("%w: %q", ErrNotFound, slug)
			}
			return fmt.Errorf("tenants: lock: %w", err)
		}
		return fn(tx, id)
	})
}

func (s *Store) scanTenant(row pgx.Row) (*Tenant, error) {
	var t Tenant
	var raw []byte
	if err := row.Scan(&t.ID, &t.Slug, &t.Name, &raw, &t.SettingsVersion, &t.CreatedAt, &t.UpdatedAt); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, ErrNotFound
		}
		return nil, fmt.Errorf("tenants: scan: %w", err)
	}
	sealed, err := decodeObject(raw)
	if err != nil {
		return nil, fmt.Errorf("tenants: stored settings of %s: %w", t.Slug, err)
	}
	if err := walkSecrets(sealed, func(path, v string) (string, error) {
		pt, err := s.sealer.Open(v, sealContext(t.ID, path))
		if err != nil {
			return "", fmt.Errorf("tenants: open %s of %s: %w", path, t.Slug, err)
		}
		return string(pt), nil
	}); err != nil {
		return nil, err
	}
	t.Overrides = sealed
	plain, err := json.Marshal(sealed)
	if err != nil {
		return nil, err
	}
	if t.Settings, t.SettingsClamped, err = parseStoredSettings(plain); err != nil {
		// Settings were valid when written; a failure here means the rules
		// tightened since. Fail loudly so the tenant gets attention rather
		// than running on settings it never chose.
		return nil, fmt.Errorf("tenants: stored settings of %s no longer valid: %w", t.Slug, err)
	}
	return &t, nil
}

func (s *Store) publish(ctx context.Context, t *Tenant) {
	if s.publisher == nil || t == nil {
		return
	}
	c := Change{ID: t.ID, Slug: t.Slug}
	for _, d := range t.Domains {
		c.Domains = append(c.Domains, d.Domain)
	}
	// The change is committed; a failed publish is retried by the bus (and
	// at worst other nodes see it when their cache entries expire), so it
	// is not the caller's error.
	_ = s.publisher.PublishChange(ctx, c)
}

func insertHistory(ctx context.Context, tx pgx.Tx, id uuid.UUID, version int, sealed []byte, actor string) error {
	_, err := tx.Exec(ctx, `INSERT INTO settings_history (tenant_id, version, settings, changed_by) VALUES ($1, $2, $3, $4)`,
		id, version, sealed, actor)
	if err != nil {
		return fmt.Errorf("tenants: history: %w", err)
	}
	return nil
}

func randomToken() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
