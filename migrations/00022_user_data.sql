-- Tenant-defined user data (issue #19): besides profile (the tenant's
-- declared fields, HALLPASS_USER_FIELDS), every user has public_metadata
-- (readable by the user and the frontend, written only by the tenant's
-- backend) and private_metadata (backend only, never in a headless
-- response). Each is a JSON object of at most 8 KB as compact JSON; the
-- application checks that bound exactly, these checks are a backstop (jsonb's
-- text form adds a space after each separator, hence the margin).

-- +goose Up
ALTER TABLE users
    ADD COLUMN public_metadata  jsonb NOT NULL DEFAULT '{}'::jsonb,
    ADD COLUMN private_metadata jsonb NOT NULL DEFAULT '{}'::jsonb;
ALTER TABLE users
    ADD CONSTRAINT users_profile_object CHECK (jsonb_typeof(profile) = 'object' AND octet_length(profile::text) <= 16384) NOT VALID,
    ADD CONSTRAINT users_public_metadata_object CHECK (jsonb_typeof(public_metadata) = 'object' AND octet_length(public_metadata::text) <= 16384),
    ADD CONSTRAINT users_private_metadata_object CHECK (jsonb_typeof(private_metadata) = 'object' AND octet_length(private_metadata::text) <= 16384);

-- +goose Down
ALTER TABLE users
    DROP CONSTRAINT users_profile_object,
    DROP CONSTRAINT users_public_metadata_object,
    DROP CONSTRAINT users_private_metadata_object,
    DROP COLUMN public_metadata,
    DROP COLUMN private_metadata;
