-- Bulk user imports through the management API (issue 22, point 5):
-- POST /tenants/{slug}/users/import queues a job, a worker on any node runs
-- it, GET /tenants/{slug}/users/import/{job} reports on it. A job outlives
-- the request and the node that took it: a running job whose lease ran out
-- (its node stopped) is taken again, and the import is idempotent by the
-- users' source ids.

-- +goose Up
CREATE TABLE import_jobs (
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    id          uuid NOT NULL,
    status      text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    -- Who asked ("apikey:<id>").
    actor       text NOT NULL,
    -- The JSON Lines as received, sealed under the master key (they hold
    -- password hashes and second-factor secrets); cleared when the job ends.
    body        text,
    -- What the job did so far (internal/export.Report), and why it failed.
    report      jsonb NOT NULL DEFAULT '{}'::jsonb,
    error       text NOT NULL DEFAULT '',
    attempts    integer NOT NULL DEFAULT 0,
    lease_until timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    started_at  timestamptz,
    finished_at timestamptz,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX import_jobs_pending ON import_jobs (created_at) WHERE status IN ('queued', 'running');

-- +goose Down
DROP TABLE import_jobs;
