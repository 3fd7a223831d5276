-- MFA authenticators (allauth's mfa.Authenticator): TOTP, recovery codes and
-- WebAuthn credentials. Their secrets live in `data`, sealed JSON (see
-- internal/seal and internal/mfa); only what lookups need is in clear.

-- +goose Up
CREATE TABLE authenticators (
    tenant_id     uuid NOT NULL,
    id            bigint GENERATED ALWAYS AS IDENTITY,
    user_id       bigint NOT NULL,
    type          text NOT NULL CHECK (type IN ('totp', 'recovery_codes', 'webauthn')),
    -- Sealed JSON, bound to tenant, user and type.
    data          text NOT NULL,
    -- The WebAuthn credential id, to find the credential of a discoverable
    -- (passkey) login within the tenant. Not secret.
    credential_id bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    CHECK ((type = 'webauthn') = (credential_id IS NOT NULL)),
    CHECK (credential_id IS NULL OR length(credential_id) BETWEEN 1 AND 1023)
);
CREATE INDEX authenticators_user ON authenticators (tenant_id, user_id);
-- One TOTP and one set of recovery codes per user, as allauth's
-- unique_authenticator_type; any number of WebAuthn credentials.
CREATE UNIQUE INDEX authenticators_one_per_type ON authenticators (tenant_id, user_id, type)
    WHERE type IN ('totp', 'recovery_codes');
CREATE UNIQUE INDEX authenticators_credential_id ON authenticators (tenant_id, credential_id)
    WHERE credential_id IS NOT NULL;

-- +goose Down
DROP TABLE authenticators;
