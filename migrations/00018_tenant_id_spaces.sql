-- Each tenant has its own id spaces (issue #16, item 10).
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

-- Session ids shown to users (GET auth/sessions, the console) came from one
-- sequence as well, so a user listing their sessions saw the platform's
-- login rate. Sessions are written by an upsert on every save, so a counter
-- row would be bumped on each; a random id in JavaScript's safe integer
-- range tells nothing and costs nothing (a collision within a tenant needs
-- some 10^7 live sessions to reach a one-in-a-billion chance per login, and
-- fails that login only). Existing sessions keep their ids.
ALTER TABLE sessions ALTER COLUMN public_id DROP IDENTITY;
ALTER TABLE sessions ALTER COLUMN public_id SET DEFAULT (floor(random() * 9007199254740990))::bigint + 1;

-- +goose Down
ALTER TABLE sessions ALTER COLUMN public_id DROP DEFAULT;
ALTER TABLE sessions ALTER COLUMN public_id ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('sessions', 'public_id'), 1 + coalesce((SELECT max(public_id) FROM sessions), 0), false);
DROP FUNCTION next_user_id(uuid);
-- Back to one sequence, starting after the highest id of any tenant (ids
-- repeated across tenants stay as they are: the key is (tenant_id, id)).
ALTER TABLE users ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('users', 'id'), coalesce((SELECT max(id) FROM users), 0) + 1, false);
DROP TABLE user_id_counters;
