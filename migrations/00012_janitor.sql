-- +goose Up
-- The janitor (internal/identity/janitor.go) deletes expired sessions and
-- long-expired refresh tokens in batches. Both are written in roughly
-- increasing expiry order, so a BRIN index finds the old rows for almost
-- nothing per insert (a refresh rotation inserts a token; a B-tree here
-- would cost every rotation one more index insertion).
CREATE INDEX sessions_expires_brin ON sessions USING brin (expires_at);
CREATE INDEX refresh_tokens_expires_brin ON refresh_tokens USING brin (expires_at);

-- +goose Down
DROP INDEX refresh_tokens_expires_brin;
DROP INDEX sessions_expires_brin;
