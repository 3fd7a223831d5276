package tenants

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/singleflight"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/seal"
)

// Signing-key states and sources, as stored in signing_keys.
const (
	KeyNext    = "next"    // published, signs from ActivateAt on
	KeyActive  = "active"  // signs new tokens; one per tenant
	KeyRetired = "retired" // signs nothing; published until NotAfter

	KeySourceGenerated = "generated" // made and rotated by the platform
	KeySourceSettings  = "settings"  // imported from HEADLESS_JWT_PRIVATE_KEY
)

// Errors returned by Keys.
var (
	ErrKeyNotFound          = errors.New("signing key not found")
	ErrImportedKey          = errors.New("the signing key comes from HEADLESS_JWT_PRIVATE_KEY")
	ErrUnsupportedAlgorithm = errors.New("unsupported JWT algorithm")
	ErrKeyRetired           = errors.New("signing key already retired")
)

// retireGrace keeps a retired key published a little past the expiry of the
// last token it signed, for verifiers that allow clock leeway.
const retireGrace = time.Minute

// keySetTTL bounds how long a node trusts its in-process copy of a tenant's
// keys when it missed an invalidation.
const keySetTTL = 10 * time.Second

// SigningKey is one of a tenant's JWT keys, parsed. Values handed out are
// shared by concurrent callers: treat them as read-only.
type SigningKey struct {
	Kid    string
	Alg    string // JOSE name: RS256 … EdDSA
	State  string // KeyNext, KeyActive or KeyRetired
	Source string // KeySourceGenerated or KeySourceSettings

	CreatedAt   time.Time
	ActivateAt  *time.Time // when a next key starts signing
	ActivatedAt *time.Time
	RetiredAt   *time.Time
	NotAfter    *time.Time // a retired key verifies tokens until then

	// Method signs and verifies with this key (golang-jwt).
	Method jwt.SigningMethod
	// SignKey is *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey or
	// []byte (HS); set only on the key Signing returns.
	SignKey any
	// VerifyKey is the public key, or the []byte secret for HS; nil in List.
	VerifyKey any
	// PublicJWK is the key as published in the JWKS; nil for HS.
	PublicJWK map[string]any
}

// Keys keeps tenants' JWT signing keys in Postgres, private halves sealed
// under the master key, and serves them from an in-process cache.
//
// The cache stays correct across nodes three ways: every change publishes a
// Change (each node's tenant Cache drops the tenant, and a key set is only
// reused for the very *Tenant value it was built for, so the reloaded tenant
// reloads its keys); Invalidate drops a tenant explicitly; and entries live
// at most ten seconds. An entry also expires when a next key falls due or a
// retired key passes not_after, so promotion happens on time without a
// message.
type Keys struct {
	pool      *pgxpool.Pool
	sealer    *seal.Sealer
	publisher Publisher
	ttl       time.Duration
	now       func() time.Time

	mu sync.RWMutex
	// gen counts invalidations; a load that began before one must not be
	// cached, and later callers must not join it.
	gen  uint64
	sets map[uuid.UUID]*keySet
	// mats holds parsed keys by tenant and kid. The material of a kid never
	// changes, so invalidation keeps it: a reload after a rotation unseals
	// only the new key.
	mats    map[uuid.UUID]map[string]*keyMaterial
	flights singleflight.Group
}

// NewKeys returns a Keys. publisher may be nil (a single-node CLI run).
func NewKeys(pool *pgxpool.Pool, sealer *seal.Sealer, publisher Publisher) *Keys {
	if b, ok := publisher.(*Bus); ok && b == nil {
		publisher = nil // a nil *Bus (no Redis) in an interface is not nil
	}
	return &Keys{pool: pool, sealer: sealer, publisher: publisher, ttl: keySetTTL, now: time.Now,
		sets: map[uuid.UUID]*keySet{}, mats: map[uuid.UUID]map[string]*keyMaterial{}}
}

// keySet is one tenant's keys as of one load.
type keySet struct {
	tenant   *Tenant // the value this set was built for
	loadedAt time.Time
	expires  time.Time
	// settled: the active key is the one the tenant's settings call for and
	// no next key is due; Signing may return it without touching the database.
	settled bool
	active  *SigningKey
	verify  []*SigningKey // active, next, unexpired retired; JWKS order
	byKid   map[string]*SigningKey
	want    *wantedKey
	jwks    []byte
	etag    string
}

// wantedKey is what a tenant's settings ask for.
type wantedKey struct {
	alg string
	// For an imported key (HEADLESS_JWT_PRIVATE_KEY): its digest (to reuse
	// the parse across reloads), parsed form and thumbprint.
	importDigest [32]byte
	imported     *keyMaterial
	importBase   string
}

// keyRow is one signing_keys row.
type keyRow struct {
	kid, alg, state, source string
	jwk                     map[string]any
	sealed                  string
	createdAt               time.Time
	activateAt, activatedAt *time.Time
	retiredAt, notAfter     *time.Time
}

const keyColumns = `kid, alg, state, source, public_jwk, private_sealed, created_at, activate_at, activated_at, retired_at, not_after`

// Signing returns the key to sign with now. It brings the tenant's keys in
// line with its settings first, when they are not: an imported
// HEADLESS_JWT_PRIVATE_KEY becomes the active key; a changed algorithm
// replaces the active key; a tenant without one gets a generated key; a due
// next key is promoted. A replaced key is retired and stays published until
// the tokens it signed have expired.
func (k *Keys) Signing(ctx context.Context, t *Tenant) (*SigningKey, error) {
	s, err := k.keySet(ctx, t, true)
	if err != nil {
		return nil, err
	}
	if s.active == nil {
		return nil, fmt.Errorf("tenants: %s has no active signing key", t.Slug)
	}
	return s.active, nil
}

// Verification returns every key a valid token of the tenant may be signed
// with: the active key, the next key, and retired keys until their not_after.
func (k *Keys) Verification(ctx context.Context, t *Tenant) ([]*SigningKey, error) {
	s, err := k.keySet(ctx, t, usesJWT(t))
	if err != nil {
		return nil, err
	}
	return slices.Clone(s.verify), nil
}

// ByKid returns the key of the verification set named kid, or ErrKeyNotFound.
func (k *Keys) ByKid(ctx context.Context, t *Tenant, kid string) (*SigningKey, error) {
	s, err := k.keySet(ctx, t, usesJWT(t))
	if err != nil {
		return nil, err
	}
	if key, ok := s.byKid[kid]; ok {
		return key, nil
	}
	// Another node may have rotated and its message not arrived yet; look
	// again, but at most once a second so unknown kids cannot flood the
	// database.
	if k.now().Sub(s.loadedAt) > time.Second {
		k.Invalidate(t.ID)
		if s, err = k.keySet(ctx, t, usesJWT(t)); err != nil {
			return nil, err
		}
		if key, ok := s.byKid[kid]; ok {
			return key, nil
		}
	}
	return nil, fmt.Errorf("%w: %q", ErrKeyNotFound, kid)
}

// JWKS returns the tenant's public keys as an RFC 7517 set (next, active and
// unexpired retired keys; HS keys have no public half and are left out), and
// an ETag for it: a quoted digest of the document.
func (k *Keys) JWKS(ctx context.Context, t *Tenant) (doc []byte, etag string, err error) {
	s, err := k.keySet(ctx, t, usesJWT(t))
	if err != nil {
		return nil, "", err
	}
	return s.jwks, s.etag, nil
}

// Rotate creates a next key for alg ("" = the tenant's HEADLESS_JWT_ALGORITHM)
// that is published at once and signs from now+publishDelay; a delay of zero
// makes it active at once. A pending next key is replaced. A key for another
// algorithm than the configured one waits as next until
// HEADLESS_JWT_ALGORITHM names its algorithm, and then becomes active at once:
// an algorithm switch without a window in which verifiers lack the key.
// Tenants that import HEADLESS_JWT_PRIVATE_KEY rotate by changing it. The
// key returned carries no SignKey: sign through Signing.
func (k *Keys) Rotate(ctx context.Context, t *Tenant, alg string, publishDelay time.Duration, actor string) (*SigningKey, error) {
	if alg == "" {
		alg = t.Settings.JWTAlgorithm
	}
	if signingMethods[alg] == nil {
		return nil, fmt.Errorf("%w %q: want one of RS256, RS384, RS512, HS256, HS384, HS512, ES256, EdDSA", ErrUnsupportedAlgorithm, alg)
	}
	if publishDelay < 0 {
		return nil, errors.New("tenants: publish delay must not be negative")
	}
	if t.Settings.JWTPrivateKey != "" {
		if isHMAC(alg) {
			return nil, fmt.Errorf("%w: %s signs with the HEADLESS_JWT_PRIVATE_KEY secret of %s; to rotate, change that setting", ErrImportedKey, alg, t.Slug)
		}
		return nil, fmt.Errorf("%w: %s signs with the key in HEADLESS_JWT_PRIVATE_KEY; to rotate, put the new key in that setting, or remove it to have the platform generate and rotate keys", ErrImportedKey, t.Slug)
	}
	priv, err := generatePrivateKey(alg)
	if err != nil {
		return nil, fmt.Errorf("tenants: generate %s key: %w", alg, err)
	}
	mat, err := newMaterial(alg, priv)
	if err != nil {
		return nil, err
	}
	var out keyRow
	err = k.inKeyTx(ctx, t, func(tx pgx.Tx, rows []keyRow, now time.Time) error {
		details := map[string]any{}
		for _, r := range rows {
			if r.state == KeyNext {
				// It never signed anything, so nothing needs it published.
				if err := retireRow(ctx, tx, t, r.kid, now, now); err != nil {
					return err
				}
				details["replaced"] = r.kid
			}
		}
		activateAt := now.Add(publishDelay)
		row, err := k.insertKey(ctx, tx, t, alg, KeySourceGenerated, KeyNext, mat, now, &activateAt)
		if err != nil {
			return err
		}
		details["alg"], details["activate_at"] = alg, activateAt.UTC().Format(time.RFC3339Nano)
		if err := audit.Record(ctx, tx, audit.Event{TenantID: t.ID, Actor: actor, Action: "signing_key.rotate", Target: row.kid, Details: details}); err != nil {
			return err
		}
		out = row
		if publishDelay > 0 || alg != t.Settings.JWTAlgorithm {
			return nil
		}
		rows = append(slices.DeleteFunc(rows, func(r keyRow) bool { return r.state == KeyNext }), row)
		if err := k.promote(ctx, tx, t, rows, row.kid, now, actor); err != nil {
			return err
		}
		out.state, out.activatedAt = KeyActive, &now
		return nil
	})
	if err != nil {
		return nil, err
	}
	k.changed(ctx, t)
	key := out.key()
	key.Method, key.VerifyKey, key.PublicJWK = mat.method, mat.verifyKey, out.jwk
	return key, nil
}

// Retire stops a key signing. An active key stays published until the tokens
// it signed have expired (the next Signing promotes a pending next key or
// generates one); a next key is withdrawn at once. A key imported from
// HEADLESS_JWT_PRIVATE_KEY is retired by changing that setting.
func (k *Keys) Retire(ctx context.Context, t *Tenant, kid, actor string) error {
	err := k.inKeyTx(ctx, t, func(tx pgx.Tx, rows []keyRow, now time.Time) error {
		i := slices.IndexFunc(rows, func(r keyRow) bool { return r.kid == kid })
		if i < 0 {
			return fmt.Errorf("%w: %q", ErrKeyNotFound, kid)
		}
		r := rows[i]
		notAfter := now
		switch {
		case r.state == KeyRetired:
			return fmt.Errorf("%w: signing key %s of %s is already retired", ErrKeyRetired, kid, t.Slug)
		case r.state == KeyActive && r.source == KeySourceSettings && t.Settings.JWTPrivateKey != "":
			return fmt.Errorf("%w: to retire it, change or remove that setting of %s", ErrImportedKey, t.Slug)
		case r.state == KeyActive:
			notAfter = now.Add(retentionAfterRetire(t))
		}
		if err := retireRow(ctx, tx, t, kid, now, notAfter); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{TenantID: t.ID, Actor: actor, Action: "signing_key.retire", Target: kid,
			Details: map[string]any{"alg": r.alg, "was": r.state, "not_after": notAfter.UTC().Format(time.RFC3339Nano)}})
	})
	if err != nil {
		return err
	}
	k.changed(ctx, t)
	return nil
}

// List returns all of a tenant's keys, in every state and including retired
// keys past not_after, newest first. It reads metadata and public JWKs only:
// SignKey and VerifyKey are nil.
func (k *Keys) List(ctx context.Context, t *Tenant) ([]*SigningKey, error) {
	rows, err := k.rows(ctx, k.pool, t.ID, false)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(rows, func(a, b keyRow) int {
		return cmp.Or(b.createdAt.Compare(a.createdAt), strings.Compare(a.kid, b.kid))
	})
	out := make([]*SigningKey, 0, len(rows))
	for _, r := range rows {
		key := r.key()
		key.Method, key.PublicJWK = signingMethods[r.alg], r.jwk
		out = append(out, key)
	}
	return out, nil
}

// Reseal re-seals every private key sealed under a master key other than the
// sealer's current one (after HALLPASS_MASTER_KEY rotated, with the old key
// still configured for opening) and returns how many it re-sealed. Keys
// sealed under a master key the sealer does not hold are left as they are and
// reported in the error, after everything else was re-sealed.
func (k *Keys) Reseal(ctx context.Context) (int, error) {
	current := k.sealer.CurrentKeyID()
	var (
		n, failed   int
		firstErr    error
		afterTenant uuid.UUID
		afterKid    string
	)
	for {
		rows, err := k.pool.Query(ctx, `SELECT tenant_id, kid, private_sealed FROM signing_keys
			WHERE (tenant_id, kid) > ($1, $2) AND split_part(private_sealed, ':', 2) <> $3
			ORDER BY tenant_id, kid LIMIT 500`, afterTenant, afterKid, current)
		if err != nil {
			return n, fmt.Errorf("tenants: reseal: %w", err)
		}
		type sealedKey struct {
			tenant      uuid.UUID
			kid, sealed string
		}
		page, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (sealedKey, error) {
			var s sealedKey
			return s, r.Scan(&s.tenant, &s.kid, &s.sealed)
		})
		if err != nil {
			return n, fmt.Errorf("tenants: reseal: %w", err)
		}
		for _, s := range page {
			if !k.sealer.NeedsReseal(s.sealed) {
				continue
			}
			sealCtx := signingKeyContext(s.tenant, s.kid)
			plain, err := k.sealer.Open(s.sealed, sealCtx)
			if err != nil {
				failed++
				if firstErr == nil {
					firstErr = fmt.Errorf("key %s of tenant %s: %w", s.kid, s.tenant, err)
				}
				continue
			}
			resealed, err := k.sealer.Seal(plain, sealCtx)
			clear(plain)
			if err != nil {
				return n, err
			}
			// Compare-and-set: a concurrent reseal or rewrite of the row wins.
			tag, err := k.pool.Exec(ctx, `UPDATE signing_keys SET private_sealed = $3
				WHERE tenant_id = $1 AND kid = $2 AND private_sealed = $4`, s.tenant, s.kid, resealed, s.sealed)
			if err != nil {
				return n, fmt.Errorf("tenants: reseal: %w", err)
			}
			n += int(tag.RowsAffected())
		}
		if len(page) < 500 {
			break
		}
		afterTenant, afterKid = page[len(page)-1].tenant, page[len(page)-1].kid
	}
	if failed > 0 {
		return n, fmt.Errorf("tenants: reseal: %d signing keys could not be opened (first: %w)", failed, firstErr)
	}
	return n, nil
}

// Invalidate drops the cached keys of a tenant; the next call reloads them.
func (k *Keys) Invalidate(tenantID uuid.UUID) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.gen++
	delete(k.sets, tenantID)
}

func usesJWT(t *Tenant) bool {
	return t.Settings != nil && t.Settings.TokenStrategy == TokenStrategyJWT
}
