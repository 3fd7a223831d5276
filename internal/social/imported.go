package social

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Imported social accounts (issue #22, internal/portable): a batch's
// accounts are checked and written set-based, in the writer's transaction.

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

// StageImport returns the indexes whose account is another user's (of the
// tenant, or of an earlier user of the batch), with why. It passes the
// accounts' keys as arrays: one statement, no temporary table.
func StageImport(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, accounts []ImportAccount) (map[int]string, error) {
	out := map[int]string{}
	seen := map[[2]string]bool{}
	idx := make([]int32, len(accounts))
	providers := make([]string, len(accounts))
	uids := make([]string, len(accounts))
	owners := make([]*int64, len(accounts))
	for i := range accounts {
		a := &accounts[i]
		key := [2]string{a.Provider, a.UID}
		if seen[key] {
			if _, ok := out[a.Index]; !ok {
				out[a.Index] = a.Provider + " account " + a.UID + " also belongs to an earlier user of the import"
			}
		}
		seen[key] = true
		idx[i], providers[i], uids[i] = int32(a.Index), a.Provider, a.UID
		if a.UserID != 0 {
			owners[i] = &a.UserID
		}
	}
	if len(accounts) == 0 {
		return out, nil
	}
	rows, err := tx.Query(ctx, `SELECT k.idx, k.provider || ' account ' || k.uid || ' belongs to another user of the tenant'
		FROM unnest($2::integer[], $3::text[], $4::text[], $5::bigint[]) AS k (idx, provider, uid, user_id)
		JOIN social_accounts s ON s.tenant_id = $1 AND s.provider = k.provider AND s.uid = k.uid
		WHERE s.user_id IS DISTINCT FROM k.user_id`, tenantID, idx, providers, uids, owners)
	if err != nil {
		return nil, fmt.Errorf("social: find conflicts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var i int
		var reason string
		if err := rows.Scan(&i, &reason); err != nil {
			return nil, fmt.Errorf("social: find conflicts: %w", err)
		}
		if _, ok := out[i]; !ok {
			out[i] = reason
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("social: find conflicts: %w", err)
	}
	return out, nil
}

// WriteImport replaces the social accounts of the updated users (ids of
// users the tenant held before) with the batch's, and copies in the
// accounts of the written users (ids: batch index to user id; accounts of
// other indexes are left out). It returns how many accounts it wrote.
func WriteImport(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, accounts []ImportAccount, ids map[int]int64, updated []int64) (int, error) {
	if len(updated) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM social_accounts WHERE tenant_id = $1 AND user_id = ANY($2)`, tenantID, updated); err != nil {
			return 0, fmt.Errorf("social: drop old accounts: %w", err)
		}
	}
	now := time.Now()
	rows := make([][]any, 0, len(accounts))
	for i := range accounts {
		a := &accounts[i]
		id, ok := ids[a.Index]
		if !ok {
			continue
		}
		extra := string(a.ExtraData)
		if extra == "" {
			extra = "{}"
		}
		created, last := now, now
		if a.DateJoined != nil {
			created = *a.DateJoined
		}
		if a.LastLogin != nil {
			last = *a.LastLogin
		}
		rows = append(rows, []any{tenantID, id, a.Provider, a.UID, extra, created, last})
	}
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"social_accounts"},
		[]string{"tenant_id", "user_id", "provider", "uid", "extra_data", "created_at", "last_login"}, pgx.CopyFromRows(rows))
	if err != nil {
		return 0, fmt.Errorf("social: copy accounts: %w", err)
	}
	return int(n), nil
}
