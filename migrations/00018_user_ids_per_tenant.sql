-- Each tenant numbers its own users from 1 (issue #16, item 10).
--
-- users.id was one identity sequence across all tenants, so a tenant's users
-- saw the whole platform's signups in their own ids (2, 16, ...). Now a
-- tenant's next id comes from its row here, bumped by next_user_id in one
-- statement. Like the sequence it replaces, it is taken outside the
-- signup's transaction (identity.Store.NextUserID): no lock is held while
-- the signup runs, and a signup that fails leaves a gap, as before.
--
-- Existing users keep their ids; each tenant's counter starts after its
-- highest id. (tenant_id, id) stays the key every table that points at a
-- user uses, so ids now repeat across tenants and nothing changes for them.

-- +goose Up
CREATE TABLE user_id_counters (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    -- The last id handed out (0: none yet).
    last_id   bigint NOT NULL CHECK (last_id >= 0)
);

INSERT INTO user_id_counters (tenant_id, last_id)
SELECT tenant_id, max(id) FROM users GROUP BY tenant_id;

-- Not GENERATED any more: ids are given by the application.
ALTER TABLE users ALTER COLUMN id DROP IDENTITY;

-- The next user id of a tenant. Called on its own (autocommit), it locks
-- the tenant's counter row for one statement only.
-- +goose StatementBegin
CREATE FUNCTION next_user_id(tenant uuid) RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    INSERT INTO user_id_counters AS c (tenant_id, last_id) VALUES (tenant, 1)
    ON CONFLICT (tenant_id) DO UPDATE SET last_id = c.last_id + 1
    RETURNING last_id
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION next_user_id(uuid);
-- Back to one sequence, starting after the highest id of any tenant (ids
-- repeated across tenants stay as they are: the key is (tenant_id, id)).
ALTER TABLE users ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('users', 'id'), coalesce((SELECT max(id) FROM users), 0) + 1, false);
DROP TABLE user_id_counters;
