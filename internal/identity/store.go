package identity

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/internal/sessions"
)

// ErrUserNotFound is returned when no user matches.
var ErrUserNotFound = errors.New("user not found")

// Store reads and writes users and email addresses; every query is scoped
// by tenant id.
type Store struct {
	pool *pgxpool.Pool
	// sessions, when set, is told of changes to a user (see
	// sessions.Store.UserChanged).
	sessions *sessions.Store
}

// NewStore returns the user store.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// withSessions makes the store drop cached session entries of users it changes.
func (s *Store) withSessions(sessions *sessions.Store) *Store {
	s.sessions = sessions
	return s
}

// userChanged tells the session cache that a user changed (best effort:
// the change has committed).
func (s *Store) userChanged(ctx context.Context, tenantID uuid.UUID, userID int64) {
	if s.sessions != nil {
		_ = s.sessions.UserChanged(ctx, tenantID, userID)
	}
}

// Pool exposes the pool for callers that need a transaction spanning stores
// (a signup and the mail it queues).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

const userColumns = `u.id, coalesce(u.username, ''), u.password_hash, u.is_active, u.date_joined, u.last_login, u.failed_logins,
	coalesce((SELECT e.email FROM email_addresses e WHERE e.tenant_id = u.tenant_id AND e.user_id = u.id AND e.is_primary), '')`

func scanUser(row pgx.Row) (*User, error) { return scanUserWith(row, false) }

// scanUserWith reads userColumns and, with matched, the address a lookup by
// address matched (User.MatchedEmail).
func scanUserWith(row pgx.Row, matched bool) (*User, error) {
	var u User
	dest := []any{&u.ID, &u.Username, &u.PasswordHash, &u.IsActive, &u.DateJoined, &u.LastLogin, &u.FailedLogins, &u.PrimaryEmail}
	if matched {
		dest = append(dest, &u.MatchedEmail)
	}
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, ErrUserNotFound
		}
		return nil, fmt.Errorf("identity: scan user: %w", err)
	}
	return &u, nil
}

// User loads a user by id.
func (s *Store) User(ctx context.Context, tenantID uuid.UUID, id int64) (*User, error) {
	return scanUser(s.pool.QueryRow(ctx, sqlUserByID, tenantID, id))
}

// UserByUsername loads a user by username, compared by UsernameKey.
func (s *Store) UserByUsername(ctx context.Context, tenantID uuid.UUID, username string) (*User, error) {
	return scanUser(s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users u WHERE u.tenant_id = $1 AND u.username_folded = $2`,
		tenantID, usernameKey(username)))
}

// UsersByEmail returns the users holding an address (compared by
// EmailKey), those with it verified first (allauth's prefer_verified). Each
// user's MatchedEmail is the address as that user stored it: mail about the
// account goes there, never to the string that was looked up.
func (s *Store) UsersByEmail(ctx context.Context, tenantID uuid.UUID, email string) ([]*User, error) {
	rows, err := s.pool.Query(ctx, sqlUsersByEmail, tenantID, emailKey(email))
	if err != nil {
		return nil, fmt.Errorf("identity: users by email: %w", err)
	}
	defer rows.Close()
	var out []*User
	for rows.Next() {
		u, err := scanUserWith(rows, true)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// EmailAddresses lists a user's addresses, primary first.
func (s *Store) EmailAddresses(ctx context.Context, tenantID uuid.UUID, userID int64) ([]EmailAddress, error) {
	rows, err := s.pool.Query(ctx, sqlUserAddresses, tenantID, userID)
	if err != nil {
		return nil, fmt.Errorf("identity: email addresses: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (EmailAddress, error) {
		var e EmailAddress
		err := r.Scan(&e.ID, &e.UserID, &e.Email, &e.Verified, &e.Primary)
		return e, err
	})
}

// EmailAddress loads one address by id.
func (s *Store) EmailAddress(ctx context.Context, tenantID uuid.UUID, id int64) (*EmailAddress, error) {
	var e EmailAddress
	err := s.pool.QueryRow(ctx, `SELECT id, user_id, email, verified, is_primary FROM email_addresses
		WHERE tenant_id = $1 AND id = $2`, tenantID, id).Scan(&e.ID, &e.UserID, &e.Email, &e.Verified, &e.Primary)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrUserNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("identity: email address: %w", err)
	}
	return &e, nil
}

// lockEmail serialises work on one address within a tenant until tx ends,
// so two signups cannot both find an address free.
func lockEmail(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, email string) error {
	h := fnv.New64a()
	_, _ = h.Write([]byte(tenantID.String() + "\x00" + emailKey(email)))
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(h.Sum64()))
	return err
}

// emailTaken reports whether another user than exclude holds the address.
func emailTaken(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, tenantID uuid.UUID, email string, exclude int64) (bool, error) {
	var taken bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM email_addresses WHERE tenant_id = $1 AND email_folded = $2 AND user_id <> $3)`,
		tenantID, emailKey(email), exclude).Scan(&taken)
	return taken, err
}

// EmailTaken reports whether any user holds the address.
func (s *Store) EmailTaken(ctx context.Context, tenantID uuid.UUID, email string) (bool, error) {
	return emailTaken(ctx, s.pool, tenantID, email, 0)
}

// usernameTaken reports whether a username is in use.
func usernameTaken(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, tenantID uuid.UUID, username string) (bool, error) {
	var taken bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE tenant_id = $1 AND username_folded = $2)`,
		tenantID, usernameKey(username)).Scan(&taken)
	return taken, err
}

// NewUser is what signup stores.
type NewUser struct {
	// ID is the user's id, from NextUserID; 0 takes the next one within the
	// inserting transaction (which then holds the tenant's counter until it
	// ends: fine for tools and tests, not for signups).
	ID           int64
	Username     string
	PasswordHash string
	Email        string // "" for none
	// Inactive creates the user disabled (an operator's import).
	Inactive bool
	// Profile is the user's declared fields (HALLPASS_USER_FIELDS), already
	// validated; nil for none.
	Profile map[string]any
}

// NextUserID takes the next user id of a tenant: each tenant numbers its
// users from 1, so no tenant learns how many users the platform or any other
// tenant has. Like a sequence, it is called before (outside) the transaction
// that creates the user, so concurrent signups of a tenant wait for one
// short statement, never for each other's transactions; a signup that fails
// after it leaves a gap.
func (s *Store) NextUserID(ctx context.Context, tenantID uuid.UUID) (int64, error) {
	var id int64
	if err := s.pool.QueryRow(ctx, `SELECT next_user_id($1)`, tenantID).Scan(&id); err != nil {
		return 0, fmt.Errorf("identity: next user id: %w", err)
	}
	return id, nil
}

// insertUser creates a user (and its primary, unverified address) in tx.
func insertUser(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, n NewUser) (*User, *EmailAddress, error) {
	u := &User{Username: n.Username, PasswordHash: n.PasswordHash, IsActive: !n.Inactive, PrimaryEmail: n.Email}
	var username, folded any
	if n.Username != "" {
		username, folded = n.Username, usernameKey(n.Username)
	}
	var id any
	if n.ID != 0 {
		id = n.ID
	}
	var profile any // NULL: the column's default, {}
	if len(n.Profile) > 0 {
		profile = n.Profile
	}
	err := tx.QueryRow(ctx, `INSERT INTO users (tenant_id, id, username, username_folded, password_hash, is_active, profile)
		VALUES ($1, coalesce($5::bigint, next_user_id($1)), $2, $3, $4, $6, coalesce($7::jsonb, '{}'::jsonb))
		RETURNING id, date_joined`, tenantID, username, folded, n.PasswordHash, id, !n.Inactive, profile).Scan(&u.ID, &u.DateJoined)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return nil, nil, NewError("username", "username_taken")
		}
		return nil, nil, fmt.Errorf("identity: insert user: %w", err)
	}
	if n.Email == "" {
		return u, nil, nil
	}
	e := &EmailAddress{UserID: u.ID, Email: n.Email, Primary: true}
	err = tx.QueryRow(ctx, `INSERT INTO email_addresses (tenant_id, user_id, email, email_folded, is_primary) VALUES ($1, $2, $3, $4, true)
		RETURNING id`, tenantID, u.ID, n.Email, emailKey(n.Email)).Scan(&e.ID)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: insert email: %w", err)
	}
	return u, e, nil
}

// SetPasswordHash replaces a user's password hash (re-hash on login).
func (s *Store) SetPasswordHash(ctx context.Context, tenantID uuid.UUID, userID int64, hash string) error {
	_, err := s.pool.Exec(ctx, `UPDATE users SET password_hash = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, userID, hash)
	if err != nil {
		return fmt.Errorf("identity: set password: %w", err)
	}
	s.userChanged(ctx, tenantID, userID)
	return nil
}

// TouchLastLogin records a completed login.
func (s *Store) TouchLastLogin(ctx context.Context, tenantID uuid.UUID, userID int64) error {
	_, err := s.pool.Exec(ctx, sqlTouchLastLogin, tenantID, userID)
	return err
}

// SetActive activates or deactivates a user. The user's sessions stay (a
// deactivated user's next authenticated request ends its session, as
// allauth does), but their cached summaries are dropped.
func (s *Store) SetActive(ctx context.Context, tenantID uuid.UUID, userID int64, active bool) error {
	_, err := s.pool.Exec(ctx, `UPDATE users SET is_active = $3 WHERE tenant_id = $1 AND id = $2`, tenantID, userID, active)
	if err != nil {
		return err
	}
	s.userChanged(ctx, tenantID, userID)
	return nil
}

// markVerified sets an address verified; it becomes primary if the user
// has no primary address. Returns false when another user already holds the
// address verified (allauth's can_set_verified) under UNIQUE_EMAIL.
func markVerified(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, e *EmailAddress, unique bool) (bool, error) {
	if err := lockEmail(ctx, tx, tenantID, e.Email); err != nil {
		return false, err
	}
	if unique {
		var conflict bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM email_addresses WHERE tenant_id = $1 AND email_folded = $2
			AND user_id <> $3 AND verified)`, tenantID, emailKey(e.Email), e.UserID).Scan(&conflict); err != nil {
			return false, err
		}
		if conflict {
			return false, nil
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE email_addresses SET verified = true,
		is_primary = is_primary OR NOT EXISTS (SELECT 1 FROM email_addresses p WHERE p.tenant_id = $1 AND p.user_id = $3 AND p.is_primary)
		WHERE tenant_id = $1 AND id = $2`, tenantID, e.ID, e.UserID); err != nil {
		return false, fmt.Errorf("identity: verify email: %w", err)
	}
	e.Verified = true
	return true, nil
}

// countFailure records a wrong password for a user and returns the user's
// consecutive failures, this one included. The count is changed in one
// statement, so parallel failures each see their own number (exactly one
// sees MaxConsecutiveFailures).
func (s *Store) countFailure(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, userID int64) (int, error) {
	var n int
	err := tx.QueryRow(ctx, `UPDATE users SET failed_logins = failed_logins + 1 WHERE tenant_id = $1 AND id = $2 RETURNING failed_logins`,
		tenantID, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("identity: count failed login: %w", err)
	}
	return n, nil
}

// The addresses a user signed in from (user_login_addresses): at most
// maxLoginAddresses per user, each counting for loginAddressAge after its
// newest sign-in.
const (
	maxLoginAddresses = "10"
	loginAddressAge   = "90 days"
)

// sqlRememberLoginAddress records a sign-in of user $2 from address $3 ($1 tenant).
const sqlRememberLoginAddress = `INSERT INTO user_login_addresses (tenant_id, user_id, address) VALUES ($1, $2, $3)
	ON CONFLICT (tenant_id, user_id, address) DO UPDATE SET last_login_at = now()`

// sqlForgetLoginAddresses keeps user $2's newest addresses of the period ($1 tenant).
const sqlForgetLoginAddresses = `DELETE FROM user_login_addresses d WHERE d.tenant_id = $1 AND d.user_id = $2
	AND (d.last_login_at < now() - interval '` + loginAddressAge + `' OR d.address IN (
		SELECT k.address FROM user_login_addresses k WHERE k.tenant_id = $1 AND k.user_id = $2
		ORDER BY k.last_login_at DESC OFFSET ` + maxLoginAddresses + `))`

// knownLoginAddress reports whether user signed in from ip's address
// (loginAddress) within the period.
func (s *Store) knownLoginAddress(ctx context.Context, tenantID uuid.UUID, userID int64, ip string) (bool, error) {
	addr := ratelimit.IPNetwork(ip)
	if addr == "" {
		return false, nil
	}
	var known bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM user_login_addresses WHERE tenant_id = $1 AND user_id = $2 AND address = $3
		AND last_login_at > now() - interval '`+loginAddressAge+`')`, tenantID, userID, addr).Scan(&known)
	if err != nil {
		return false, fmt.Errorf("identity: known login address: %w", err)
	}
	return known, nil
}

// resetFailures clears a user's consecutive failures.
func (s *Store) resetFailures(ctx context.Context, tenantID uuid.UUID, userID int64) error {
	_, err := s.pool.Exec(ctx, `UPDATE users SET failed_logins = 0 WHERE tenant_id = $1 AND id = $2`, tenantID, userID)
	return err
}

// The user reads of the hot paths, named for the plan checks (explain_test.go).
const (
	// sqlUserByID loads a user ($1 tenant, $2 id).
	sqlUserByID = `SELECT ` + userColumns + ` FROM users u WHERE u.tenant_id = $1 AND u.id = $2`
	// sqlUsersByEmail finds the users holding an address (a password login).
	sqlUsersByEmail = `SELECT ` + userColumns + `, a.email FROM users u JOIN email_addresses a
		ON a.tenant_id = u.tenant_id AND a.user_id = u.id
		WHERE u.tenant_id = $1 AND a.email_folded = $2 ORDER BY a.verified DESC, u.id`
)

// sqlUserAddresses lists a user's addresses, primary first ($1 tenant, $2 user).
const sqlUserAddresses = `SELECT id, user_id, email, verified, is_primary FROM email_addresses
	WHERE tenant_id = $1 AND user_id = $2 ORDER BY is_primary DESC, created_at, id`

// sqlTouchLastLogin records a completed login ($1 tenant, $2 user).
const sqlTouchLastLogin = `UPDATE users SET last_login = now() WHERE tenant_id = $1 AND id = $2`
