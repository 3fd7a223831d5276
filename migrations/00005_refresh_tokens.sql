-- Refresh tokens of the JWT strategy. The token itself is a signed JWT;
-- this table holds its jti, so a token can be spent once, and its family,
-- so presenting a spent token revokes every token descended from the same
-- login together with the session.

-- +goose Up
CREATE TABLE refresh_tokens (
    tenant_id  uuid NOT NULL,
    jti        uuid NOT NULL,
    session_id bytea NOT NULL,
    family     uuid NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    spent_at   timestamptz,
    PRIMARY KEY (tenant_id, jti),
    -- Logging out (deleting the session) kills every refresh token of it.
    FOREIGN KEY (tenant_id, session_id) REFERENCES sessions (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (tenant_id, family);
CREATE INDEX refresh_tokens_session ON refresh_tokens (tenant_id, session_id);

-- +goose Down
DROP TABLE refresh_tokens;
