package identity

import (
	"context"
	"net/http"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/failure"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// ErrReauthenticationRequired means the operation needs a recent
// authentication first (allauth's 401 with is_authenticated true).
var ErrReauthenticationRequired = failure.NewSentinel(http.StatusUnauthorized, "reauthentication_required", "reauthentication required")

// ErrNotAuthenticated means the operation needs a logged-in user (allauth
// answers 401 with the flows; a provider callback reports permission_denied).
var ErrNotAuthenticated = failure.NewSentinel(http.StatusUnauthorized, "permission_denied", "not authenticated")

// RecentlyAuthenticated reports whether the session's newest authentication
// record is within ACCOUNT_REAUTHENTICATION_TIMEOUT.
func (a *SessionOps) RecentlyAuthenticated(t *tenants.Tenant, sess *sessions.Session) bool {
	newest := 0.0
	for _, m := range sess.State.Methods {
		newest = max(newest, m.At)
	}
	if newest == 0 {
		// A session that logged in without any record (a signup, an email
		// verification) counts from its creation, as Django's login time.
		newest = epoch(sess.CreatedAt)
	}
	return epoch(a.now())-newest <= float64(t.Settings.ReauthenticationTimeout)
}

// RequireRecent returns ErrReauthenticationRequired unless the session
// authenticated recently.
func (a *SessionOps) RequireRecent(t *tenants.Tenant, sess *sessions.Session) error {
	if !sess.Authenticated() {
		return ErrNotAuthenticated
	}
	if !a.RecentlyAuthenticated(t, sess) {
		return ErrReauthenticationRequired
	}
	return nil
}

// Reauthenticate confirms the logged-in user's password and records it.
func (a *Passwords) Reauthenticate(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, password string) error {
	if !sess.Authenticated() {
		return ErrNotAuthenticated
	}
	if password == "" {
		return Errors{NewError("password", "required")}
	}
	user, err := a.Store.User(ctx, t.ID, sess.State.UserID)
	if err != nil {
		return err
	}
	ok, _, err := a.Hasher.Verify(user.PasswordHash, password)
	if err != nil || !ok {
		return Errors{NewError("password", "incorrect_password")}
	}
	sess.State.Methods = append(sess.State.Methods, sessions.AuthRecord{Method: "password", At: epoch(a.now()), Reauthenticated: true})
	sess.Changed()
	return nil
}

// ChangePassword changes (or, for a user without one, sets) the password.
// Other sessions of the user end, as Django's session auth hash makes them;
// with ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE this one ends too.
func (a *Passwords) ChangePassword(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, current, next string, hasCurrent bool) error {
	if !sess.Authenticated() {
		return ErrNotAuthenticated
	}
	user, err := a.Store.User(ctx, t.ID, sess.State.UserID)
	if err != nil {
		return err
	}
	var errs Errors
	if user.HasUsablePassword() {
		if !hasCurrent || current == "" {
			errs = append(errs, NewError("current_password", "required"))
		} else if ok, _, err := a.Hasher.Verify(user.PasswordHash, current); err != nil || !ok {
			errs = append(errs, NewError("current_password", "enter_current_password"))
		}
	}
	if next == "" {
		errs = append(errs, NewError("new_password", "required"))
	} else {
		errs = append(errs, a.validateNewPassword(ctx, t, "new_password", next)...)
		if len(errs) == 0 && user.HasUsablePassword() {
			if same, _, _ := a.Hasher.Verify(user.PasswordHash, next); same {
				errs = append(errs, NewError("new_password", "same_as_current"))
			}
		}
	}
	if len(errs) > 0 {
		return errs
	}
	hash, err := a.Hasher.Hash(next)
	if err != nil {
		return err
	}
	kind, event := MailPasswordChanged, EventPasswordChange
	if !user.HasUsablePassword() {
		kind, event = MailPasswordSet, EventPasswordSet
	}
	err = pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE users SET password_hash = $3 WHERE tenant_id = $1 AND id = $2`, t.ID, user.ID, hash); err != nil {
			return err
		}
		if err := a.record(ctx, tx, userEvent(t.ID, user.ID, sess.IP, event, userLabel(user), map[string]any{"client": sess.Client})); err != nil {
			return err
		}
		how := "change"
		if event == EventPasswordSet {
			how = "set"
		}
		if err := a.emit(ctx, tx, t, user.ID, events.PasswordChanged, map[string]any{"kind": how}); err != nil {
			return err
		}
		return a.notify(ctx, tx, t, user, kind)
	})
	if err != nil {
		return err
	}
	if err := a.Sessions.EndUserSessions(ctx, t.ID, user.ID, sess.ID()); err != nil {
		return err
	}
	if t.Settings.LogoutOnPasswordChange {
		return a.Sessions.Logout(ctx, sess)
	}
	return nil
}

// notify queues a security notice when ACCOUNT_EMAIL_NOTIFICATIONS is on.
func (a *Passwords) notify(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, user *User, kind string) error {
	if !t.Settings.EmailNotifications || user.PrimaryEmail == "" {
		return nil
	}
	return a.Mail.Queue(ctx, tx, t, kind, user.PrimaryEmail, MailData{Email: user.PrimaryEmail})
}

// Security notice kinds (ACCOUNT_EMAIL_NOTIFICATIONS).
const (
	MailPasswordChanged = "password_changed"
	MailPasswordSet     = "password_set"
	MailPasswordReset   = "password_reset"
	MailEmailChanged    = "email_changed"
	MailEmailDeleted    = "email_deleted"
	MailEmailConfirmed  = "email_confirmed"
	MailEmailAdded      = "email_added"
	MailNewLogin        = "new_login"
)
