package tenants

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/audit"
)

// RemoveDomain deletes one custom domain of a tenant (another tenant's
// domain is ErrNotFound), audited as tenant.domain.remove by by in the same
// transaction, and then tells every node's tenant cache (the store's
// Publisher), so the name stops routing to the tenant at once.
func (s *Store) RemoveDomain(ctx context.Context, tenantID uuid.UUID, domain string, by audit.Actor) error {
	var change Change
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var verified bool
		err := tx.QueryRow(ctx, `DELETE FROM tenant_domains WHERE tenant_id = $1 AND domain = $2 RETURNING verified_at IS NOT NULL`,
			tenantID, domain).Scan(&verified)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("%w: domain %q", ErrNotFound, domain)
		}
		if err != nil {
			return fmt.Errorf("tenants: remove domain: %w", err)
		}
		change = Change{ID: tenantID, Domains: []string{domain}}
		if err := tx.QueryRow(ctx, `UPDATE tenants SET updated_at = now() WHERE id = $1 RETURNING slug`, tenantID).Scan(&change.Slug); err != nil {
			return fmt.Errorf("tenants: remove domain: %w", err)
		}
		return audit.Record(ctx, tx, audit.Event{TenantID: tenantID, Actor: by.Name, Action: "tenant.domain.remove", Target: domain,
			IP: by.IP, Details: map[string]any{"verified": verified}})
	})
	if err != nil {
		return err
	}
	if s.publisher != nil {
		// Committed; a lost publish only delays other nodes until their
		// cache entries expire.
		_ = s.publisher.PublishChange(ctx, change)
	}
	return nil
}

// TXTResolver looks up DNS TXT records; *net.Resolver is one.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// ChallengePrefix names the record that proves a domain's ownership:
// _hallpass-challenge.<domain> TXT <verification token>.
const ChallengePrefix = "_hallpass-challenge."

// challengeTimeout bounds one verification lookup.
const challengeTimeout = 5 * time.Second

// ErrChallengeMissing: the domain's challenge record does not hold its
// token (yet): nothing was verified.
var ErrChallengeMissing = errors.New("the challenge TXT record does not hold the verification token")

// VerifyDomain proves ownership of one of t's domains: it looks up the
// domain's challenge record with txt and, when the record holds the
// domain's token, marks it verified (MarkDomainVerified: audited, every
// other tenant's claim dropped). A domain t does not hold is ErrNotFound;
// a record without the token is ErrChallengeMissing (with what the lookup
// found); a domain verified already is returned as it is.
func (s *Store) VerifyDomain(ctx context.Context, t *Tenant, domain string, txt TXTResolver, actor string) (Domain, error) {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return Domain{}, fmt.Errorf("%w: domain %q", ErrNotFound, domain)
	}
	i := slices.IndexFunc(t.Domains, func(x Domain) bool { return x.Domain == d })
	if i < 0 {
		return Domain{}, fmt.Errorf("%w: domain %q", ErrNotFound, d)
	}
	dom := t.Domains[i]
	if dom.Verified() {
		return dom, nil
	}
	name := ChallengePrefix + d
	lctx, cancel := context.WithTimeout(ctx, challengeTimeout)
	records, lerr := txt.LookupTXT(lctx, name)
	cancel()
	if !slices.ContainsFunc(records, func(r string) bool { return strings.TrimSpace(r) == dom.VerificationToken }) {
		if lerr != nil {
			return Domain{}, fmt.Errorf("%w: lookup of %s: %w", ErrChallengeMissing, name, lerr)
		}
		return Domain{}, fmt.Errorf("%w: %s has %d TXT records, none the token", ErrChallengeMissing, name, len(records))
	}
	if err := s.MarkDomainVerified(ctx, t.Slug, d, actor); err != nil {
		return Domain{}, err
	}
	now := time.Now()
	dom.VerifiedAt = &now
	return dom, nil
}

// Owns reports whether domain is the platform's own (its base domain or a
// name under it, or its public host): those reach tenants by slug already
// and are never a tenant's custom domain.
func (a *Addressing) Owns(domain string) bool {
	d := strings.ToLower(domain)
	base := strings.ToLower(a.baseDomain)
	return d == base || strings.HasSuffix(d, "."+base) || d == strings.ToLower(a.publicHost)
}
