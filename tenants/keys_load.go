package tenants

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/audit"
)

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
