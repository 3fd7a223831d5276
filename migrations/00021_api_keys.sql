-- API keys for the management API (issue #18).
--
-- A key is "hp_" + 43 random base62 characters (256 bits) + a 6-character
-- checksum; only the SHA-256 of the whole secret is stored, so a copy of
-- this table authenticates nobody. prefix is the part a list may show
-- (enough to tell keys apart, far too little to guess the rest).
--
-- tenant_id NULL is a platform key, which may act on any tenant (and, with
-- tenants:* scopes, on the tenants themselves). A tenant's keys go with it.

-- +goose Up
CREATE TABLE api_keys (
    id           uuid PRIMARY KEY,
    tenant_id    uuid REFERENCES tenants (id) ON DELETE CASCADE,
    secret_hash  bytea NOT NULL UNIQUE CHECK (length(secret_hash) = 32),
    prefix       text NOT NULL,
    name         text NOT NULL DEFAULT '',
    scopes       text[] NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz
);
-- A tenant's keys, newest first; the platform keys (tenant_id NULL) too.
CREATE INDEX api_keys_tenant ON api_keys (tenant_id, created_at DESC);

-- +goose Down
DROP TABLE api_keys;
