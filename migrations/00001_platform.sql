-- Tenants, their domains and settings history, platform console users, audit.
-- Every tenant-owned table leads its primary key with tenant_id (the Citus
-- distribution column), and every query on it filters by tenant_id.

-- +goose Up
CREATE TABLE tenants (
    id               uuid PRIMARY KEY,
    slug             text NOT NULL UNIQUE
                     CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    name             text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- The overrides the customer set, keyed by allauth setting names.
    -- Secret values inside are sealed (see internal/seal).
    settings         jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(settings) = 'object'),
    settings_version integer NOT NULL DEFAULT 1,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenant_domains (
    tenant_id          uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    domain             text NOT NULL CHECK (domain = lower(domain) AND length(domain) <= 253),
    verification_token text NOT NULL,
    verified_at        timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, domain)
);
-- A domain belongs to one tenant at most.
CREATE UNIQUE INDEX tenant_domains_domain_key ON tenant_domains (domain);

CREATE TABLE settings_history (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    version    integer NOT NULL,
    settings   jsonb NOT NULL,
    changed_by text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, version)
);

-- Audit events outlive the tenant they describe (no foreign key). Platform
-- events (console users, tenant creation by an admin) use the nil UUID.
CREATE TABLE audit_events (
    tenant_id uuid NOT NULL,
    id        bigint GENERATED ALWAYS AS IDENTITY,
    at        timestamptz NOT NULL DEFAULT now(),
    actor     text NOT NULL,
    action    text NOT NULL,
    target    text NOT NULL DEFAULT '',
    ip        text NOT NULL DEFAULT '',
    details   jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX audit_events_at ON audit_events (tenant_id, at DESC);

CREATE TABLE console_users (
    id                uuid PRIMARY KEY,
    email             text NOT NULL,
    email_folded      text NOT NULL UNIQUE,
    password_hash     text NOT NULL,
    is_platform_admin boolean NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT now(),
    last_login_at     timestamptz
);

CREATE TABLE memberships (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    console_user_id uuid NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
    role            text NOT NULL CHECK (role IN ('owner', 'admin', 'viewer')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, console_user_id)
);

-- +goose Down
DROP TABLE memberships;
DROP TABLE console_users;
DROP TABLE audit_events;
DROP TABLE settings_history;
DROP TABLE tenant_domains;
DROP TABLE tenants;
