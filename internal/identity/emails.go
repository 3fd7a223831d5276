package identity

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// Emails lists the logged-in user's addresses.
func (a *Addresses) Emails(ctx context.Context, t *tenants.Tenant, sess *sessions.Session) ([]EmailAddress, error) {
	if !sess.Authenticated() {
		return nil, ErrNotAuthenticated
	}
	return a.Store.EmailAddresses(ctx, t.ID, sess.State.UserID)
}

func findEmail(addrs []EmailAddress, email string) *EmailAddress {
	for i := range addrs {
		if sameEmail(addrs[i].Email, email) {
			return &addrs[i]
		}
	}
	return nil
}

// manageEmail applies what every address change needs: a logged-in user,
// recent authentication when ACCOUNT_REAUTHENTICATION_REQUIRED, the
// manage_email rate limit, and a valid address.
func (a *Addresses) manageEmail(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, raw string, req Request, reauth bool) (string, []EmailAddress, error) {
	if !sess.Authenticated() {
		return "", nil, ErrNotAuthenticated
	}
	if reauth && t.Settings.ReauthenticationRequired && !a.sessionOps.RecentlyAuthenticated(t, sess) {
		return "", nil, ErrReauthenticationRequired
	}
	if err := a.sessionOps.Limit(ctx, t, "manage_email", req, sess, ""); err != nil {
		return "", nil, err
	}
	email, e := NormalizeEmail("email", raw, t.Settings.EmailMaxLength)
	addrs, err := a.Store.EmailAddresses(ctx, t.ID, sess.State.UserID)
	if err != nil {
		return "", nil, err
	}
	if e != nil {
		// An address stored before the current rules (one migration 00013
		// found invalid, such as old@ſtrasse.de) stays its holder's to
		// remove, by its exact stored text.
		if i := slices.IndexFunc(addrs, func(x EmailAddress) bool { return x.Email == strings.TrimSpace(raw) }); i >= 0 {
			return addrs[i].Email, addrs, nil
		}
		return "", nil, Errors{e}
	}
	return email, addrs, nil
}

// AddEmail answers POST account/email for a logged-in user: the address is
// added unverified and a verification is sent. With ACCOUNT_CHANGE_EMAIL it
// replaces the current address once verified.
func (a *Addresses) AddEmail(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, raw string, req Request) error {
	email, addrs, err := a.manageEmail(ctx, t, sess, raw, req, true)
	if err != nil {
		return err
	}
	s := t.Settings
	if findEmail(addrs, email) != nil {
		return Errors{NewError("email", "duplicate_email")}
	}
	if s.UniqueEmail && !s.PreventEnumeration {
		if taken, err := a.Store.EmailTaken(ctx, t.ID, email); err != nil {
			return err
		} else if taken {
			return Errors{NewError("email", "email_taken")}
		}
	}
	limit := s.MaxEmailAddresses
	if s.ChangeEmail {
		limit = 2 // the current address and the one replacing it
	}
	pending := 0
	for _, e := range addrs {
		if s.ChangeEmail && !e.Primary {
			pending++ // a change in progress is replaced by this one
		}
	}
	if limit > 0 && len(addrs)-pending >= limit {
		return Errors{NewError("email", "max_email_addresses", limit)}
	}
	user, err := a.Store.User(ctx, t.ID, sess.State.UserID)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		if err := lockEmail(ctx, tx, t.ID, email); err != nil {
			return err
		}
		if s.ChangeEmail {
			// A change in progress is replaced: its address goes.
			rows, err := tx.Query(ctx, `DELETE FROM email_addresses WHERE tenant_id = $1 AND user_id = $2 AND NOT is_primary
				RETURNING email, verified`, t.ID, user.ID)
			if err != nil {
				return err
			}
			gone, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EmailAddress, error) {
				var e EmailAddress
				err := r.Scan(&e.Email, &e.Verified)
				return e, err
			})
			if err != nil {
				return err
			}
			for i := range gone {
				if err := a.emit(ctx, tx, t, user.ID, events.EmailRemoved, map[string]any{"email": emailData(&gone[i])}); err != nil {
					return err
				}
			}
		}
		e := &EmailAddress{UserID: user.ID, Email: email, Primary: user.PrimaryEmail == ""}
		if err := tx.QueryRow(ctx, `INSERT INTO email_addresses (tenant_id, user_id, email, email_folded, is_primary) VALUES ($1, $2, $3, $4, $5)
			RETURNING id`, t.ID, user.ID, email, emailKey(email), e.Primary).Scan(&e.ID); err != nil {
			return err
		}
		if err := a.record(ctx, tx, userEvent(t.ID, user.ID, req.IP, EventEmailAdd, email, map[string]any{"primary": e.Primary})); err != nil {
			return err
		}
		if err := a.emit(ctx, tx, t, user.ID, events.EmailAdded, map[string]any{"email": emailData(e)}); err != nil {
			return err
		}
		if err := a.sendVerification(ctx, tx, t, sess, e, req); err != nil && !errors.Is(err, ErrRateLimited) {
			return err
		}
		return a.pw.notify(ctx, tx, t, user, MailEmailAdded)
	})
	if err == nil {
		a.Store.userChanged(ctx, t.ID, user.ID)
	}
	return err
}

// ChangePendingEmail answers an anonymous POST account/email: during a
// signup's code verification, the address being verified may be corrected
// (ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_CHANGE times); a new code goes to it.
func (a *Addresses) ChangePendingEmail(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, raw string, req Request) ([]EmailAddress, error) {
	stage := a.pipeline.PendingStage(t, sess)
	p := sess.State.EmailCode
	s := t.Settings
	if stage == nil || stage.Stage != StageVerifyEmail || p == nil || !s.EmailVerificationByCodeEnabled ||
		sess.State.EmailChanges >= s.EmailVerificationMaxChangeCount {
		return nil, ErrConflict
	}
	email, e := NormalizeEmail("email", raw, s.EmailMaxLength)
	if e != nil {
		return nil, Errors{e}
	}
	if sameEmail(email, p.Email) {
		return nil, Errors{NewError("email", "same_as_current")}
	}
	if s.UniqueEmail && !s.PreventEnumeration {
		if taken, err := a.Store.EmailTaken(ctx, t.ID, email); err != nil {
			return nil, err
		} else if taken {
			return nil, Errors{NewError("email", "email_taken")}
		}
	}
	// The allowance is counted atomically (processCount): parallel changes
	// send no more codes than it allows.
	changes, err := a.processCount(ctx, t.ID, p, countChanges)
	if err != nil {
		return nil, err
	}
	if changes > s.EmailVerificationMaxChangeCount {
		return nil, ErrConflict
	}
	if p.UserID == 0 {
		sess.State.EmailChanges = changes
		p.Email = email // the decoy changes along, sending nothing
		sess.Changed()
		return []EmailAddress{{Email: email}}, nil
	}
	addr := &EmailAddress{ID: p.EmailID, UserID: p.UserID, Email: email, Primary: true}
	err = pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		if err := lockEmail(ctx, tx, t.ID, email); err != nil {
			return err
		}
		var was EmailAddress
		if err := tx.QueryRow(ctx, `SELECT email, verified, is_primary FROM email_addresses WHERE tenant_id = $1 AND id = $2 FOR UPDATE`,
			t.ID, p.EmailID).Scan(&was.Email, &was.Verified, &was.Primary); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE email_addresses SET email = $3, email_folded = $4, verified = false WHERE tenant_id = $1 AND id = $2`,
			t.ID, p.EmailID, email, emailKey(email)); err != nil {
			return err
		}
		// The signup's address was corrected: one went, another came.
		if err := a.emit(ctx, tx, t, p.UserID, events.EmailRemoved, map[string]any{"email": emailData(&was)}); err != nil {
			return err
		}
		if err := a.emit(ctx, tx, t, p.UserID, events.EmailAdded, map[string]any{"email": emailData(addr)}); err != nil {
			return err
		}
		return a.sendVerification(ctx, tx, t, sess, addr, req)
	})
	if errors.Is(err, ErrRateLimited) {
		// Nothing changed: the change is not spent.
		if gerr := a.giveBack(ctx, t.ID, p, countChanges); gerr != nil {
			return nil, gerr
		}
	}
	if err != nil {
		return nil, err
	}
	sess.State.EmailChanges = changes
	// The same process with a new code (allauth's change_to keeps its
	// state): its attempts and resends do not grow back.
	if err := a.keepCounts(ctx, t.ID, p, sess.State.EmailCode); err != nil {
		return nil, err
	}
	a.Store.userChanged(ctx, t.ID, p.UserID)
	sess.State.Login.Email = email
	return a.Store.EmailAddresses(ctx, t.ID, p.UserID)
}

// ResendEmailVerification answers PUT account/email: ErrNotSent (403) when
// the address is verified already or within the cooldown.
func (a *Addresses) ResendEmailVerification(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, raw string, req Request) error {
	email, addrs, err := a.manageEmail(ctx, t, sess, raw, req, false)
	if err != nil {
		return err
	}
	e := findEmail(addrs, email)
	if e == nil {
		return Errors{NewError("email", "unknown_email")}
	}
	if e.Verified {
		return ErrNotSent
	}
	err = pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		return a.sendVerification(ctx, tx, t, sess, e, req)
	})
	if errors.Is(err, ErrRateLimited) {
		return ErrNotSent
	}
	return err
}

// MarkPrimaryEmail answers PATCH account/email.
func (a *Addresses) MarkPrimaryEmail(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, raw string, req Request) error {
	email, addrs, err := a.manageEmail(ctx, t, sess, raw, req, true)
	if err != nil {
		return err
	}
	e := findEmail(addrs, email)
	if e == nil {
		return Errors{NewError("email", "unknown_email")}
	}
	if !e.Verified && t.Settings.EmailVerification != tenants.EmailVerificationNone {
		return Errors{NewError("email", "unverified_primary_email")}
	}
	user, err := a.Store.User(ctx, t.ID, sess.State.UserID)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE email_addresses SET is_primary = false WHERE tenant_id = $1 AND user_id = $2 AND is_primary`, t.ID, user.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE email_addresses SET is_primary = true WHERE tenant_id = $1 AND id = $2`, t.ID, e.ID); err != nil {
			return err
		}
		if err := a.record(ctx, tx, userEvent(t.ID, user.ID, req.IP, EventEmailPrimary, e.Email, map[string]any{"previous": user.PrimaryEmail})); err != nil {
			return err
		}
		now := *e
		now.Primary = true
		if err := a.emit(ctx, tx, t, user.ID, events.EmailPrimaryChanged, map[string]any{"email": emailData(&now), "previous": user.PrimaryEmail}); err != nil {
			return err
		}
		user.PrimaryEmail = e.Email
		return a.pw.notify(ctx, tx, t, user, MailEmailChanged)
	})
	if err == nil {
		a.Store.userChanged(ctx, t.ID, user.ID)
	}
	return err
}

// DeleteEmail answers DELETE account/email.
func (a *Addresses) DeleteEmail(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, raw string, req Request) error {
	email, addrs, err := a.manageEmail(ctx, t, sess, raw, req, true)
	if err != nil {
		return err
	}
	e := findEmail(addrs, email)
	if e == nil {
		return Errors{NewError("email", "unknown_email")}
	}
	if e.Primary {
		return Errors{NewError("email", "cannot_remove_primary_email")}
	}
	user, err := a.Store.User(ctx, t.ID, sess.State.UserID)
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM email_addresses WHERE tenant_id = $1 AND id = $2`, t.ID, e.ID); err != nil {
			return err
		}
		if err := a.record(ctx, tx, userEvent(t.ID, user.ID, req.IP, EventEmailRemove, e.Email, map[string]any{"verified": e.Verified})); err != nil {
			return err
		}
		if err := a.emit(ctx, tx, t, user.ID, events.EmailRemoved, map[string]any{"email": emailData(e)}); err != nil {
			return err
		}
		notice := *user
		notice.PrimaryEmail = e.Email // tell the removed address itself
		return a.pw.notify(ctx, tx, t, &notice, MailEmailDeleted)
	})
	if err == nil {
		a.Store.userChanged(ctx, t.ID, user.ID)
	}
	return err
}
