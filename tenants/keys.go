package tenants

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
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

// keySet returns the tenant's key set, from the cache when it is fresh.
// With reconcile, the keys are first brought in line with the settings; the
// read-only paths (JWKS, verification) reconcile only for tenants that issue
// JWTs, so an anonymous JWKS request never generates keys for others.
func (k *Keys) keySet(ctx context.Context, t *Tenant, reconcile bool) (*keySet, error) {
	if t == nil || t.Settings == nil {
		return nil, errors.New("tenants: keys of a tenant without settings")
	}
	now := k.now()
	k.mu.RLock()
	s, gen := k.sets[t.ID], k.gen
	k.mu.RUnlock()
	if s != nil && s.tenant == t && now.Before(s.expires) && (s.settled || !reconcile) {
		return s, nil
	}
	flight := fmt.Sprintf("%s/%p/%t/%d", t.ID, t, reconcile, gen)
	v, err, _ := k.flights.Do(flight, func() (any, error) {
		// Other callers wait on this load; it must not die with one
		// caller's request. Generating an RSA-4096 key takes a while.
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		return k.load(lctx, t, reconcile, s)
	})
	if err != nil {
		return nil, err
	}
	return v.(*keySet), nil
}

// load reads the tenant's keys, reconciling them with its settings first
// when asked and needed, and caches the result.
func (k *Keys) load(ctx context.Context, t *Tenant, reconcile bool, old *keySet) (*keySet, error) {
	k.mu.Lock()
	gen := k.gen
	k.mu.Unlock()
	var prev *wantedKey
	if old != nil {
		prev = old.want
	}
	want, err := k.wanted(t, prev)
	if err != nil {
		return nil, err
	}
	rows, err := k.rows(ctx, k.pool, t.ID, false)
	if err != nil {
		return nil, err
	}
	if reconcile && !settled(want, rows, k.now()) {
		if err := k.reconcile(ctx, t, want); err != nil {
			return nil, err
		}
		k.mu.Lock()
		gen = k.gen
		k.mu.Unlock()
		if rows, err = k.rows(ctx, k.pool, t.ID, false); err != nil {
			return nil, err
		}
	}
	k.mu.Lock()
	mats := k.mats[t.ID]
	k.mu.Unlock()
	s, mats, err := k.build(t, want, rows, mats)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	k.mats[t.ID] = mats
	if gen == k.gen {
		k.sets[t.ID] = s
	}
	k.mu.Unlock()
	return s, nil
}

// wanted works out which key the settings call for, reusing the parse of an
// unchanged imported key.
func (k *Keys) wanted(t *Tenant, prev *wantedKey) (*wantedKey, error) {
	w := &wantedKey{alg: t.Settings.JWTAlgorithm}
	if signingMethods[w.alg] == nil {
		return nil, fmt.Errorf("%w %q (HEADLESS_JWT_ALGORITHM of %s)", ErrUnsupportedAlgorithm, w.alg, t.Slug)
	}
	if t.Settings.JWTPrivateKey == "" {
		return w, nil
	}
	w.importDigest = sha256.Sum256([]byte(w.alg + "\x00" + t.Settings.JWTPrivateKey))
	if prev != nil && prev.imported != nil && prev.importDigest == w.importDigest {
		return prev, nil
	}
	priv, err := parseImportedKey(w.alg, t.Settings.JWTPrivateKey)
	if err != nil {
		return nil, err
	}
	if w.imported, err = newMaterial(w.alg, priv); err != nil {
		return nil, fmt.Errorf("tenants: HEADLESS_JWT_PRIVATE_KEY of %s: %w", t.Slug, err)
	}
	if w.importBase, err = keyID(w.alg, w.imported); err != nil {
		return nil, err
	}
	return w, nil
}

// importKid is the kid of the imported key given the existing rows: its
// thumbprint, unless that kid already names the same RSA key under another
// RS algorithm (a thumbprint ignores the algorithm), in which case the
// algorithm is appended so tokens of both keep verifying.
func (w *wantedKey) importKid(rows []keyRow) string {
	for _, r := range rows {
		if r.kid == w.importBase && r.alg != w.alg {
			return w.importBase + "-" + w.alg
		}
	}
	return w.importBase
}

// settled reports whether rows already hold what the settings ask for.
func settled(w *wantedKey, rows []keyRow, now time.Time) bool {
	var active *keyRow
	for i, r := range rows {
		switch r.state {
		case KeyActive:
			active = &rows[i]
		case KeyNext:
			if w.imported == nil && r.alg == w.alg && !r.activateAt.After(now) {
				return false // due for promotion
			}
		}
	}
	if active == nil || active.alg != w.alg {
		return false
	}
	if w.imported != nil {
		return active.source == KeySourceSettings && active.kid == w.importKid(rows)
	}
	return active.source == KeySourceGenerated
}

// reconcile brings the tenant's keys in line with its settings, in one
// transaction under the tenant's key lock, so that nodes doing it at once
// agree on one active key.
func (k *Keys) reconcile(ctx context.Context, t *Tenant, w *wantedKey) error {
	const actor = "system"
	changed := false
	err := k.inKeyTx(ctx, t, func(tx pgx.Tx, rows []keyRow, now time.Time) error {
		if settled(w, rows, now) {
			return nil // another node did it while this one waited
		}
		changed = true
		if w.imported != nil {
			return k.activateImported(ctx, tx, t, w, rows, now)
		}
		// A next key of the configured algorithm: promote it if due, or at
		// once if the active key no longer fits the settings (an algorithm
		// switch prepared by Rotate).
		var active, next *keyRow
		for i, r := range rows {
			switch {
			case r.state == KeyActive:
				active = &rows[i]
			case r.state == KeyNext && r.alg == w.alg:
				next = &rows[i]
			}
		}
		fits := active != nil && active.alg == w.alg && active.source == KeySourceGenerated
		if next != nil && (!fits || !next.activateAt.After(now)) {
			return k.promote(ctx, tx, t, rows, next.kid, now, actor)
		}
		priv, err := generatePrivateKey(w.alg)
		if err != nil {
			return fmt.Errorf("tenants: generate %s key: %w", w.alg, err)
		}
		mat, err := newMaterial(w.alg, priv)
		if err != nil {
			return err
		}
		if active != nil {
			if err := retireRow(ctx, tx, t, active.kid, now, now.Add(retentionAfterRetire(t))); err != nil {
				return err
			}
		}
		row, err := k.insertKey(ctx, tx, t, w.alg, KeySourceGenerated, KeyActive, mat, now, nil)
		if err != nil {
			return err
		}
		details := map[string]any{"alg": w.alg}
		if active != nil {
			details["replaced"] = active.kid
		}
		return audit.Record(ctx, tx, audit.Event{TenantID: t.ID, Actor: actor, Action: "signing_key.generate", Target: row.kid, Details: details})
	})
	if err != nil {
		return err
	}
	if changed {
		k.changed(ctx, t)
	}
	return nil
}

// activateImported makes the key from HEADLESS_JWT_PRIVATE_KEY the active
// one, retiring the key it replaces.
func (k *Keys) activateImported(ctx context.Context, tx pgx.Tx, t *Tenant, w *wantedKey, rows []keyRow, now time.Time) error {
	kid := w.importKid(rows)
	details := map[string]any{"alg": w.alg}
	for _, r := range rows {
		if r.state == KeyActive && r.kid != kid {
			if err := retireRow(ctx, tx, t, r.kid, now, now.Add(retentionAfterRetire(t))); err != nil {
				return err
			}
			details["replaced"] = r.kid
		}
	}
	if slices.ContainsFunc(rows, func(r keyRow) bool { return r.kid == kid }) {
		// The key was imported before: bring it back (its row holds the
		// same material, since the kid is derived from it).
		_, err := tx.Exec(ctx, `UPDATE signing_keys SET state = 'active', source = 'settings', activated_at = $3,
			retired_at = NULL, not_after = NULL WHERE tenant_id = $1 AND kid = $2`, t.ID, kid, now)
		if err != nil {
			return fmt.Errorf("tenants: reactivate signing key: %w", err)
		}
	} else if _, err := k.insertKeyWithKid(ctx, tx, t, kid, w.alg, KeySourceSettings, KeyActive, w.imported, now, nil); err != nil {
		return err
	}
	return audit.Record(ctx, tx, audit.Event{TenantID: t.ID, Actor: "system", Action: "signing_key.import", Target: kid, Details: details})
}

// promote retires the active key (if any) and makes kid, a next key, active.
func (k *Keys) promote(ctx context.Context, tx pgx.Tx, t *Tenant, rows []keyRow, kid string, now time.Time, actor string) error {
	details := map[string]any{}
	for _, r := range rows {
		if r.state == KeyActive {
			if err := retireRow(ctx, tx, t, r.kid, now, now.Add(retentionAfterRetire(t))); err != nil {
				return err
			}
			details["replaced"] = r.kid
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE signing_keys SET state = 'active', activated_at = $3
		WHERE tenant_id = $1 AND kid = $2 AND state = 'next'`, t.ID, kid, now); err != nil {
		return fmt.Errorf("tenants: activate signing key: %w", err)
	}
	return audit.Record(ctx, tx, audit.Event{TenantID: t.ID, Actor: actor, Action: "signing_key.activate", Target: kid, Details: details})
}

// inKeyTx runs fn in a transaction holding the tenant's key lock, with the
// tenant's rows locked FOR UPDATE. The advisory lock covers the case of no
// rows at all (a fresh tenant), which FOR UPDATE cannot lock; the partial
// unique index is the last line of defence, and a violation is retried.
func (k *Keys) inKeyTx(ctx context.Context, t *Tenant, fn func(tx pgx.Tx, rows []keyRow, now time.Time) error) error {
	var err error
	for range 3 {
		err = pgx.BeginFunc(ctx, k.pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('hallpass:signing_keys:' || $1::text, 0))`, t.ID); err != nil {
				return fmt.Errorf("tenants: lock signing keys: %w", err)
			}
			rows, err := k.rows(ctx, tx, t.ID, true)
			if err != nil {
				return err
			}
			return fn(tx, rows, k.now())
		})
		if !isUniqueViolation(err) {
			return err
		}
	}
	return fmt.Errorf("tenants: signing keys of %s kept changing: %w", t.Slug, err)
}

func (k *Keys) insertKey(ctx context.Context, tx pgx.Tx, t *Tenant, alg, source, state string, mat *keyMaterial, now time.Time, activateAt *time.Time) (keyRow, error) {
	kid, err := keyID(alg, mat)
	if err != nil {
		return keyRow{}, err
	}
	return k.insertKeyWithKid(ctx, tx, t, kid, alg, source, state, mat, now, activateAt)
}

func (k *Keys) insertKeyWithKid(ctx context.Context, tx pgx.Tx, t *Tenant, kid, alg, source, state string, mat *keyMaterial, now time.Time, activateAt *time.Time) (keyRow, error) {
	jwk, err := publicJWK(kid, alg, mat)
	if err != nil {
		return keyRow{}, err
	}
	der, err := marshalPrivateKey(mat.signKey)
	if err != nil {
		return keyRow{}, fmt.Errorf("tenants: encode signing key: %w", err)
	}
	sealed, err := k.sealer.Seal(der, signingKeyContext(t.ID, kid))
	if _, isSecret := mat.signKey.([]byte); !isSecret {
		clear(der)
	}
	if err != nil {
		return keyRow{}, err
	}
	r := keyRow{kid: kid, alg: alg, state: state, source: source, jwk: jwk, sealed: sealed, createdAt: now, activateAt: activateAt}
	if state == KeyActive {
		r.activatedAt = &now
	}
	var jwkArg any // SQL NULL for HS keys, not JSON null
	if jwk != nil {
		jwkArg = jwk
	}
	_, err = tx.Exec(ctx, `INSERT INTO signing_keys (tenant_id, kid, alg, state, source, public_jwk, private_sealed, created_at, activate_at, activated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, t.ID, kid, alg, state, source, jwkArg, sealed, now, activateAt, r.activatedAt)
	if err != nil {
		return keyRow{}, fmt.Errorf("tenants: insert signing key: %w", err)
	}
	return r, nil
}

func retireRow(ctx context.Context, tx pgx.Tx, t *Tenant, kid string, now, notAfter time.Time) error {
	_, err := tx.Exec(ctx, `UPDATE signing_keys SET state = 'retired', retired_at = $3, not_after = $4
		WHERE tenant_id = $1 AND kid = $2`, t.ID, kid, now, notAfter)
	if err != nil {
		return fmt.Errorf("tenants: retire signing key: %w", err)
	}
	return nil
}

// retentionAfterRetire is how long a retired key must stay published: until
// the longest-lived token it can have signed has expired.
func retentionAfterRetire(t *Tenant) time.Duration {
	secs := max(t.Settings.JWTAccessTokenExpiresIn, t.Settings.JWTRefreshTokenExpiresIn)
	return time.Duration(secs)*time.Second + retireGrace
}

func (k *Keys) rows(ctx context.Context, q querier, tenantID uuid.UUID, forUpdate bool) ([]keyRow, error) {
	sql := `SELECT ` + keyColumns + ` FROM signing_keys WHERE tenant_id = $1`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	rows, err := q.Query(ctx, sql, tenantID)
	if err != nil {
		return nil, fmt.Errorf("tenants: signing keys: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (keyRow, error) {
		var kr keyRow
		err := r.Scan(&kr.kid, &kr.alg, &kr.state, &kr.source, &kr.jwk, &kr.sealed, &kr.createdAt,
			&kr.activateAt, &kr.activatedAt, &kr.retiredAt, &kr.notAfter)
		return kr, err
	})
	if err != nil {
		return nil, fmt.Errorf("tenants: signing keys: %w", err)
	}
	return out, nil
}

// build parses the rows into a key set, unsealing only keys whose material
// is not in prev; it returns the material of the set's keys.
func (k *Keys) build(t *Tenant, w *wantedKey, rows []keyRow, prev map[string]*keyMaterial) (*keySet, map[string]*keyMaterial, error) {
	now := k.now()
	s := &keySet{tenant: t, loadedAt: now, expires: now.Add(k.ttl), want: w, settled: settled(w, rows, now),
		byKid: map[string]*SigningKey{}}
	mats := map[string]*keyMaterial{}
	for _, r := range rows {
		switch {
		case r.state == KeyNext && r.activateAt.After(now):
			s.expires = minTime(s.expires, *r.activateAt)
		case r.state == KeyRetired && r.notAfter.After(now):
			s.expires = minTime(s.expires, *r.notAfter)
		case r.state == KeyRetired:
			continue // expired: no token it signed is valid any more
		}
		mat := prev[r.kid]
		if mat == nil {
			var err error
			if mat, err = k.open(t, r); err != nil {
				return nil, nil, err
			}
		}
		mats[r.kid] = mat
		key := r.key()
		key.Method, key.VerifyKey, key.PublicJWK = mat.method, mat.verifyKey, r.jwk
		if r.state == KeyActive {
			signer := *key
			signer.SignKey = mat.signKey
			s.active = &signer
		}
		s.verify = append(s.verify, key)
		s.byKid[r.kid] = key
	}
	slices.SortFunc(s.verify, compareForJWKS)
	doc := struct {
		Keys []map[string]any `json:"keys"`
	}{Keys: []map[string]any{}}
	for _, key := range s.verify {
		if key.PublicJWK != nil {
			doc.Keys = append(doc.Keys, key.PublicJWK)
		}
	}
	var err error
	if s.jwks, err = json.Marshal(doc); err != nil {
		return nil, nil, err
	}
	sum := sha256.Sum256(s.jwks)
	s.etag = `"` + b64(sum[:16]) + `"`
	return s, mats, nil
}

var stateRank = map[string]int{KeyActive: 0, KeyNext: 1, KeyRetired: 2}

// compareForJWKS orders keys active, next, retired (most recently retired
// first), then by kid, so the JWKS document and its ETag are stable.
func compareForJWKS(a, b *SigningKey) int {
	c := cmp.Compare(stateRank[a.State], stateRank[b.State])
	if c == 0 && a.RetiredAt != nil && b.RetiredAt != nil {
		c = b.RetiredAt.Compare(*a.RetiredAt)
	}
	return cmp.Or(c, strings.Compare(a.Kid, b.Kid))
}

// open unseals and parses a stored key.
func (k *Keys) open(t *Tenant, r keyRow) (*keyMaterial, error) {
	plain, err := k.sealer.Open(r.sealed, signingKeyContext(t.ID, r.kid))
	if err != nil {
		return nil, fmt.Errorf("tenants: open signing key %s of %s: %w", r.kid, t.Slug, err)
	}
	priv, err := unmarshalPrivateKey(r.alg, plain)
	if err != nil {
		return nil, err
	}
	return newMaterial(r.alg, priv)
}

// changed tells this node and the others that the tenant's keys changed.
func (k *Keys) changed(ctx context.Context, t *Tenant) {
	k.Invalidate(t.ID)
	if k.publisher == nil {
		return
	}
	c := Change{ID: t.ID, Slug: t.Slug}
	for _, d := range t.Domains {
		c.Domains = append(c.Domains, d.Domain)
	}
	// Committed already; a lost message costs other nodes at most keySetTTL.
	_ = k.publisher.PublishChange(ctx, c)
}

func (r keyRow) key() *SigningKey {
	return &SigningKey{Kid: r.kid, Alg: r.alg, State: r.state, Source: r.source, CreatedAt: r.createdAt,
		ActivateAt: r.activateAt, ActivatedAt: r.activatedAt, RetiredAt: r.retiredAt, NotAfter: r.notAfter}
}

// signingKeyContext binds a sealed private key to its tenant and kid.
func signingKeyContext(tenantID uuid.UUID, kid string) string {
	return "tenant:" + tenantID.String() + ":signing-key:" + kid
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
