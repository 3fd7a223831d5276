package mfa

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/seal"
)

// ExportedAuthenticator is a tenant user's authenticator as a tenant export
// carries it: Data is the opened payload in Hallpass's own form
// (portable.Authenticator documents it), without the replay digests of
// recent WebAuthn ceremonies (they expire within minutes).
type ExportedAuthenticator struct {
	Type       string
	Data       json.RawMessage
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// ExportAuthenticators reads and opens the authenticators of some users of
// a tenant for an export (q: the export's snapshot transaction), by user,
// each user's by type, then creation.
func ExportAuthenticators(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, sealer *seal.Sealer, tenantID uuid.UUID, userIDs []int64) (map[int64][]ExportedAuthenticator, error) {
	rows, err := q.Query(ctx, `SELECT `+columns+` FROM authenticators
		WHERE tenant_id = $1 AND user_id = ANY($2) ORDER BY user_id, type, created_at, id`, tenantID, userIDs)
	if err != nil {
		return nil, fmt.Errorf("mfa: export authenticators: %w", err)
	}
	defer rows.Close()
	r := &authenticatorRows{sealer: sealer}
	out := map[int64][]ExportedAuthenticator{}
	for rows.Next() {
		a, err := r.scan(tenantID, rows, true)
		if err != nil {
			return nil, err
		}
		var payload any
		switch a.Type {
		case TypeTOTP:
			payload = a.totp
		case TypeRecoveryCodes:
			payload = a.rc
		case TypeWebAuthn:
			wa := *a.wa
			wa.Seen = nil
			payload = &wa
		}
		data, err := json.Marshal(payload)
		if err != nil {
			return nil, fmt.Errorf("mfa: export authenticator %d: %w", a.ID, err)
		}
		out[a.UserID] = append(out[a.UserID], ExportedAuthenticator{Type: a.Type, Data: data, CreatedAt: a.CreatedAt, LastUsedAt: a.LastUsedAt})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mfa: export authenticators: %w", err)
	}
	return out, nil
}
