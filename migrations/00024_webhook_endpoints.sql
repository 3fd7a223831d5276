-- Webhook endpoints (issue #21): where a tenant's events are delivered
-- (internal/webhooks). events lists the event types the endpoint receives;
-- empty means every type. The signing secret ("whsec_…") is sealed
-- (internal/seal); after a rotation the previous one is kept, sealed, until
-- previous_secret_expires_at so that both signatures are sent meanwhile.
-- failing_since is the first failed attempt of the current run of failures
-- (NULL after a success): an endpoint failing for 5 days is disabled.

-- +goose Up
CREATE TABLE webhook_endpoints (
    tenant_id                  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id                         uuid NOT NULL,
    url                        text NOT NULL CHECK (length(url) BETWEEN 1 AND 2048),
    description                text NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    events                     text[] NOT NULL DEFAULT '{}',
    enabled                    boolean NOT NULL DEFAULT true,
    disabled_reason            text NOT NULL DEFAULT '',
    secret                     text NOT NULL,
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    failing_since              timestamptz,
    created_at                 timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at                 timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, id)
);

-- +goose Down
DROP TABLE webhook_endpoints;
