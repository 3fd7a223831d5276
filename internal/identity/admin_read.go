package identity

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// sqlAccountView reads a user ($1 tenant, $2 id) with their documents
// (profile, public and private metadata), their addresses (as
// parallel arrays, in sqlUserAddresses' order) and the distinct types of
// their second factors (sorted: allauth's order, recovery_codes, totp,
// webauthn, is alphabetical) in one statement. The authenticators table is
// internal/mfa's; this is a read it grants (internal/archtest).
const sqlAccountView = `SELECT ` + userColumns + `,
	coalesce(ea.ids, '{}'), coalesce(ea.emails, '{}'), coalesce(ea.verified, '{}'), coalesce(ea.is_primary, '{}'),
	ARRAY(SELECT DISTINCT a.type FROM authenticators a WHERE a.tenant_id = u.tenant_id AND a.user_id = u.id ORDER BY a.type),
	u.profile, u.public_metadata, u.private_metadata
	FROM users u
	LEFT JOIN LATERAL (SELECT array_agg(e.id ORDER BY e.is_primary DESC, e.created_at, e.id) AS ids,
		array_agg(e.email ORDER BY e.is_primary DESC, e.created_at, e.id) AS emails,
		array_agg(e.verified ORDER BY e.is_primary DESC, e.created_at, e.id) AS verified,
		array_agg(e.is_primary ORDER BY e.is_primary DESC, e.created_at, e.id) AS is_primary
		FROM email_addresses e WHERE e.tenant_id = u.tenant_id AND e.user_id = u.id) ea ON true
	WHERE u.tenant_id = $1 AND u.id = $2`

// AccountView returns what Account returns and the types of the user's
// second factors (as mfa.Store.Types orders them), in one round trip and
// one statement: the management API's get-user. ErrUserNotFound if the
// tenant has no such user.
func (a *UserAdmin) AccountView(ctx context.Context, tenantID uuid.UUID, userID int64) (*Account, []string, error) {
	var u User
	var ids []int64
	var emails []string
	var verified, primary []bool
	var types []string
	var d UserData
	err := a.pool.QueryRow(ctx, sqlAccountView, tenantID, userID).Scan(&u.ID, &u.Username, &u.PasswordHash, &u.IsActive,
		&u.DateJoined, &u.LastLogin, &u.FailedLogins, &u.PrimaryEmail, &ids, &emails, &verified, &primary, &types,
		&d.Profile, &d.PublicMetadata, &d.PrivateMetadata)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, ErrUserNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("identity: account view: %w", err)
	}
	if len(emails) != len(ids) || len(verified) != len(ids) || len(primary) != len(ids) {
		return nil, nil, errors.New("identity: account view: address columns of different lengths")
	}
	d.fill()
	acc := &Account{User: u, Emails: make([]EmailAddress, len(ids)), Data: d}
	for i := range ids {
		acc.Emails[i] = EmailAddress{ID: ids[i], UserID: u.ID, Email: emails[i], Verified: verified[i], Primary: primary[i]}
	}
	if types == nil {
		types = []string{}
	}
	return acc, types, nil
}
