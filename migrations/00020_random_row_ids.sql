-- Ids shown to a tenant's users and console admins tell nothing of the
-- platform (issue #16, item 10).
--
-- authenticators.id (a WebAuthn key's id in account/authenticators),
-- email_addresses.id and social_accounts.id (console URLs), audit_events.id
-- (the console's audit paging cursor) and console_authenticators.id (a
-- console user's passkey URLs) came from one sequence per table, shared by
-- every tenant and console user: anyone seeing two of their ids learnt how
-- many rows the whole platform had made in between. New rows get a random
-- id in JavaScript's safe integer range instead, as session public ids do
-- since 00018. None of these ids orders anything: lists are ordered by the
-- creation time with the id as a tie-break, so the timestamps that stood in
-- for the transaction's start (now()) now say when the row was written
-- (clock_timestamp()), and rows written in one transaction keep their
-- order. A random id takes no lock and holds no counter across a
-- transaction; a collision within a tenant (some 10^7 rows give it a
-- one-in-a-billion chance per insert) fails that one insert only.
--
-- Existing rows keep their ids, and their creation times order them as
-- their ids did.

-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION random_row_id() RETURNS bigint
LANGUAGE sql VOLATILE AS $$
    SELECT (floor(random() * 9007199254740990))::bigint + 1
$$;
-- +goose StatementEnd

ALTER TABLE authenticators ALTER COLUMN id DROP IDENTITY;
ALTER TABLE authenticators ALTER COLUMN id SET DEFAULT random_row_id();
ALTER TABLE authenticators ALTER COLUMN created_at SET DEFAULT clock_timestamp();

ALTER TABLE email_addresses ALTER COLUMN id DROP IDENTITY;
ALTER TABLE email_addresses ALTER COLUMN id SET DEFAULT random_row_id();
ALTER TABLE email_addresses ALTER COLUMN created_at SET DEFAULT clock_timestamp();

ALTER TABLE social_accounts ALTER COLUMN id DROP IDENTITY;
ALTER TABLE social_accounts ALTER COLUMN id SET DEFAULT random_row_id();
ALTER TABLE social_accounts ALTER COLUMN created_at SET DEFAULT clock_timestamp();

ALTER TABLE audit_events ALTER COLUMN id DROP IDENTITY;
ALTER TABLE audit_events ALTER COLUMN id SET DEFAULT random_row_id();
ALTER TABLE audit_events ALTER COLUMN at SET DEFAULT clock_timestamp();

ALTER TABLE console_authenticators ALTER COLUMN id DROP IDENTITY;
ALTER TABLE console_authenticators ALTER COLUMN id SET DEFAULT random_row_id();
ALTER TABLE console_authenticators ALTER COLUMN created_at SET DEFAULT clock_timestamp();

-- +goose Down
ALTER TABLE console_authenticators ALTER COLUMN created_at SET DEFAULT now();
ALTER TABLE console_authenticators ALTER COLUMN id DROP DEFAULT;
ALTER TABLE console_authenticators ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('console_authenticators', 'id'), coalesce((SELECT max(id) FROM console_authenticators), 0) + 1, false);

ALTER TABLE audit_events ALTER COLUMN at SET DEFAULT now();
ALTER TABLE audit_events ALTER COLUMN id DROP DEFAULT;
ALTER TABLE audit_events ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('audit_events', 'id'), coalesce((SELECT max(id) FROM audit_events), 0) + 1, false);

ALTER TABLE social_accounts ALTER COLUMN created_at SET DEFAULT now();
ALTER TABLE social_accounts ALTER COLUMN id DROP DEFAULT;
ALTER TABLE social_accounts ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('social_accounts', 'id'), coalesce((SELECT max(id) FROM social_accounts), 0) + 1, false);

ALTER TABLE email_addresses ALTER COLUMN created_at SET DEFAULT now();
ALTER TABLE email_addresses ALTER COLUMN id DROP DEFAULT;
ALTER TABLE email_addresses ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('email_addresses', 'id'), coalesce((SELECT max(id) FROM email_addresses), 0) + 1, false);

ALTER TABLE authenticators ALTER COLUMN created_at SET DEFAULT now();
ALTER TABLE authenticators ALTER COLUMN id DROP DEFAULT;
ALTER TABLE authenticators ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY;
SELECT setval(pg_get_serial_sequence('authenticators', 'id'), coalesce((SELECT max(id) FROM authenticators), 0) + 1, false);

DROP FUNCTION random_row_id();
