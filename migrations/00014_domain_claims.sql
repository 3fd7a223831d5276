-- Custom-domain claims (issue #16): only a verified domain is exclusive.
-- Unverified claims by several tenants coexist and lapse after
-- tenants.DomainClaimTTL (7 days); verifying one drops the others. Before,
-- the first claim of a name, verified or not, blocked every other tenant
-- for good.

-- +goose Up
DROP INDEX tenant_domains_domain_key;
-- A domain routes to one tenant at most.
CREATE UNIQUE INDEX tenant_domains_verified_key ON tenant_domains (domain) WHERE verified_at IS NOT NULL;
-- The claims on one name (claiming, verifying).
CREATE INDEX tenant_domains_domain ON tenant_domains (domain);
-- Lapsed claims, swept when a domain is claimed.
CREATE INDEX tenant_domains_pending ON tenant_domains (created_at) WHERE verified_at IS NULL;

-- +goose Down
DROP INDEX tenant_domains_pending;
DROP INDEX tenant_domains_domain;
DROP INDEX tenant_domains_verified_key;
-- One claim per name again: the verified one, else the oldest.
DELETE FROM tenant_domains d USING (
    SELECT tenant_id, domain,
           row_number() OVER (PARTITION BY domain ORDER BY verified_at IS NULL, created_at, tenant_id) AS n
    FROM tenant_domains
) r
WHERE d.tenant_id = r.tenant_id AND d.domain = r.domain AND r.n > 1;
CREATE UNIQUE INDEX tenant_domains_domain_key ON tenant_domains (domain);
