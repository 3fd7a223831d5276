package tenants

import (
	"context"
	"errors"
	"fmt"

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
