-- Consecutive failed password logins per user (NIST SP 800-63B: at most 100
-- before the account is locked); a successful login or password reset
-- resets the count.

-- +goose Up
ALTER TABLE users ADD COLUMN failed_logins integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE users DROP COLUMN failed_logins;
