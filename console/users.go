// Package console is the SaaS customers' and platform admins' management UI
// (templ pages and their handlers), and the console's own users and roles.
package console

import (
	"context"
	"errors"
	"fmt"
	"net/mail"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/audit"
)

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

// NormalizeEmail validates an address and returns it trimmed, with its
// case-folded form used for uniqueness.
func NormalizeEmail(email string) (display, folded string, err error) {
	e := strings.TrimSpace(email)
	addr, perr := mail.ParseAddress(e)
	if perr != nil || addr.Address != e || len(e) > 254 {
		return "", "", fmt.Errorf("%w: %q", ErrInvalidEmail, email)
	}
	return e, strings.ToLower(e), nil
}

// CreatePlatformAdmin adds a platform admin with an already hashed password.
func (u *Users) CreatePlatformAdmin(ctx context.Context, email, passwordHash, actor string) (*User, error) {
	display, folded, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	user := &User{ID: uuid.New(), Email: display, IsPlatformAdmin: true}
	err = pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO console_users (id, email, email_folded, password_hash, is_platform_admin)
			VALUES ($1, $2, $3, $4, true)`, user.ID, display, folded, passwordHash)
		if err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "23505" {
				return fmt.Errorf("%w: %s", ErrUserExists, display)
			}
			return fmt.Errorf("console: create admin: %w", err)
		}
		return audit.Record(ctx, tx, audit.Event{TenantID: audit.Platform, Actor: actor, Action: "console.admin.create", Target: display})
	})
	if err != nil {
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
