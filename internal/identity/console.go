package identity

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// ErrVerificationByCode means the tenant verifies addresses by code
// (ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED): a code belongs to the
// session of the user who asked for it, so nobody else can send one.
var ErrVerificationByCode = errors.New("email verification is by code, bound to the user's own session")

// SendVerification queues a verification mail for one of a user's
// addresses on an operator's behalf (the management console), outside any
// session of the user: the signed link of link mode, to the tenant's
// account_confirm_email frontend URL made absolute with baseURL (the
// tenant's API base URL). It refuses an address that is not the user's
// (ErrUserNotFound), one already verified (ErrConflict), a tenant that
// verifies by code (ErrVerificationByCode), and a resend within the
// confirm_email cooldown (ErrRateLimited), as allauth's own resend does.
func (a *Addresses) SendVerification(ctx context.Context, t *tenants.Tenant, userID, emailID int64, baseURL string) error {
	e, err := a.Store.EmailAddress(ctx, t.ID, emailID)
	if err != nil {
		return err
	}
	if e.UserID != userID {
		return ErrUserNotFound
	}
	if e.Verified {
		return ErrConflict
	}
	if t.Settings.EmailVerificationByCodeEnabled {
		return ErrVerificationByCode
	}
	return pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		// Link mode leaves the session alone; a throwaway one satisfies the
		// shared code path.
		return a.sendVerification(ctx, tx, t, &sessions.Session{TenantID: t.ID}, e, Request{BaseURL: baseURL})
	})
}
