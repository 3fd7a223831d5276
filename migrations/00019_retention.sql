-- Retention (issue #16, item 12): the janitor (internal/identity/janitor.go)
-- deletes sent mail and dev-inbox mail after HALLPASS_OUTBOX_RETENTION,
-- mail never sent after HALLPASS_OUTBOX_UNSENT_RETENTION, and audit events
-- after HALLPASS_AUDIT_RETENTION, across all tenants, in batches. Rows are
-- written in roughly increasing time order, so BRIN indexes find the old
-- ones for almost nothing per insert (the existing indexes lead with
-- tenant_id and cannot serve a scan across tenants).

-- +goose Up
CREATE INDEX outbox_created_brin ON outbox USING brin (created_at);
CREATE INDEX dev_inbox_created_brin ON dev_inbox USING brin (created_at);
CREATE INDEX audit_events_at_brin ON audit_events USING brin (at);

-- +goose Down
DROP INDEX audit_events_at_brin;
DROP INDEX dev_inbox_created_brin;
DROP INDEX outbox_created_brin;
