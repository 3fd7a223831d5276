package social

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Imported social accounts (issue #22, internal/portable): a batch's
// accounts are copied into a temporary table of the writer's transaction
// and written set-based, in the statements below.

// ImportAccount is one connected account of an imported user.
type ImportAccount struct {
	// Index is the user's position in the batch.
	Index int
	// UserID is the user's id when the tenant holds them already, else 0.
	UserID        int64
	Provider, UID string
	// ExtraData is a JSON object (no NUL in its strings).
	ExtraData             []byte
	LastLogin, DateJoined *time.Time
}

// StageImport copies accounts into a temporary table of tx and returns
// the indexes whose account is another user's (of the tenant, or of an
// earlier user of the batch), with why.
func StageImport(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, accounts []ImportAccount) (map[int]string, error) {
	if _, err := tx.Exec(ctx, `DROP TABLE IF EXISTS import_socials`); err != nil {
		return nil, fmt.Errorf("social: stage accounts: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE import_socials (
		idx integer NOT NULL, user_id bigint, provider text NOT NULL, uid text NOT NULL,
		extra_data jsonb NOT NULL, last_login timestamptz, date_joined timestamptz
	) ON COMMIT DROP`); err != nil {
		return nil, fmt.Errorf("social: stage accounts: %w", err)
	}
	i := 0
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_socials"},
		[]string{"idx", "user_id", "provider", "uid", "extra_data", "last_login", "date_joined"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(accounts) {
				return nil, nil
			}
			a := &accounts[i]
			i++
			var uid *int64
			if a.UserID != 0 {
				uid = &a.UserID
			}
			extra := string(a.ExtraData)
			if extra == "" {
				extra = "{}"
			}
			return []any{a.Index, uid, a.Provider, a.UID, extra, a.LastLogin, a.DateJoined}, nil
		})); err != nil {
		return nil, fmt.Errorf("social: copy accounts: %w", err)
	}
	if _, err := tx.Exec(ctx, `ANALYZE import_socials`); err != nil {
		return nil, fmt.Errorf("social: analyze staged: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT i.idx, i.provider || ' account ' || i.uid || ' belongs to another user of the tenant'
		FROM import_socials i JOIN social_accounts s ON s.tenant_id = $1 AND s.provider = i.provider AND s.uid = i.uid
		WHERE s.user_id IS DISTINCT FROM i.user_id
	UNION ALL
	SELECT idx, provider || ' account ' || uid || ' also belongs to an earlier user of the import'
		FROM (SELECT idx, provider, uid, dense_rank() OVER (PARTITION BY provider, uid ORDER BY idx) AS n
			FROM import_socials) d WHERE n > 1`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("social: find conflicts: %w", err)
	}
	defer rows.Close()
	out := map[int]string{}
	for rows.Next() {
		var idx int
		var reason string
		if err := rows.Scan(&idx, &reason); err != nil {
			return nil, fmt.Errorf("social: find conflicts: %w", err)
		}
		if _, ok := out[idx]; !ok {
			out[idx] = reason
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("social: find conflicts: %w", err)
	}
	return out, nil
}

// WriteImport writes the staged accounts of the written users (ids: batch
// index to user id; the others' are dropped) and removes the accounts of
// the updated users (ids of users the tenant held before) that the batch
// no longer lists. It returns how many accounts it wrote.
func WriteImport(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, ids map[int]int64, updated []int64) (int, error) {
	idx := make([]int32, 0, len(ids))
	uids := make([]int64, 0, len(ids))
	for i, id := range ids {
		idx, uids = append(idx, int32(i)), append(uids, id)
	}
	if _, err := tx.Exec(ctx, `UPDATE import_socials i SET user_id = w.user_id
		FROM unnest($1::integer[], $2::bigint[]) AS w (idx, user_id) WHERE i.idx = w.idx`, idx, uids); err != nil {
		return 0, fmt.Errorf("social: number accounts: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM import_socials WHERE idx <> ALL($1::integer[])`, idx); err != nil {
		return 0, fmt.Errorf("social: drop skipped: %w", err)
	}
	if len(updated) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM social_accounts s WHERE s.tenant_id = $1 AND s.user_id = ANY($2)
			AND NOT EXISTS (SELECT 1 FROM import_socials i WHERE i.user_id = s.user_id AND i.provider = s.provider AND i.uid = s.uid)`,
			tenantID, updated); err != nil {
			return 0, fmt.Errorf("social: drop old accounts: %w", err)
		}
	}
	tag, err := tx.Exec(ctx, `INSERT INTO social_accounts (tenant_id, user_id, provider, uid, extra_data, created_at, last_login)
		SELECT $1, user_id, provider, uid, extra_data, coalesce(date_joined, clock_timestamp()), coalesce(last_login, now())
		FROM import_socials
		ON CONFLICT (tenant_id, provider, uid) DO UPDATE SET user_id = excluded.user_id, extra_data = excluded.extra_data,
			created_at = excluded.created_at, last_login = excluded.last_login`, tenantID)
	if err != nil {
		return 0, fmt.Errorf("social: write accounts: %w", err)
	}
	return int(tag.RowsAffected()), nil
}
