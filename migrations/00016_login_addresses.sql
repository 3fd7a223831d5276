-- Where each tenant user signed in from (issue 16 item 11). Once a user's
-- consecutive wrong passwords reach the lock threshold, a password login is
-- accepted only from an address of a recent successful sign-in, so that
-- anyone who knows the account's address can no longer lock its owner out.
-- A row is kept per address (an IPv4 address, or the /64 network of an
-- IPv6 one) and refreshed by every sign-in from it; the user's ten newest
-- are kept, and only those of the last 90 days count.

-- +goose Up
CREATE TABLE user_login_addresses (
    tenant_id     uuid NOT NULL,
    user_id       bigint NOT NULL,
    address       text NOT NULL,
    last_login_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id, address),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE user_login_addresses;
