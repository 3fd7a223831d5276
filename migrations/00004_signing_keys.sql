-- Per-tenant JWT signing keys (see tenants/keys.go).
--
-- A key is 'next' (published in the tenant's JWKS, not yet signing, until
-- activate_at), 'active' (signs new tokens; at most one per tenant), or
-- 'retired' (signs nothing, but stays published until not_after, when the
-- last token it signed has expired). Rows are kept after not_after as the
-- history the console shows.

-- +goose Up
CREATE TABLE signing_keys (
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- RFC 7638 thumbprint of the public key; for HS* keys a one-way id of
    -- the secret (a thumbprint of an oct JWK would contain the secret).
    kid            text NOT NULL CHECK (kid ~ '^[A-Za-z0-9_-]{16,80}$'),
    alg            text NOT NULL CHECK (alg IN ('RS256', 'RS384', 'RS512', 'HS256', 'HS384', 'HS512', 'ES256', 'EdDSA')),
    state          text NOT NULL CHECK (state IN ('next', 'active', 'retired')),
    -- 'settings': imported from HEADLESS_JWT_PRIVATE_KEY, which stays the
    -- source of truth (the key cannot be rotated here); 'generated': made
    -- and rotated by the platform.
    source         text NOT NULL CHECK (source IN ('generated', 'settings')),
    -- What the JWKS serves; null for HS* keys, which have no public half.
    public_jwk     jsonb CHECK (public_jwk IS NULL OR jsonb_typeof(public_jwk) = 'object'),
    -- PKCS#8 DER (or the HS secret) sealed under the master key, bound to
    -- tenant and kid (internal/seal); never stored in clear.
    private_sealed text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- When a 'next' key starts signing: rotation publishes first, so
    -- verifiers' cached JWKS know the key before any token carries it.
    activate_at    timestamptz,
    activated_at   timestamptz,
    retired_at     timestamptz,
    not_after      timestamptz,
    PRIMARY KEY (tenant_id, kid),
    CHECK ((public_jwk IS NULL) = (alg LIKE 'HS%')),
    CHECK (state <> 'next' OR activate_at IS NOT NULL),
    CHECK (state <> 'retired' OR (retired_at IS NOT NULL AND not_after IS NOT NULL))
);
-- The invariant every signer relies on: one active key per tenant, even when
-- several nodes promote or generate at the same moment.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (tenant_id) WHERE state = 'active';
-- One pending rotation at a time; a new rotation replaces the pending one.
CREATE UNIQUE INDEX signing_keys_one_next ON signing_keys (tenant_id) WHERE state = 'next';

-- +goose Down
DROP TABLE signing_keys;
