package tenants

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/audit"
)

// DomainClaimTTL is how long an unverified custom-domain claim lasts. Only
// a verified domain is exclusive: until then several tenants may claim the
// same name, each with its own token, and whoever proves ownership first
// (DNS TXT) keeps it while the others' claims are dropped. A claim not
// verified within DomainClaimTTL lapses, so nobody can hold a name they do
// not control.
const DomainClaimTTL = 7 * 24 * time.Hour

// claimLive is the SQL condition of a claim that counts: verified, or
// claimed within DomainClaimTTL ($ttl seconds).
const claimLive = `(verified_at IS NOT NULL OR created_at >= now() - %s * interval '1 second')`

func liveClaim(param string) string { return fmt.Sprintf(claimLive, param) }

// AddDomain claims a custom domain for a tenant, unverified, with a fresh
// token the customer publishes in DNS to prove ownership. It fails with
// ErrDomainTaken when another tenant has verified the domain or this tenant
// claims it already; other tenants' unverified claims do not stand in the
// way. Lapsed claims (of any tenant) are swept first.
func (s *Store) AddDomain(ctx context.Context, slug, domain, actor string) (Domain, error) {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return Domain{}, err
	}
	dom := Domain{Domain: d, VerificationToken: "hallpass-verify=" + randomToken()}
	err = s.inTenantTx(ctx, slug, func(tx pgx.Tx, id uuid.UUID) error {
		if _, err := tx.Exec(ctx, `DELETE FROM tenant_domains WHERE verified_at IS NULL AND created_at < now() - $1 * interval '1 second'`,
			DomainClaimTTL.Seconds()); err != nil {
			return fmt.Errorf("tenants: sweep lapsed domain claims: %w", err)
		}
		var verified bool
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tenant_domains WHERE domain = $1 AND verified_at IS NOT NULL)`, d).Scan(&verified)
		if err != nil {
			return fmt.Errorf("tenants: add domain: %w", err)
		}
		if verified {
			return fmt.Errorf("%w: %q is verified", ErrDomainTaken, d)
		}
		err = tx.QueryRow(ctx, `INSERT INTO tenant_domains (tenant_id, domain, verification_token) VALUES ($1, $2, $3)
			RETURNING created_at`, id, d, dom.VerificationToken).Scan(&dom.CreatedAt)
		if err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("%w: %q", ErrDomainTaken, d)
			}
			return fmt.Errorf("tenants: add domain: %w", err)
		}
		return audit.Record(ctx, tx, audit.Event{TenantID: id, Actor: actor, Action: "tenant.domain.add", Target: d})
	})
	return dom, err
}

// MarkDomainVerified records that ownership of a tenant's domain was proven:
// from then on the domain routes to the tenant, and every other tenant's
// unverified claim on it is dropped (audited on their side). A lapsed
// claim is ErrNotFound; a domain another tenant verified meanwhile is
// ErrDomainTaken.
func (s *Store) MarkDomainVerified(ctx context.Context, slug, domain, actor string) error {
	d, err := NormalizeDomain(domain)
	if err != nil {
		return err
	}
	var dropped []Change
	err = s.inTenantTx(ctx, slug, func(tx pgx.Tx, id uuid.UUID) error {
		tag, err := tx.Exec(ctx, `UPDATE tenant_domains SET verified_at = coalesce(verified_at, now())
			WHERE tenant_id = $1 AND domain = $2 AND `+liveClaim("$3"), id, d, DomainClaimTTL.Seconds())
		if err != nil {
			if isUniqueViolation(err) {
				return fmt.Errorf("%w: %q is verified by another tenant", ErrDomainTaken, d)
			}
			return fmt.Errorf("tenants: verify domain: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: domain %q of %q", ErrNotFound, d, slug)
		}
		rows, err := tx.Query(ctx, `DELETE FROM tenant_domains d USING tenants t
			WHERE d.domain = $1 AND d.tenant_id <> $2 AND d.verified_at IS NULL AND t.id = d.tenant_id
			RETURNING t.id, t.slug`, d, id)
		if err != nil {
			return fmt.Errorf("tenants: drop other claims: %w", err)
		}
		dropped, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (Change, error) {
			c := Change{Domains: []string{d}}
			return c, r.Scan(&c.ID, &c.Slug)
		})
		if err != nil {
			return fmt.Errorf("tenants: drop other claims: %w", err)
		}
		for _, c := range dropped {
			// Which tenant verified it is not theirs to know.
			if err := audit.Record(ctx, tx, audit.Event{TenantID: c.ID, Actor: "platform", Action: "tenant.domain.drop", Target: d,
				Details: map[string]any{"reason": "verified by another tenant"}}); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, audit.Event{TenantID: id, Actor: actor, Action: "tenant.domain.verify", Target: d})
	})
	if err != nil {
		return err
	}
	if s.publisher != nil {
		for _, c := range dropped {
			_ = s.publisher.PublishChange(ctx, c)
		}
	}
	t, err := s.Get(ctx, slug)
	if err == nil {
		s.publish(ctx, t)
	}
	return err
}

func (s *Store) domains(ctx context.Context, id uuid.UUID) ([]Domain, error) {
	return domainsQ(ctx, s.pool, id)
}

func domainsTx(ctx context.Context, tx pgx.Tx, id uuid.UUID) ([]Domain, error) {
	return domainsQ(ctx, tx, id)
}

type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func domainsQ(ctx context.Context, q querier, id uuid.UUID) ([]Domain, error) {
	rows, err := q.Query(ctx, `SELECT domain, verification_token, verified_at, created_at FROM tenant_domains
		WHERE tenant_id = $1 AND `+liveClaim("$2")+` ORDER BY domain`, id, DomainClaimTTL.Seconds())
	if err != nil {
		return nil, fmt.Errorf("tenants: domains: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Domain, error) {
		var d Domain
		err := r.Scan(&d.Domain, &d.VerificationToken, &d.VerifiedAt, &d.CreatedAt)
		return d, err
	})
}
