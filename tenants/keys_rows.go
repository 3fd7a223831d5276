package tenants

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

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
