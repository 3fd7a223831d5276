-- The email outbox and the development inbox (see internal/mail).
--
-- Mail is written to the outbox in the same transaction as the change that
-- causes it (a signup, a reset request), so it is sent if and only if that
-- change commits, and it survives an SMTP outage: workers on every node
-- retry until the server accepts it.

-- +goose Up
CREATE TABLE outbox (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id              uuid NOT NULL,
    -- The template kind (email_confirmation, password_reset_key, ...).
    kind            text NOT NULL,
    -- sha256 hex of the lower-cased recipient: support can find "the mail
    -- sent to bob@example.com" without the address being stored in clear.
    recipient_hash  text NOT NULL CHECK (recipient_hash ~ '^[0-9a-f]{64}$'),
    -- The whole message (recipient, subject, bodies), sealed under the master
    -- key and bound to this row: it carries links and codes that log people in.
    payload         text NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    PRIMARY KEY (tenant_id, id)
);
-- What the workers scan: unsent rows in due order, across all tenants. Sent
-- rows drop out of the index, so it stays as small as the backlog.
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL;
-- Support lookups: the mail a tenant sent to one address, newest first.
CREATE INDEX outbox_recipient ON outbox (tenant_id, recipient_hash, created_at DESC);

-- Where mail goes when no SMTP server is configured (development only). It
-- is kept in clear on purpose, so the console can show the verification link
-- or code; a deployment with HALLPASS_SMTP_URL set never writes here.
CREATE TABLE dev_inbox (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    -- The outbox id of the message, so a re-delivery is stored once.
    id         uuid NOT NULL,
    kind       text NOT NULL DEFAULT '',
    recipient  text NOT NULL,
    subject    text NOT NULL,
    text_body  text NOT NULL,
    html_body  text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX dev_inbox_created ON dev_inbox (tenant_id, created_at DESC);

-- +goose Down
DROP TABLE dev_inbox;
DROP TABLE outbox;
