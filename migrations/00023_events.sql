-- Events for the tenant's backend (issue #21, webhooks): one row per change
-- a customer may subscribe to (user.created, email.verified, ...), written
-- by internal/events in the same transaction as the change, so a committed
-- change always has its event and a rolled-back one never does. Delivery
-- (endpoints, queue, attempts) is another table's business; this one is the
-- record of what happened.
--
-- id is random in JavaScript's safe range, as every id a tenant sees since
-- 00020 (an event's id reaches the customer in deliveries): a sequence
-- shared by every tenant would tell each of them how many events the whole
-- platform makes. Events are ordered by created_at (clock_timestamp, so
-- events of one transaction keep their order) with id as the tie-break.
-- data is the payload's "data" object; the type, the time and the tenant
-- make the rest of the payload.

-- +goose Up
CREATE TABLE events (
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id         bigint NOT NULL DEFAULT random_row_id(),
    type       text NOT NULL,
    data       jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(data) = 'object'),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (tenant_id, id)
);
-- A tenant's events, newest first (the console's and the API's listing).
CREATE INDEX events_tenant_created ON events (tenant_id, created_at DESC, id DESC);
-- Retention across tenants, as audit_events (00019).
CREATE INDEX events_created_brin ON events USING brin (created_at);

-- +goose Down
DROP TABLE events;
