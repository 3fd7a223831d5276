package identity

import (
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/tenants"
)

// ConnectSocial connects a provider account to the logged-in user (process
// "connect"). It needs a recent authentication with
// ACCOUNT_REAUTHENTICATION_REQUIRED; an account connected to someone else
// is refused with connected_other.
func (a *SocialLogins) ConnectSocial(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, in sessions.SocialLogin) error {
	if !sess.Authenticated() {
		return ErrNotAuthenticated
	}
	if t.Settings.ReauthenticationRequired && !a.sessionOps.RecentlyAuthenticated(t, sess) {
		return ErrReauthenticationRequired
	}
	return pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		_, added, err := a.Social.Connect(ctx, tx, t.ID, sess.State.UserID, in.Provider, in.UID, in.Extra)
		if errors.Is(err, social.ErrConnectedOther) {
			return Errors{errConnectedOther}
		}
		if err != nil || !added {
			return err
		}
		if err := a.record(ctx, tx, userEvent(t.ID, sess.State.UserID, sess.IP, EventSocialConnect, "provider "+in.Provider,
			map[string]any{"provider": in.Provider, "uid": in.UID})); err != nil {
			return err
		}
		if err := a.emit(ctx, tx, t, sess.State.UserID, events.SocialConnected, socialData(in.Provider, in.UID)); err != nil {
			return err
		}
		return a.notifySocial(ctx, tx, t, sess.State.UserID, MailAccountConnected, in.Provider)
	})
}

// Provider notices (ACCOUNT_EMAIL_NOTIFICATIONS).
const (
	MailAccountConnected    = "account_connected"
	MailAccountDisconnected = "account_disconnected"
)

// notifySocial tells a user a provider account was connected or removed.
func (a *SocialLogins) notifySocial(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, userID int64, kind, provider string) error {
	if !t.Settings.EmailNotifications {
		return nil
	}
	user, err := a.Store.User(ctx, t.ID, userID)
	if err != nil || user.PrimaryEmail == "" {
		return err
	}
	return a.Mail.Queue(ctx, tx, t, kind, user.PrimaryEmail, MailData{Email: user.PrimaryEmail, Provider: providerName(provider, t.Settings)})
}

// SocialAccounts lists the logged-in user's connected provider accounts.
func (a *SocialLogins) SocialAccounts(ctx context.Context, t *tenants.Tenant, sess *sessions.Session) ([]social.Account, error) {
	if !sess.Authenticated() {
		return nil, ErrNotAuthenticated
	}
	return a.Social.ListForUser(ctx, t.ID, sess.State.UserID)
}

// DisconnectSocial removes one of the logged-in user's provider accounts,
// with allauth's checks: the account must be theirs (account_not_found);
// the last one cannot go under SOCIALACCOUNT_ONLY (disconnect_last), nor
// when the user has no password (no_password) or, with mandatory
// verification, no verified address (no_verified_email).
func (a *SocialLogins) DisconnectSocial(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, provider, uid string) error {
	accounts, err := a.SocialAccounts(ctx, t, sess)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(accounts, func(acc social.Account) bool { return acc.Provider == provider && acc.UID == uid })
	if i < 0 {
		return Errors{errAccountNotFound}
	}
	if len(accounts) == 1 {
		if t.Settings.SocialAccountOnly {
			return Errors{NewError("", "disconnect_last")}
		}
		user, err := a.Store.User(ctx, t.ID, sess.State.UserID)
		if err != nil {
			return err
		}
		if !user.HasUsablePassword() {
			return Errors{NewError("", "no_password")}
		}
		if t.Settings.EmailVerification == tenants.EmailVerificationMandatory {
			addrs, err := a.Store.EmailAddresses(ctx, t.ID, user.ID)
			if err != nil {
				return err
			}
			if !slices.ContainsFunc(addrs, func(e EmailAddress) bool { return e.Verified }) {
				return Errors{NewError("", "no_verified_email")}
			}
		}
	}
	if t.Settings.ReauthenticationRequired && !a.sessionOps.RecentlyAuthenticated(t, sess) {
		return ErrReauthenticationRequired
	}
	return pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		if err := a.Social.Disconnect(ctx, tx, t.ID, sess.State.UserID, provider, uid); err != nil {
			if errors.Is(err, social.ErrAccountNotFound) {
				return Errors{errAccountNotFound}
			}
			return err
		}
		if err := a.record(ctx, tx, userEvent(t.ID, sess.State.UserID, sess.IP, EventSocialDisconnect, "provider "+provider,
			map[string]any{"provider": provider, "uid": uid})); err != nil {
			return err
		}
		if err := a.emit(ctx, tx, t, sess.State.UserID, events.SocialDisconnected, socialData(provider, uid)); err != nil {
			return err
		}
		return a.notifySocial(ctx, tx, t, sess.State.UserID, MailAccountDisconnected, provider)
	})
}
