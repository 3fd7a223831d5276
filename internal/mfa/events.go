package mfa

import (
	"context"
	"strconv"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/audit"
)

// Audit actions of changes to a user's authenticators, recorded in the
// transaction of the change. Events name the authenticator (type and id),
// never its secret, codes or credential.
const (
	EventAuthenticatorAdd        = "mfa.authenticator.add"
	EventAuthenticatorRemove     = "mfa.authenticator.remove"
	EventRecoveryCodesRegenerate = "mfa.recovery_codes.regenerate"
)

// record writes the audit event of action on authenticator a, by its owner.
// The store does not know the request, so the event carries no address;
// the owner's sign-in events around it do.
func record(ctx context.Context, x audit.Execer, tenantID uuid.UUID, action string, a *Authenticator) error {
	return audit.Record(ctx, x, audit.Event{TenantID: tenantID, Actor: "user:" + strconv.FormatInt(a.UserID, 10), Action: action,
		Target:  a.Type + " " + strconv.FormatInt(a.ID, 10),
		Details: map[string]any{"user_id": a.UserID, "type": a.Type, "authenticator_id": a.ID}})
}
