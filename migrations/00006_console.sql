-- Console sign-in sessions (see console/sessions.go).
--
-- The cookie holds a random 256-bit token; only its SHA-256 is stored, so a
-- copy of this table signs nobody in. A session ends when it has been idle
-- longer than the console's idle timeout (last_seen_at), at expires_at (the
-- absolute limit), on sign-out, or when its user signs out everywhere.

-- +goose Up
CREATE TABLE console_sessions (
    token_hash   bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    user_id      uuid NOT NULL REFERENCES console_users (id) ON DELETE CASCADE,
    -- The per-session secret every console form carries back (CSRF).
    csrf_token   text NOT NULL,
    ip           text NOT NULL DEFAULT '',
    user_agent   text NOT NULL DEFAULT '',
    -- A message to show on the next page, then cleared (post/redirect/get).
    flash        jsonb,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL
);
-- "Sign out everywhere", and pruning a user's ended sessions.
CREATE INDEX console_sessions_user ON console_sessions (user_id);

-- +goose Down
DROP TABLE console_sessions;
