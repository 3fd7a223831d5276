package mfa

import (
	"context"
	"fmt"
	"strconv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/events"
)

// Audit actions of changes to a user's authenticators, recorded in the
// transaction of the change. Events name the authenticator (type and id),
// never its secret, codes or credential.
const (
	EventAuthenticatorAdd        = "mfa.authenticator.add"
	EventAuthenticatorRemove     = "mfa.authenticator.remove"
	EventRecoveryCodesRegenerate = "mfa.recovery_codes.regenerate"
)

// UserEvents appends an event (internal/events) about a user in the
// transaction of the change; identity.Accounts.UserEvent is one (it adds
// data.user). The store sets data's other keys.
type UserEvents func(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, userID int64, typ string, data map[string]any) error

// record writes the audit event of action on authenticator a, by its owner,
// and for an activation or a removal the tenant's event (mfa.enabled,
// mfa.disabled) when the store has UserEvents. The store does not know the
// request, so the audit event carries no address; the owner's sign-in
// events around it do.
func (s *Store) record(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, action string, a *Authenticator) error {
	if err := audit.Record(ctx, tx, audit.Event{TenantID: tenantID, Actor: "user:" + strconv.FormatInt(a.UserID, 10), Action: action,
		Target:  a.Type + " " + strconv.FormatInt(a.ID, 10),
		Details: map[string]any{"user_id": a.UserID, "type": a.Type, "authenticator_id": a.ID}}); err != nil {
		return err
	}
	typ := ""
	switch action {
	case EventAuthenticatorAdd:
		typ = events.MFAEnabled
	case EventAuthenticatorRemove:
		typ = events.MFADisabled
	}
	if typ == "" || s.Events == nil {
		return nil
	}
	return s.Events(ctx, tx, tenantID, a.UserID, typ, map[string]any{"authenticator": map[string]any{"id": a.ID, "type": a.Type}})
}

// RemoveAll is the package's RemoveAll with an mfa.disabled event per
// authenticator removed (identity.UserAdmin.ResetMFA records the reset
// itself in the audit trail).
func (s *Store) RemoveAll(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, userID int64) (int, error) {
	if s.Events == nil {
		return RemoveAll(ctx, tx, tenantID, userID)
	}
	if err := lockUser(ctx, tx, tenantID, userID); err != nil {
		return 0, err
	}
	rows, err := tx.Query(ctx, `DELETE FROM authenticators WHERE tenant_id = $1 AND user_id = $2 RETURNING id, type`, tenantID, userID)
	if err != nil {
		return 0, fmt.Errorf("mfa: remove all: %w", err)
	}
	removed, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Authenticator, error) {
		a := Authenticator{UserID: userID}
		err := r.Scan(&a.ID, &a.Type)
		return a, err
	})
	if err != nil {
		return 0, fmt.Errorf("mfa: remove all: %w", err)
	}
	for _, a := range removed {
		if err := s.Events(ctx, tx, tenantID, userID, events.MFADisabled,
			map[string]any{"authenticator": map[string]any{"id": a.ID, "type": a.Type}}); err != nil {
			return 0, err
		}
	}
	return len(removed), nil
}
