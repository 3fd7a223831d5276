-- Tenant users, their email addresses, and authenticated sessions.
-- Pending (unauthenticated) flows live in Redis; a session reaches Postgres
-- once a user is logged in, so losing Redis never logs anyone out.

-- +goose Up
CREATE TABLE users (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              bigint GENERATED ALWAYS AS IDENTITY,
    username        text,
    -- Case-folded username: uniqueness is case-insensitive, as allauth's.
    username_folded text,
    -- Encoded hash (argon2id PHC, or an imported Django format); '' or a
    -- '!'-prefixed value is an unusable password.
    password_hash   text NOT NULL DEFAULT '',
    is_active       boolean NOT NULL DEFAULT true,
    date_joined     timestamptz NOT NULL DEFAULT now(),
    last_login      timestamptz,
    profile         jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (tenant_id, id),
    CHECK ((username IS NULL) = (username_folded IS NULL))
);
CREATE UNIQUE INDEX users_username ON users (tenant_id, username_folded) WHERE username_folded IS NOT NULL;

CREATE TABLE email_addresses (
    tenant_id    uuid NOT NULL,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    user_id      bigint NOT NULL,
    email        text NOT NULL,
    email_folded text NOT NULL,
    verified     boolean NOT NULL DEFAULT false,
    is_primary   boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    UNIQUE (tenant_id, user_id, email_folded)
);
-- ACCOUNT_UNIQUE_EMAIL is a per-tenant setting, so uniqueness across users is
-- enforced by the application under an advisory lock; this index serves the lookups.
CREATE INDEX email_addresses_email ON email_addresses (tenant_id, email_folded);
CREATE UNIQUE INDEX email_addresses_one_primary ON email_addresses (tenant_id, user_id) WHERE is_primary;

CREATE TABLE sessions (
    tenant_id    uuid NOT NULL,
    -- SHA-256 of the session token; the token itself is never stored.
    id           bytea NOT NULL,
    public_id    bigint GENERATED ALWAYS AS IDENTITY,
    user_id      bigint NOT NULL,
    client       text NOT NULL CHECK (client IN ('browser', 'app')),
    -- allauth's authentication records (methods) and small session state.
    methods      jsonb NOT NULL DEFAULT '[]'::jsonb,
    data         jsonb NOT NULL DEFAULT '{}'::jsonb,
    ip           text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);
CREATE UNIQUE INDEX sessions_public_id ON sessions (tenant_id, public_id);

-- +goose Down
DROP TABLE sessions;
DROP TABLE email_addresses;
DROP TABLE users;
