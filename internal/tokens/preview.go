package tokens

import (
	"time"

	"github.com/hallpass/hallpass/tenants"
)

// Placeholders of the claims only a real issue knows: the sealed session
// id and the token's random id.
const (
	PreviewSID = "<sealed session id>"
	PreviewJTI = "<random token id>"
)

// PreviewAccess returns the claims an access token issued for userID at now
// would carry (the same claims Issue signs), with sid and jti as
// placeholders: what the console's settings preview shows. Nothing is
// signed, sealed or recorded.
func PreviewAccess(t *tenants.Tenant, issuer string, userID int64, now time.Time) Claims {
	s := &Strategy{Now: func() time.Time { return now }}
	return s.claims(t, issuer, userID, PreviewSID, UseAccess, PreviewJTI, t.Settings.JWTAccessTokenExpiresIn)
}
