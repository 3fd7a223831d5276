-- Second factors of console users (see internal/mfa/console.go and
-- console/mfa*.go).
--
-- Console users are the platform's operators, not tenant users: their ids
-- are uuids and they belong to no tenant, so their authenticators cannot be
-- rows of `authenticators` (keyed by tenant and a tenant user). The payload
-- is the same sealed JSON as there (TOTP secret and replay counter,
-- recovery-code hashes, WebAuthn credential), sealed bound to the console
-- user and type; internal/mfa owns this table.

-- +goose Up
CREATE TABLE console_authenticators (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
    type          text NOT NULL CHECK (type IN ('totp', 'recovery_codes', 'webauthn')),
    data          text NOT NULL,
    -- The WebAuthn credential id, to find the credential of a passkey
    -- sign-in (the user is not known yet). Not secret.
    credential_id bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    CHECK ((type = 'webauthn') = (credential_id IS NOT NULL)),
    CHECK (credential_id IS NULL OR length(credential_id) BETWEEN 1 AND 1023)
);
CREATE INDEX console_authenticators_user ON console_authenticators (user_id);
CREATE UNIQUE INDEX console_authenticators_one_per_type ON console_authenticators (user_id, type)
    WHERE type IN ('totp', 'recovery_codes');
CREATE UNIQUE INDEX console_authenticators_credential_id ON console_authenticators (credential_id)
    WHERE credential_id IS NOT NULL;

-- A sign-in waiting for its second factor, or a passkey sign-in waiting for
-- its assertion (user_id NULL until the passkey names its owner). The
-- browser holds a random token in a cookie; only its SHA-256 is stored. A
-- flow is short-lived, used once (deleted when it opens a session), and
-- dropped after too many wrong codes.
CREATE TABLE console_login_flows (
    token_hash     bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id        uuid REFERENCES console_users (id) ON DELETE CASCADE,
    -- The secret the flow's forms post back (CSRF).
    csrf_token     text NOT NULL,
    -- Where to go once signed in (a console path).
    next           text NOT NULL DEFAULT '/console/',
    -- The pending WebAuthn assertion (go-webauthn session data: challenge,
    -- allowed credentials, expiry); replaced by each new ceremony.
    webauthn_state bytea,
    failures       integer NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL
);
CREATE INDEX console_login_flows_expires ON console_login_flows (expires_at);

-- Security changes need the password typed again recently
-- (reauthenticated_at); enrolling keeps its pending secret or WebAuthn
-- ceremony with the session (mfa_state, sealed JSON).
ALTER TABLE console_sessions
    ADD COLUMN reauthenticated_at timestamptz,
    ADD COLUMN mfa_state text;

-- +goose Down
ALTER TABLE console_sessions DROP COLUMN mfa_state, DROP COLUMN reauthenticated_at;
DROP TABLE console_login_flows;
DROP TABLE console_authenticators;
