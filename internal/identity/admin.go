package identity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/address"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/pgtext"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// UserAdmin is what an operator — a console user, a management API client
// — reads of and does to a tenant's users: list and search them, read one
// with its sessions, disable, enable or delete them, end their sessions,
// reset their second factors, send a verification mail. Every change
// records its audit event, with the operator as actor, and makes itself
// seen by the user's next request on every node (their sessions end, or
// the cached summaries of the user drop from Redis and from each node's
// local cache) before it returns. Callers run no SQL of their own on the
// users, sessions and addresses tables.
//
// Every read and change is filtered by tenant: a user id of another tenant
// is ErrUserNotFound.
type UserAdmin struct {
	accounts *Accounts
	pool     *pgxpool.Pool
	// removeAuthenticators deletes a user's second factors within a
	// transaction (internal/mfa.RemoveAll); nil: MFA is not installed.
	removeAuthenticators AuthenticatorRemover
}

// AuthenticatorRemover deletes every second factor of a tenant user within
// tx and returns how many went; internal/mfa.RemoveAll is one. It records
// no event: ResetMFA records the reset.
type AuthenticatorRemover func(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, userID int64) (int, error)

// NewUserAdmin returns the operator's operations over the account services
// a (its user store, sessions and mail); remove resets second factors
// (nil: ResetMFA refuses).
func NewUserAdmin(a *Accounts, remove AuthenticatorRemover) *UserAdmin {
	return &UserAdmin{accounts: a, pool: a.Store.Pool(), removeAuthenticators: remove}
}

// UserSummary is one line of an operator's users list.
type UserSummary struct {
	ID       int64
	Username string
	// Email is the primary address (else the oldest); Verified its state.
	Email    string
	Verified bool
	Active   bool
	Joined   time.Time
	Last     *time.Time
	// Sessions counts the user's live sessions.
	Sessions int
}

// likePattern makes a case-insensitive substring pattern for LIKE (the
// search in address.CaseKey form: NFC, lowered along 1:1 case pairs, as
// stored addresses and username keys are, never full case folding), with
// LIKE's wildcards in the search taken literally.
func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(address.CaseKey(q)) + "%"
}

// List returns up to limit of a tenant's users, newest first, older than
// the user id before (0: from the newest); q, when set, keeps the users
// whose username or any address contains it, case-insensitively.
func (a *UserAdmin) List(ctx context.Context, tenantID uuid.UUID, q string, before int64, limit int) ([]UserSummary, error) {
	q = strings.TrimSpace(q)
	rows, err := a.pool.Query(ctx, `SELECT u.id, coalesce(u.username, ''), u.is_active, u.date_joined, u.last_login,
			coalesce(e.email, ''), coalesce(e.verified, false)
		FROM users u
		LEFT JOIN LATERAL (SELECT a.email, a.verified FROM email_addresses a WHERE a.tenant_id = u.tenant_id AND a.user_id = u.id
			ORDER BY a.is_primary DESC, a.created_at, a.id LIMIT 1) e ON true
		WHERE u.tenant_id = $1 AND ($2::bigint = 0 OR u.id < $2)
			AND ($3::text = '' OR u.username_folded LIKE $4 OR EXISTS (SELECT 1 FROM email_addresses a
				WHERE a.tenant_id = u.tenant_id AND a.user_id = u.id AND (a.email LIKE $4 OR a.email_folded LIKE $4)))
		ORDER BY u.id DESC LIMIT $5`, tenantID, before, q, likePattern(q), limit)
	if err != nil {
		return nil, fmt.Errorf("identity: list users: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (UserSummary, error) {
		var u UserSummary
		err := r.Scan(&u.ID, &u.Username, &u.Active, &u.Joined, &u.Last, &u.Email, &u.Verified)
		return u, err
	})
	if err != nil {
		return nil, fmt.Errorf("identity: list users: %w", err)
	}
	ids := make([]int64, len(list))
	for i, u := range list {
		ids[i] = u.ID
	}
	live, err := a.accounts.Sessions.CountLive(ctx, tenantID, ids)
	if err != nil {
		return nil, err
	}
	for i := range list {
		list[i].Sessions = live[list[i].ID]
	}
	return list, nil
}

// Count returns how many users a tenant has.
func (a *UserAdmin) Count(ctx context.Context, tenantID uuid.UUID) (int, error) {
	var n int
	if err := a.pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE tenant_id = $1`, tenantID).Scan(&n); err != nil {
		return 0, fmt.Errorf("identity: count users: %w", err)
	}
	return n, nil
}

// User returns one of a tenant's users; ErrUserNotFound if none.
func (a *UserAdmin) User(ctx context.Context, tenantID uuid.UUID, userID int64) (*User, error) {
	return a.accounts.Store.User(ctx, tenantID, userID)
}

// Addresses lists a user's email addresses (primary first).
func (a *UserAdmin) Addresses(ctx context.Context, tenantID uuid.UUID, userID int64) ([]EmailAddress, error) {
	return a.accounts.Store.EmailAddresses(ctx, tenantID, userID)
}

// Address returns one of a tenant's email addresses by id;
// ErrUserNotFound if none.
func (a *UserAdmin) Address(ctx context.Context, tenantID uuid.UUID, emailID int64) (*EmailAddress, error) {
	return a.accounts.Store.EmailAddress(ctx, tenantID, emailID)
}

// Sessions lists a user's live sessions, most recently used first.
func (a *UserAdmin) Sessions(ctx context.Context, tenantID uuid.UUID, userID int64) ([]sessions.Live, error) {
	return a.accounts.Sessions.ListLive(ctx, tenantID, userID)
}

// Label is how the audit trail and an operator name a user: the primary
// address, else the username, else "user <id>".
func (u UserSummary) Label() string { return label(u.ID, u.Email, u.Username) }

func label(id int64, email, username string) string {
	switch {
	case email != "":
		return email
	case username != "":
		return username
	}
	return "user " + strconv.FormatInt(id, 10)
}

// adminEvent is the audit event of an operator's action on user u.
func adminEvent(tenantID uuid.UUID, by audit.Actor, u *User, action string, details map[string]any) audit.Event {
	d := map[string]any{"user_id": u.ID}
	for k, v := range details {
		d[k] = v
	}
	return audit.Event{TenantID: tenantID, Actor: by.Name, Action: action, Target: pgtext.Clean(label(u.ID, u.PrimaryEmail, u.Username), 254),
		IP: by.IP, Details: d}
}

// Disable stops a user signing in (allauth's is_active) and ends every
// session they have, so their session tokens, access tokens and refresh
// tokens stop working at the next request on every node. changed is false
// when the user was disabled already; the sessions end anyway (a retry
// after a failure finishes the job), and only a change is audited
// (user.disable).
func (a *UserAdmin) Disable(ctx context.Context, by audit.Actor, tenantID uuid.UUID, userID int64) (changed bool, err error) {
	u, err := a.User(ctx, tenantID, userID)
	if err != nil {
		return false, err
	}
	if changed, err = a.setActive(ctx, tenantID, u, false, adminEvent(tenantID, by, u, "user.disable", nil), events.UserDisabled); err != nil {
		return false, err
	}
	if err := a.accounts.Sessions.EndUserSessions(ctx, tenantID, userID, nil); err != nil {
		return changed, err
	}
	return changed, nil
}

// Enable lets a disabled user sign in again (audited as user.enable when
// it changes anything); cached summaries of the user drop.
func (a *UserAdmin) Enable(ctx context.Context, by audit.Actor, tenantID uuid.UUID, userID int64) (changed bool, err error) {
	u, err := a.User(ctx, tenantID, userID)
	if err != nil {
		return false, err
	}
	if changed, err = a.setActive(ctx, tenantID, u, true, adminEvent(tenantID, by, u, "user.enable", nil), events.UserEnabled); err != nil {
		return false, err
	}
	if changed {
		// Best effort, as every user change: the row has committed.
		_ = a.accounts.Sessions.UserChanged(ctx, tenantID, userID)
	}
	return changed, nil
}

// setActive sets a user's active flag, audited and recorded as event typ
// in the same transaction; changed is false when the user already was in
// that state (nothing is recorded).
func (a *UserAdmin) setActive(ctx context.Context, tenantID uuid.UUID, u *User, active bool, ev audit.Event, typ string) (changed bool, err error) {
	t, err := a.accounts.tenant(ctx, tenantID)
	if err != nil {
		return false, err
	}
	err = pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET is_active = $3 WHERE tenant_id = $1 AND id = $2 AND is_active <> $3`, tenantID, u.ID, active)
		if err != nil {
			return fmt.Errorf("identity: set active: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		changed = true
		if err := audit.Record(ctx, tx, ev); err != nil {
			return err
		}
		return a.accounts.emit(ctx, tx, t, u.ID, typ, nil)
	})
	return changed, err
}

// Delete removes a user with everything that hangs off it (addresses,
// sessions, refresh tokens, second factors, connected accounts: the
// foreign keys cascade), audited (user.delete) in the same transaction.
// The sessions end first, so that no node serves one from a cache the
// cascade does not reach.
func (a *UserAdmin) Delete(ctx context.Context, by audit.Actor, tenantID uuid.UUID, userID int64) error {
	u, err := a.User(ctx, tenantID, userID)
	if err != nil {
		return err
	}
	t, err := a.accounts.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	if err := a.accounts.Sessions.EndUserSessions(ctx, tenantID, userID, nil); err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		// user.deleted carries the user as they were.
		var was json.RawMessage
		if a.accounts.Events != nil {
			var err error
			if was, _, err = a.accounts.userObject(ctx, tx, t, userID); err != nil {
				return err
			}
		}
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE tenant_id = $1 AND id = $2`, tenantID, userID)
		if err != nil {
			return fmt.Errorf("identity: delete user: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrUserNotFound
		}
		if err := audit.Record(ctx, tx, adminEvent(tenantID, by, u, "user.delete", nil)); err != nil {
			return err
		}
		return a.accounts.emitUser(ctx, tx, tenantID, was, events.UserDeleted, nil)
	})
}

// ErrNoMFA means second factors cannot be reset: MFA is not installed
// (NewUserAdmin got no AuthenticatorRemover).
var ErrNoMFA = errors.New("identity: MFA is not installed")

// ResetMFA removes every second factor of a user (a lost device), audited
// (user.mfa.reset, with how many went) in the same transaction, and ends
// their sessions: they sign in with their password (and any verification)
// alone and set MFA up again. It returns how many authenticators went.
func (a *UserAdmin) ResetMFA(ctx context.Context, by audit.Actor, tenantID uuid.UUID, userID int64) (int, error) {
	if a.removeAuthenticators == nil {
		return 0, ErrNoMFA
	}
	u, err := a.User(ctx, tenantID, userID)
	if err != nil {
		return 0, err
	}
	removed := 0
	err = pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		var err error
		if removed, err = a.removeAuthenticators(ctx, tx, tenantID, userID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, adminEvent(tenantID, by, u, "user.mfa.reset", map[string]any{"authenticators_removed": removed}))
	})
	if err != nil {
		return 0, err
	}
	return removed, a.accounts.Sessions.EndUserSessions(ctx, tenantID, userID, nil)
}

// EndSessions signs a user out everywhere (user.sessions.end, with how
// many live sessions ended) and returns that number.
func (a *UserAdmin) EndSessions(ctx context.Context, by audit.Actor, tenantID uuid.UUID, userID int64) (int, error) {
	u, err := a.User(ctx, tenantID, userID)
	if err != nil {
		return 0, err
	}
	live, err := a.Sessions(ctx, tenantID, userID)
	if err != nil {
		return 0, err
	}
	t, err := a.accounts.tenant(ctx, tenantID)
	if err != nil {
		return 0, err
	}
	if err := a.accounts.Sessions.EndUserSessionsWith(ctx, tenantID, userID, nil, a.accounts.sessionEnded(t, endedByAdmin)); err != nil {
		return 0, err
	}
	return len(live), audit.Record(ctx, a.pool, adminEvent(tenantID, by, u, "user.sessions.end", map[string]any{"sessions": len(live)}))
}

// EndSession ends one of a user's sessions, named by its public id
// (sessions.Live.ID), audited as user.session.end; a session that is not
// the user's is sessions.ErrNotFound.
func (a *UserAdmin) EndSession(ctx context.Context, by audit.Actor, tenantID uuid.UUID, userID, sessionID int64) error {
	u, err := a.User(ctx, tenantID, userID)
	if err != nil {
		return err
	}
	t, err := a.accounts.tenant(ctx, tenantID)
	if err != nil {
		return err
	}
	if err := a.accounts.Sessions.EndOne(ctx, tenantID, userID, sessionID, a.accounts.sessionEnded(t, endedByAdmin)); err != nil {
		return err
	}
	return audit.Record(ctx, a.pool, adminEvent(tenantID, by, u, "user.session.end", map[string]any{"session_id": sessionID}))
}

// SendVerification mails a new verification link for one of a user's
// unverified addresses (Accounts.SendVerification says what it refuses),
// audited as user.email.verification_sent with the address as target.
func (a *UserAdmin) SendVerification(ctx context.Context, by audit.Actor, t *tenants.Tenant, userID, emailID int64, baseURL string) error {
	u, err := a.User(ctx, t.ID, userID)
	if err != nil {
		return err
	}
	e, err := a.accounts.Store.EmailAddress(ctx, t.ID, emailID)
	if err != nil {
		return err
	}
	if e.UserID != userID {
		return ErrUserNotFound
	}
	if err := a.accounts.Addresses.SendVerification(ctx, t, userID, emailID, baseURL); err != nil {
		return err
	}
	ev := adminEvent(t.ID, by, u, "user.email.verification_sent", map[string]any{"email_id": emailID})
	ev.Target = pgtext.Clean(e.Email, 254)
	return audit.Record(ctx, a.pool, ev)
}
