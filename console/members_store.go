package console

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/audit"
)

// InvitationTTL is how long an invitation link can be used.
const InvitationTTL = 7 * 24 * time.Hour

// Errors of member management.
var (
	// ErrLastOwner refuses removing or demoting a tenant's only owner.
	ErrLastOwner = errors.New("the tenant's last owner cannot be removed or demoted")
	// ErrAlreadyMember refuses inviting someone who holds a role already.
	ErrAlreadyMember = errors.New("already a member of the tenant")
	// ErrInvitationInvalid is an invitation token that is unknown, used,
	// revoked or expired.
	ErrInvitationInvalid = errors.New("the invitation is unknown, used or expired")
)

// Invitation is an offer of a role on a tenant, sent to an address.
type Invitation struct {
	ID       uuid.UUID
	TenantID uuid.UUID
	Email    string
	Role     Role
	// InvitedBy is the inviter's address ("" once their account is gone).
	InvitedBy            string
	CreatedAt, ExpiresAt time.Time
}

// Expired reports whether the link no longer works at now.
func (i *Invitation) Expired(now time.Time) bool { return !now.Before(i.ExpiresAt) }

// Invite records an invitation of email to the tenant with role, replacing
// a pending one to the same address, and calls send in the same
// transaction with the token to mail (only its hash is stored): the
// invitation exists exactly when its mail is queued.
func (u *Users) Invite(ctx context.Context, tenantID uuid.UUID, email string, role Role, by *User, ip string, now time.Time,
	send func(tx pgx.Tx, inv *Invitation, token string) error) (*Invitation, error) {
	display, folded, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if role.rank() == 0 {
		return nil, ErrInvalidRole
	}
	token := randomToken()
	inv := &Invitation{ID: uuid.New(), TenantID: tenantID, Email: display, Role: role, InvitedBy: by.Email,
		CreatedAt: now.UTC(), ExpiresAt: now.UTC().Add(InvitationTTL)}
	err = pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		// One invitation at a time per address and tenant.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, "console_invitation:"+tenantID.String()+":"+folded); err != nil {
			return err
		}
		var member bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM memberships m JOIN console_users cu ON cu.id = m.console_user_id
			WHERE m.tenant_id = $1 AND cu.email_folded = $2)`, tenantID, folded).Scan(&member); err != nil {
			return fmt.Errorf("console: invite: %w", err)
		}
		if member {
			return ErrAlreadyMember
		}
		tag, err := tx.Exec(ctx, `DELETE FROM console_invitations WHERE tenant_id = $1 AND email_folded = $2 AND accepted_at IS NULL`, tenantID, folded)
		if err != nil {
			return fmt.Errorf("console: invite: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO console_invitations (id, tenant_id, email, email_folded, role, token_hash, invited_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, inv.ID, tenantID, display, folded, string(role), hashToken(token), by.ID,
			inv.CreatedAt, inv.ExpiresAt); err != nil {
			return fmt.Errorf("console: invite: %w", err)
		}
		if err := audit.Record(ctx, tx, audit.Event{TenantID: tenantID, Actor: actor(by), Action: "console.invitation.create", Target: display, IP: ip,
			Details: map[string]any{"role": string(role), "replaced": tag.RowsAffected()}}); err != nil {
			return err
		}
		return send(tx, inv, token)
	})
	if err != nil {
		return nil, err
	}
	return inv, nil
}

const invitationColumns = `i.id, i.tenant_id, i.email, i.role, coalesce(cu.email, ''), i.created_at, i.expires_at`

func scanInvitation(row pgx.Row) (*Invitation, error) {
	var inv Invitation
	err := row.Scan(&inv.ID, &inv.TenantID, &inv.Email, &inv.Role, &inv.InvitedBy, &inv.CreatedAt, &inv.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrInvitationInvalid
	}
	if err != nil {
		return nil, fmt.Errorf("console: invitation: %w", err)
	}
	return &inv, nil
}

// Invitations lists a tenant's invitations not yet accepted (expired ones
// included), newest first.
func (u *Users) Invitations(ctx context.Context, tenantID uuid.UUID) ([]*Invitation, error) {
	rows, err := u.pool.Query(ctx, `SELECT `+invitationColumns+` FROM console_invitations i
		LEFT JOIN console_users cu ON cu.id = i.invited_by
		WHERE i.tenant_id = $1 AND i.accepted_at IS NULL ORDER BY i.created_at DESC, i.email_folded LIMIT 200`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("console: invitations: %w", err)
	}
	defer rows.Close()
	var out []*Invitation
	for rows.Next() {
		inv, err := scanInvitation(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, inv)
	}
	return out, rows.Err()
}

// RevokeInvitation deletes a tenant's pending invitation: its link stops
// working.
func (u *Users) RevokeInvitation(ctx context.Context, tenantID, id uuid.UUID, by *User, ip string) (*Invitation, error) {
	var inv *Invitation
	err := pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		var err error
		inv, err = scanInvitation(tx.QueryRow(ctx, `DELETE FROM console_invitations i WHERE i.tenant_id = $1 AND i.id = $2 AND i.accepted_at IS NULL
			RETURNING i.id, i.tenant_id, i.email, i.role, '', i.created_at, i.expires_at`, tenantID, id))
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Event{TenantID: tenantID, Actor: actor(by), Action: "console.invitation.revoke", Target: inv.Email, IP: ip,
			Details: map[string]any{"role": string(inv.Role)}})
	})
	return inv, err
}

// InvitationByToken returns the invitation a link names, if it can still
// be accepted at now.
func (u *Users) InvitationByToken(ctx context.Context, token string, now time.Time) (*Invitation, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrInvitationInvalid
	}
	inv, err := scanInvitation(u.pool.QueryRow(ctx, `SELECT `+invitationColumns+` FROM console_invitations i
		LEFT JOIN console_users cu ON cu.id = i.invited_by
		WHERE i.token_hash = $1 AND i.accepted_at IS NULL`, hashToken(token)))
	if err != nil {
		return nil, err
	}
	if inv.Expired(now) {
		return nil, ErrInvitationInvalid
	}
	return inv, nil
}

// AcceptInvitation gives user the invitation's role on its tenant. A user
// who already holds a role there keeps the stronger of the two (accepting
// never demotes). The link is then used up.
func (u *Users) AcceptInvitation(ctx context.Context, token string, user *User, ip string, now time.Time) (*Invitation, Role, error) {
	var inv *Invitation
	var role Role
	err := pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		var err error
		if inv, err = lockInvitation(ctx, tx, token, now); err != nil {
			return err
		}
		role, err = acceptInTx(ctx, tx, inv, user, ip, now)
		return err
	})
	return inv, role, err
}

// AcceptInvitationNewUser creates the console user of the invited address
// with an already hashed password and gives them the invitation's role, in
// one transaction. ErrUserExists when the address has a console account
// already (its owner signs in to accept).
func (u *Users) AcceptInvitationNewUser(ctx context.Context, token, passwordHash, ip string, now time.Time) (*User, *Invitation, error) {
	var inv *Invitation
	var user *User
	err := pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		var err error
		if inv, err = lockInvitation(ctx, tx, token, now); err != nil {
			return err
		}
		display, folded, err := NormalizeEmail(inv.Email)
		if err != nil {
			return err
		}
		if user, err = insertUser(ctx, tx, display, folded, passwordHash, false, "invitation:"+inv.ID.String()); err != nil {
			return err
		}
		_, err = acceptInTx(ctx, tx, inv, user, ip, now)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return user, inv, nil
}

// lockInvitation loads a usable invitation by token, locked until tx ends
// (so it is accepted at most once).
func lockInvitation(ctx context.Context, tx pgx.Tx, token string, now time.Time) (*Invitation, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrInvitationInvalid
	}
	inv, err := scanInvitation(tx.QueryRow(ctx, `SELECT i.id, i.tenant_id, i.email, i.role, '', i.created_at, i.expires_at
		FROM console_invitations i WHERE i.token_hash = $1 AND i.accepted_at IS NULL FOR UPDATE`, hashToken(token)))
	if err != nil {
		return nil, err
	}
	if inv.Expired(now) {
		return nil, ErrInvitationInvalid
	}
	return inv, nil
}

func acceptInTx(ctx context.Context, tx pgx.Tx, inv *Invitation, user *User, ip string, now time.Time) (Role, error) {
	var current string
	err := tx.QueryRow(ctx, `SELECT role FROM memberships WHERE tenant_id = $1 AND console_user_id = $2 FOR UPDATE`, inv.TenantID, user.ID).Scan(&current)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("console: accept: %w", err)
	}
	role := inv.Role
	if Role(current).rank() >= role.rank() {
		role = Role(current)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO memberships (tenant_id, console_user_id, role) VALUES ($1, $2, $3)
		ON CONFLICT (tenant_id, console_user_id) DO UPDATE SET role = EXCLUDED.role`, inv.TenantID, user.ID, string(role)); err != nil {
		return "", fmt.Errorf("console: accept: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE console_invitations SET accepted_at = $2, accepted_by = $3 WHERE id = $1`, inv.ID, now.UTC(), user.ID); err != nil {
		return "", fmt.Errorf("console: accept: %w", err)
	}
	return role, audit.Record(ctx, tx, audit.Event{TenantID: inv.TenantID, Actor: actor(user), Action: "console.invitation.accept", Target: user.Email, IP: ip,
		Details: map[string]any{"invited": inv.Email, "role": string(role)}})
}

// lockMembers locks a tenant's memberships until tx ends and returns them
// by user, so owner counts cannot race.
func lockMembers(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID) (map[uuid.UUID]Role, error) {
	rows, err := tx.Query(ctx, `SELECT console_user_id, role FROM memberships WHERE tenant_id = $1 FOR UPDATE`, tenantID)
	if err != nil {
		return nil, fmt.Errorf("console: members: %w", err)
	}
	defer rows.Close()
	out := map[uuid.UUID]Role{}
	for rows.Next() {
		var id uuid.UUID
		var role string
		if err := rows.Scan(&id, &role); err != nil {
			return nil, err
		}
		out[id] = Role(role)
	}
	return out, rows.Err()
}

func owners(ms map[uuid.UUID]Role) int {
	n := 0
	for _, r := range ms {
		if r == RoleOwner {
			n++
		}
	}
	return n
}

// SetRole changes a member's role; the tenant's last owner keeps theirs.
func (u *Users) SetRole(ctx context.Context, tenantID, userID uuid.UUID, role Role, by *User, ip string) (old Role, err error) {
	if role.rank() == 0 {
		return "", ErrInvalidRole
	}
	err = pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		ms, err := lockMembers(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		var ok bool
		if old, ok = ms[userID]; !ok {
			return errNotFound
		}
		if old == role {
			return nil
		}
		if old == RoleOwner && owners(ms) == 1 {
			return ErrLastOwner
		}
		var email string
		if err := tx.QueryRow(ctx, `UPDATE memberships m SET role = $3 FROM console_users cu
			WHERE m.tenant_id = $1 AND m.console_user_id = $2 AND cu.id = m.console_user_id RETURNING cu.email`,
			tenantID, userID, string(role)).Scan(&email); err != nil {
			return fmt.Errorf("console: set role: %w", err)
		}
		return audit.Record(ctx, tx, audit.Event{TenantID: tenantID, Actor: actor(by), Action: "console.member.role", Target: email, IP: ip,
			Details: map[string]any{"from": string(old), "to": string(role)}})
	})
	return old, err
}

// RemoveMember takes a member's role away; the tenant's last owner stays.
func (u *Users) RemoveMember(ctx context.Context, tenantID, userID uuid.UUID, by *User, ip string) (email string, err error) {
	err = pgx.BeginFunc(ctx, u.pool, func(tx pgx.Tx) error {
		ms, err := lockMembers(ctx, tx, tenantID)
		if err != nil {
			return err
		}
		old, ok := ms[userID]
		if !ok {
			return errNotFound
		}
		if old == RoleOwner && owners(ms) == 1 {
			return ErrLastOwner
		}
		if err := tx.QueryRow(ctx, `DELETE FROM memberships m USING console_users cu
			WHERE m.tenant_id = $1 AND m.console_user_id = $2 AND cu.id = m.console_user_id RETURNING cu.email`,
			tenantID, userID).Scan(&email); err != nil {
			return fmt.Errorf("console: remove member: %w", err)
		}
		return audit.Record(ctx, tx, audit.Event{TenantID: tenantID, Actor: actor(by), Action: "console.member.remove", Target: email, IP: ip,
			Details: map[string]any{"role": string(old)}})
	})
	return email, err
}
