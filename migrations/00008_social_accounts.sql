-- Third-party (social) accounts connected to tenant users: allauth's
-- SocialAccount. Provider tokens are not stored (SOCIALACCOUNT_STORE_TOKENS).

-- +goose Up
CREATE TABLE social_accounts (
    tenant_id  uuid NOT NULL,
    id         bigint GENERATED ALWAYS AS IDENTITY,
    user_id    bigint NOT NULL,
    -- The app's sub-id: its provider_id for OpenID Connect apps (and any app
    -- that sets one), else the provider id ("google").
    provider   text NOT NULL CHECK (provider <> '' AND length(provider) <= 200),
    -- The account's id at the provider (SOCIALACCOUNT_UID_MAX_LENGTH).
    uid        text NOT NULL CHECK (uid <> '' AND length(uid) <= 191),
    -- What the provider said about the user at the last login (extra_data).
    extra_data jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(extra_data) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    last_login timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    UNIQUE (tenant_id, provider, uid)
);
CREATE INDEX social_accounts_user ON social_accounts (tenant_id, user_id);

-- +goose Down
DROP TABLE social_accounts;
