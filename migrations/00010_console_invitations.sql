-- Invitations to a tenant's console (see console/members.go).
--
-- An owner invites an address with a role; the mail carries a random
-- 256-bit token of which only the SHA-256 is stored, so a copy of this table
-- lets nobody join. An invitation is good for 7 days and for one use: the
-- invitee sets a password (a new console user) or accepts while signed in.

-- +goose Up
CREATE TABLE console_invitations (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email         text NOT NULL,
    email_folded  text NOT NULL,
    role          text NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
    token_hash    bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    invited_by    uuid REFERENCES console_users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    accepted_at   timestamptz,
    accepted_by   uuid REFERENCES console_users (id) ON DELETE SET NULL
);
-- The members page lists a tenant's invitations; a new invitation of an
-- address replaces its pending one.
CREATE INDEX console_invitations_tenant ON console_invitations (tenant_id, email_folded);

-- +goose Down
DROP TABLE console_invitations;
