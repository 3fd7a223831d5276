package console

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/address"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/identity"
)

// tenantUsers reads and changes a tenant's own users (tables users,
// email_addresses, sessions, and authenticators and social_accounts where
// they exist) for the console, in plain SQL. Every query is filtered by
// tenant_id: a user id of another tenant is simply not found.
type tenantUsers struct {
	pool *pgxpool.Pool
}

// userRow is one line of the users list.
type userRow struct {
	ID       int64
	Username string
	// Email is the primary address (else the first one); Verified its state.
	Email    string
	Verified bool
	Active   bool
	Joined   time.Time
	Last     *time.Time
	Sessions int
}

// Label is how a user is named in lists and messages.
func (u userRow) Label() string { return userLabel(u.ID, u.Email, u.Username) }

func userLabel(id int64, email, username string) string {
	switch {
	case email != "":
		return email
	case username != "":
		return username
	}
	return fmt.Sprintf("user %d", id)
}

// likePattern makes a case-insensitive substring pattern for LIKE (the
// search in address.CaseKey form: NFC, lowered along 1:1 case pairs, as
// stored addresses and username keys are, never full case folding), with
// LIKE's wildcards in the search taken literally.
func likePattern(q string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(address.CaseKey(q)) + "%"
}

// list returns up to limit users, newest first, older than the user id
// before (0: from the newest); q, when set, keeps the users whose username
// or any address contains it, case-insensitively.
func (s *tenantUsers) list(ctx context.Context, tenantID uuid.UUID, q string, before int64, limit int) ([]userRow, error) {
	q = strings.TrimSpace(q)
	rows, err := s.pool.Query(ctx, `SELECT u.id, coalesce(u.username, ''), u.is_active, u.date_joined, u.last_login,
			coalesce(e.email, ''), coalesce(e.verified, false),
			(SELECT count(*) FROM sessions s WHERE s.tenant_id = u.tenant_id AND s.user_id = u.id AND s.expires_at > now())
		FROM users u
		LEFT JOIN LATERAL (SELECT a.email, a.verified FROM email_addresses a WHERE a.tenant_id = u.tenant_id AND a.user_id = u.id
			ORDER BY a.is_primary DESC, a.created_at, a.id LIMIT 1) e ON true
		WHERE u.tenant_id = $1 AND ($2::bigint = 0 OR u.id < $2)
			AND ($3::text = '' OR u.username_folded LIKE $4 OR EXISTS (SELECT 1 FROM email_addresses a
				WHERE a.tenant_id = u.tenant_id AND a.user_id = u.id AND (a.email LIKE $4 OR a.email_folded LIKE $4)))
		ORDER BY u.id DESC LIMIT $5`, tenantID, before, q, likePattern(q), limit)
	if err != nil {
		return nil, fmt.Errorf("console: users: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (userRow, error) {
		var u userRow
		err := r.Scan(&u.ID, &u.Username, &u.Active, &u.Joined, &u.Last, &u.Email, &u.Verified, &u.Sessions)
		return u, err
	})
}

// count returns how many users the tenant has.
func (s *tenantUsers) count(ctx context.Context, tenantID uuid.UUID) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE tenant_id = $1`, tenantID).Scan(&n)
	return n, err
}

// userSession is one of a user's live sessions.
type userSession struct {
	ID                           int64
	Client, IP, UserAgent        string
	CreatedAt, LastSeen, Expires time.Time
}

// sessions lists a user's live sessions, most recently used first.
func (s *tenantUsers) sessions(ctx context.Context, tenantID uuid.UUID, userID int64) ([]userSession, error) {
	rows, err := s.pool.Query(ctx, `SELECT public_id, client, ip, user_agent, created_at, last_seen_at, expires_at
		FROM sessions WHERE tenant_id = $1 AND user_id = $2 AND expires_at > now() ORDER BY last_seen_at DESC, public_id DESC`,
		tenantID, userID)
	if err != nil {
		return nil, fmt.Errorf("console: user sessions: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (userSession, error) {
		var us userSession
		err := r.Scan(&us.ID, &us.Client, &us.IP, &us.UserAgent, &us.CreatedAt, &us.LastSeen, &us.Expires)
		return us, err
	})
}

// authenticatorRow is one MFA authenticator (its secrets are not read).
type authenticatorRow struct {
	ID        int64
	Type      string
	CreatedAt time.Time
	LastUsed  *time.Time
}

// socialRow is one connected third-party account.
type socialRow struct {
	Provider, UID   string
	CreatedAt, Last time.Time
}

// tablesPresent reports which optional tables this database has (the MFA
// and social login migrations may not have run on it yet).
func (s *tenantUsers) tablesPresent(ctx context.Context) (authenticators, social bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT to_regclass('authenticators') IS NOT NULL, to_regclass('social_accounts') IS NOT NULL`).
		Scan(&authenticators, &social)
	return authenticators, social, err
}

func (s *tenantUsers) authenticators(ctx context.Context, tenantID uuid.UUID, userID int64) ([]authenticatorRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, type, created_at, last_used_at FROM authenticators
		WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at, id`, tenantID, userID)
	if err != nil {
		return nil, fmt.Errorf("console: authenticators: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (authenticatorRow, error) {
		var a authenticatorRow
		err := r.Scan(&a.ID, &a.Type, &a.CreatedAt, &a.LastUsed)
		return a, err
	})
}

func (s *tenantUsers) socialAccounts(ctx context.Context, tenantID uuid.UUID, userID int64) ([]socialRow, error) {
	rows, err := s.pool.Query(ctx, `SELECT provider, uid, created_at, last_login FROM social_accounts
		WHERE tenant_id = $1 AND user_id = $2 ORDER BY provider, uid`, tenantID, userID)
	if err != nil {
		return nil, fmt.Errorf("console: social accounts: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (socialRow, error) {
		var a socialRow
		err := r.Scan(&a.Provider, &a.UID, &a.CreatedAt, &a.Last)
		return a, err
	})
}

// setActive enables or disables a user, audited in the same transaction;
// changed is false when the user already was in that state.
func (s *tenantUsers) setActive(ctx context.Context, tenantID uuid.UUID, userID int64, active bool, ev audit.Event) (changed bool, err error) {
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE users SET is_active = $3 WHERE tenant_id = $1 AND id = $2 AND is_active <> $3`, tenantID, userID, active)
		if err != nil {
			return fmt.Errorf("console: set active: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return nil
		}
		changed = true
		return audit.Record(ctx, tx, ev)
	})
	return changed, err
}

// remove deletes a user with everything that hangs off it (addresses,
// sessions, refresh tokens, authenticators, social accounts: the foreign
// keys cascade), audited in the same transaction.
func (s *tenantUsers) remove(ctx context.Context, tenantID uuid.UUID, userID int64, ev audit.Event) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE tenant_id = $1 AND id = $2`, tenantID, userID)
		if err != nil {
			return fmt.Errorf("console: delete user: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return errNotFound
		}
		return audit.Record(ctx, tx, ev)
	})
}

// isUserGone reports the identity store's answer for a user id the tenant
// does not hold.
func isUserGone(err error) bool { return errors.Is(err, identity.ErrUserNotFound) }

// resetMFA removes all of a user's authenticators (TOTP, recovery codes,
// security keys and passkeys) and ends their sessions, audited in the same
// transaction; it returns how many authenticators went. Trusted-browser
// cookies die with them (they are bound to the user's authenticators).
func (s *tenantUsers) resetMFA(ctx context.Context, tenantID uuid.UUID, userID int64, ev audit.Event) (int, error) {
	removed := 0
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM authenticators WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID)
		if err != nil {
			return fmt.Errorf("console: reset mfa: %w", err)
		}
		removed = int(tag.RowsAffected())
		if ev.Details == nil {
			ev.Details = map[string]any{}
		}
		ev.Details["authenticators_removed"] = removed
		return audit.Record(ctx, tx, ev)
	})
	return removed, err
}
