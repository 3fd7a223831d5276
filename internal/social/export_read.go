package social

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// ExportedAccount is a connected account as a tenant export carries it.
type ExportedAccount struct {
	Provider, UID        string
	ExtraData            json.RawMessage
	CreatedAt, LastLogin time.Time
}

// ExportAccounts reads the accounts of some users of a tenant for an export
// (q: the export's snapshot transaction), by user, each user's in provider
// and uid order.
func ExportAccounts(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, tenantID uuid.UUID, userIDs []int64) (map[int64][]ExportedAccount, error) {
	rows, err := q.Query(ctx, `SELECT user_id, provider, uid, extra_data, created_at, last_login FROM social_accounts
		WHERE tenant_id = $1 AND user_id = ANY($2) ORDER BY user_id, provider, uid`, tenantID, userIDs)
	if err != nil {
		return nil, fmt.Errorf("social: export accounts: %w", err)
	}
	defer rows.Close()
	out := map[int64][]ExportedAccount{}
	for rows.Next() {
		var userID int64
		var a ExportedAccount
		var extra []byte
		if err := rows.Scan(&userID, &a.Provider, &a.UID, &extra, &a.CreatedAt, &a.LastLogin); err != nil {
			return nil, fmt.Errorf("social: export accounts: %w", err)
		}
		a.ExtraData = extra
		out[userID] = append(out[userID], a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("social: export accounts: %w", err)
	}
	return out, nil
}
