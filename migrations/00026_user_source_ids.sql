-- Imported users keep their id in the system they came from (issue #22):
-- `hallpass import django` and `hallpass import hallpass` find a user they
-- wrote before by it, so importing again updates instead of duplicating.
-- NULL for users who signed up in Hallpass.

-- +goose Up
ALTER TABLE users ADD COLUMN source_id text CHECK (source_id IS NULL OR (source_id <> '' AND length(source_id) <= 255));
CREATE UNIQUE INDEX users_source_id ON users (tenant_id, source_id) WHERE source_id IS NOT NULL;

-- +goose Down
DROP INDEX users_source_id;
ALTER TABLE users DROP COLUMN source_id;
