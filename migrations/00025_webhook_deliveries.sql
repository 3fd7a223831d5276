-- Webhook messages, deliveries and the delivery log (issue #21).
--
-- A message is one event's payload, written in the transaction of the
-- change that caused the event, only when some endpoint is subscribed.
-- A delivery is one message to one endpoint: its state (pending,
-- delivered, failed) and attempt count; River jobs (river_job) carry it out.
-- An attempt is one HTTP request of a delivery, as the log shows it.
-- Deleting an endpoint deletes its deliveries and attempts; its jobs still
-- queued find no endpoint and are cancelled, sending nothing.

-- +goose Up
CREATE TABLE webhook_messages (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         uuid NOT NULL,
    event_type text NOT NULL,
    -- json, not jsonb: the body is sent (and signed) byte for byte as
    -- the event was rendered.
    payload    json NOT NULL,
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX webhook_messages_created_brin ON webhook_messages USING brin (created_at);

CREATE TABLE webhook_deliveries (
    tenant_id       uuid NOT NULL,
    endpoint_id     uuid NOT NULL,
    message_id      uuid NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    last_attempt_at timestamptz,
    PRIMARY KEY (tenant_id, endpoint_id, message_id),
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, message_id) REFERENCES webhook_messages (tenant_id, id) ON DELETE CASCADE
);
-- "Redeliver every failed message since": an endpoint's deliveries by state and age.
CREATE INDEX webhook_deliveries_status ON webhook_deliveries (tenant_id, endpoint_id, status, created_at);

CREATE TABLE webhook_attempts (
    tenant_id        uuid NOT NULL,
    id               bigint GENERATED ALWAYS AS IDENTITY,
    endpoint_id      uuid NOT NULL,
    message_id       uuid NOT NULL,
    at               timestamptz NOT NULL DEFAULT clock_timestamp(),
    -- delivered, failed (will retry or gave up), or skipped (the endpoint
    -- was disabled when the attempt came).
    outcome          text NOT NULL CHECK (outcome IN ('delivered', 'failed', 'skipped')),
    response_status  integer,
    latency_ms       integer NOT NULL DEFAULT 0,
    response_excerpt text NOT NULL DEFAULT '',
    error            text NOT NULL DEFAULT '',
    -- auto (the queue), redeliver (asked by the tenant) or test.
    trigger          text NOT NULL DEFAULT 'auto',
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (tenant_id, endpoint_id, id DESC);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_messages;
