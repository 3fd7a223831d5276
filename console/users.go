// Package console is the SaaS customers' and platform admins' management UI
// (templ pages and their handlers), and the console's own users and roles.
package console

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/text/unicode/norm"

	"github.com/hallpass/hallpass/internal/address"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/mfa"
)

// Role is what a customer user may do on one tenant.
type Role string

// The roles of a membership, weakest first. Platform admins hold no
// membership: they may do everything on every tenant.
const (
	RoleViewer Role = "viewer" // sees everything, changes nothing
	RoleAdmin  Role = "admin"  // changes settings, keys and users
	RoleOwner  Role = "owner"  // also deletes the tenant and manages members
)

// rank orders roles; 0 is "no role".
func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleAdmin:
		return 2
	case RoleOwner:
		return 3
	}
	return 0
}

// ErrInvalidRole is returned for a role that is not owner, admin or viewer.
var ErrInvalidRole = errors.New("role must be owner, admin or viewer")

// Membership is a customer user's role on one tenant.
type Membership struct {
	TenantID uuid.UUID
	Role     Role
}

// Member is a console user holding a role on a tenant.
type Member struct {
	User
	Role Role
}

// ErrUserExists is returned when a console user with the email exists.
var ErrUserExists = errors.New("a console user with this email already exists")

// ErrInvalidEmail is returned for an address that cannot be a console login.
var ErrInvalidEmail = errors.New("invalid email address")

// User is a person who signs in to the console.
type User struct {
	ID              uuid.UUID
	Email           string
	IsPlatformAdmin bool
}

// Users stores console users and their tenant memberships.
type Users struct {
	pool *pgxpool.Pool
}

// NewUsers returns the console user store.
func NewUsers(pool *pgxpool.Pool) *Users { return &Users{pool: pool} }

// NormalizeEmail validates an address and returns it trimmed and NFC, with
// its comparison key used for uniqueness and lookups (address.EmailKey, as
// for tenant users: case-insensitive, never full case folding, IDNA domains
// as A-labels; invalid UTF-8 and control characters refused).
func NormalizeEmail(email string) (display, folded string, err error) {
	e := strings.TrimSpace(email)
	if !address.ValidText(e) {
		return "", "", fmt.Errorf("%w: %q", ErrInvalidEmail, email)
	}
	e = norm.NFC.String(e)
	addr, perr := mail.ParseAddress(e)
	if perr != nil || addr.Address != e || len(e) > 254 {
		return "", "", fmt.Errorf("%w: %q", ErrInvalidEmail, email)
	}
	key, kerr := address.EmailKey(e)
	if kerr != nil {
		return "", "", fmt.Errorf("%w: %q", ErrInvalidEmail, email)
	}
	return e, key, nil
}

// CreatePlatformAdmin adds a platform admin with an already hashed password.
func (u *Users) CreatePlatformAdmin(ctx context.Context, email, passwordHash, actor string) (*User, error) {
	return u.create(ctx, email, passwordHash, true, actor)
}

// CreateUser adds a customer user (no platform rights; access to tenants
// comes from memberships) with an already hashed password.
func (u *Users) CreateUser(ctx context.Context, email, passwordHash, actor string) (*User, error) {
	return u.create(ctx, email, passwordHash, false, actor)
}

func (u *Users) create(ctx context.Context, email, passwordHash string, admin bool, actor string) (*User, error) {
	display, folded, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	var user *User
	err = pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		user, err = insertUser(ctx, tx, display, folded, passwordHash, admin, actor)
		return err
	})
	if err != nil {
		return nil, err
	}
	return user, nil
}

// insertUser adds a console user in tx, audited on the platform.
func insertUser(ctx context.Context, tx pgx.Tx, display, folded, passwordHash string, admin bool, actor string) (*User, error) {
	user := &User{ID: uuid.New(), Email: display, IsPlatformAdmin: admin}
	action := "console.user.create"
	if admin {
		action = "console.admin.create"
	}
	_, err := tx.Exec(ctx, `INSERT INTO console_users (id, email, email_folded, password_hash, is_platform_admin)
		VALUES ($1, $2, $3, $4, $5)`, user.ID, display, folded, passwordHash, admin)
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return nil, fmt.Errorf("%w: %s", ErrUserExists, display)
		}
		return nil, fmt.Errorf("console: create user: %w", err)
	}
	if err := audit.Record(ctx, tx, audit.Event{TenantID: audit.Platform, Actor: actor, Action: action, Target: display}); err != nil {
		return nil, err
	}
	return user, nil
}

// CountPlatformAdmins returns how many platform admins exist.
func (u *Users) CountPlatformAdmins(ctx context.Context) (int, error) {
	var n int
	err := u.pool.QueryRow(ctx, `SELECT count(*) FROM console_users WHERE is_platform_admin`).Scan(&n)
	return n, err
}

// PasswordHash returns the stored hash for an email (for sign-in).
func (u *Users) PasswordHash(ctx context.Context, email string) (*User, string, error) {
	_, folded, err := NormalizeEmail(email)
	if err != nil {
		return nil, "", err
	}
	var user User
	var hash string
	err = u.pool.QueryRow(ctx, `SELECT id, email, is_platform_admin, password_hash FROM console_users WHERE email_folded = $1`, folded).
		Scan(&user.ID, &user.Email, &user.IsPlatformAdmin, &hash)
	if err != nil {
		return nil, "", err
	}
	return &user, hash, nil
}

// ByID loads a console user; pgx.ErrNoRows when there is none.
func (u *Users) ByID(ctx context.Context, id uuid.UUID) (*User, error) {
	var user User
	err := u.pool.QueryRow(ctx, `SELECT id, email, is_platform_admin FROM console_users WHERE id = $1`, id).
		Scan(&user.ID, &user.Email, &user.IsPlatformAdmin)
	if err != nil {
		return nil, err
	}
	return &user, nil
}

// SignedIn records a successful sign-in, storing a stronger password hash
// when the old one should be replaced (rehash is "" otherwise).
func (u *Users) SignedIn(ctx context.Context, id uuid.UUID, at time.Time, rehash string) error {
	var err error
	if rehash != "" {
		_, err = u.pool.Exec(ctx, `UPDATE console_users SET last_login_at = $2, password_hash = $3 WHERE id = $1`, id, at, rehash)
	} else {
		_, err = u.pool.Exec(ctx, `UPDATE console_users SET last_login_at = $2 WHERE id = $1`, id, at)
	}
	if err != nil {
		return fmt.Errorf("console: record sign-in: %w", err)
	}
	return nil
}

// Rehash replaces a password hash by a stronger one of the same password,
// unless the password changed meanwhile (old is the hash that was verified).
func (u *Users) Rehash(ctx context.Context, id uuid.UUID, old, rehash string) error {
	if _, err := u.pool.Exec(ctx, `UPDATE console_users SET password_hash = $3 WHERE id = $1 AND password_hash = $2`, id, old, rehash); err != nil {
		return fmt.Errorf("console: rehash password: %w", err)
	}
	return nil
}

// AddMembership gives a console user a role on a tenant (replacing any role
// they held there), audited on the tenant.
func (u *Users) AddMembership(ctx context.Context, tenantID, userID uuid.UUID, role Role, actor string) error {
	return u.addMembership(ctx, tenantID, userID, role, actor, 0)
}

// ErrTenantLimit is returned when a console user already owns as many
// tenants as they may create.
var ErrTenantLimit = errors.New("console: tenant limit reached")

// AddCreator makes userID the owner of the tenant they just created, unless
// they own limit tenants already (ErrTenantLimit). The user's row is locked
// while counting, so parallel creations cannot pass the limit together.
func (u *Users) AddCreator(ctx context.Context, tenantID, userID uuid.UUID, limit int, actor string) error {
	return u.addMembership(ctx, tenantID, userID, RoleOwner, actor, limit)
}

// addMembership grants role; with ownLimit > 0 the user must own fewer
// than ownLimit tenants first.
func (u *Users) addMembership(ctx context.Context, tenantID, userID uuid.UUID, role Role, actor string, ownLimit int) error {
	if role.rank() == 0 {
		return ErrInvalidRole
	}
	return pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		var email string
		if err := tx.QueryRow(ctx, `SELECT email FROM console_users WHERE id = $1 FOR UPDATE`, userID).Scan(&email); err != nil {
			return fmt.Errorf("console: membership user: %w", err)
		}
		if ownLimit > 0 {
			var owned int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE console_user_id = $1 AND role = 'owner'`, userID).Scan(&owned); err != nil {
				return fmt.Errorf("console: owned tenants: %w", err)
			}
			if owned >= ownLimit {
				return fmt.Errorf("%w: owns %d", ErrTenantLimit, owned)
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO memberships (tenant_id, console_user_id, role) VALUES ($1, $2, $3)
			ON CONFLICT (tenant_id, console_user_id) DO UPDATE SET role = EXCLUDED.role`, tenantID, userID, string(role))
		if err != nil {
			return fmt.Errorf("console: add membership: %w", err)
		}
		return audit.Record(ctx, tx, audit.Event{TenantID: tenantID, Actor: actor, Action: "console.member.add", Target: email,
			Details: map[string]any{"role": string(role)}})
	})
}

// OwnedTenants counts the tenants userID owns.
func (u *Users) OwnedTenants(ctx context.Context, userID uuid.UUID) (int, error) {
	var n int
	if err := u.pool.QueryRow(ctx, `SELECT count(*) FROM memberships WHERE console_user_id = $1 AND role = 'owner'`, userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("console: owned tenants: %w", err)
	}
	return n, nil
}

// Role returns the user's role on a tenant, "" when they have none.
func (u *Users) Role(ctx context.Context, tenantID, userID uuid.UUID) (Role, error) {
	var role string
	err := u.pool.QueryRow(ctx, `SELECT role FROM memberships WHERE tenant_id = $1 AND console_user_id = $2`, tenantID, userID).Scan(&role)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("console: role: %w", err)
	}
	return Role(role), nil
}

// Memberships lists the tenants a user holds a role on.
func (u *Users) Memberships(ctx context.Context, userID uuid.UUID) ([]Membership, error) {
	rows, err := u.pool.Query(ctx, `SELECT tenant_id, role FROM memberships WHERE console_user_id = $1`, userID)
	if err != nil {
		return nil, fmt.Errorf("console: memberships: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Membership, error) {
		var m Membership
		err := r.Scan(&m.TenantID, &m.Role)
		return m, err
	})
}

// Members lists the console users holding a role on a tenant, by email.
func (u *Users) Members(ctx context.Context, tenantID uuid.UUID) ([]Member, error) {
	rows, err := u.pool.Query(ctx, `SELECT u.id, u.email, u.is_platform_admin, m.role
		FROM memberships m JOIN console_users u ON u.id = m.console_user_id
		WHERE m.tenant_id = $1 ORDER BY u.email_folded`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("console: members: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Member, error) {
		var m Member
		err := r.Scan(&m.ID, &m.Email, &m.IsPlatformAdmin, &m.Role)
		return m, err
	})
}

// Emails maps console user ids to their addresses (for showing audit actors).
func (u *Users) Emails(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]string, error) {
	out := map[uuid.UUID]string{}
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := u.pool.Query(ctx, `SELECT id, email FROM console_users WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("console: emails: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uuid.UUID
		var email string
		if err := rows.Scan(&id, &email); err != nil {
			return nil, err
		}
		out[id] = email
	}
	return out, rows.Err()
}

// ResetMFA removes every second factor of a console user who lost them
// (TOTP, recovery codes, passkeys), ends their sessions and pending
// sign-ins, and audits it; the user signs in with the password alone and
// sets MFA up again. It returns how many authenticators were removed;
// pgx.ErrNoRows when no user has that email.
func (u *Users) ResetMFA(ctx context.Context, email, actor string) (int, error) {
	_, folded, err := NormalizeEmail(email)
	if err != nil {
		return 0, err
	}
	removed := 0
	err = pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		var id uuid.UUID
		if err := tx.QueryRow(ctx, `SELECT id FROM console_users WHERE email_folded = $1 FOR UPDATE`, folded).Scan(&id); err != nil {
			return err
		}
		var err error
		if removed, err = mfa.RemoveAllConsole(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE user_id = $1`, id); err != nil {
			return fmt.Errorf("console: reset mfa: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM console_login_flows WHERE user_id = $1`, id); err != nil {
			return fmt.Errorf("console: reset mfa: %w", err)
		}
		return audit.Record(ctx, tx, audit.Event{TenantID: audit.Platform, Actor: actor, Action: "console.mfa.reset", Target: id.String(),
			Details: map[string]any{"authenticators_removed": removed}})
	})
	return removed, err
}
