package identity

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/tenants"
)

// Account is a user as an operator reads it: the user, its addresses
// (primary first) and the tenant-defined data (profile and both metadata
// documents, never nil).
type Account struct {
	User
	Emails []EmailAddress
	Data   UserData
}

// NewAccount is a user an operator creates (an import, a backend's own
// signup): Create validates it under the tenant's rules.
type NewAccount struct {
	// Username, when not blank, is validated by the tenant's username
	// rules; blank takes one derived from the primary address when the
	// tenant's users have usernames (as a signup without the field does).
	Username string
	// Emails are the user's addresses; at most one is Primary (none: the
	// first is).
	Emails []NewAccountEmail
	// Password, with HasPassword, is a password in clear: checked by the
	// tenant's password rules, as at signup, and hashed.
	Password    string
	HasPassword bool
	// PasswordHash, with HasPasswordHash, is an existing hash in any format
	// Hallpass verifies (passwords.CheckHash); an unusable one ("!"…) gives
	// an unusable password. Neither password nor hash: unusable too.
	PasswordHash    string
	HasPasswordHash bool
	// Inactive creates the user disabled.
	Inactive bool
	// Profile holds the user's declared fields (HALLPASS_USER_FIELDS), as
	// the tenant's backend may set them (userdata.ModeBackend); every
	// required field must be there. PublicMetadata and PrivateMetadata are
	// the metadata documents (userdata.CheckDocument). nil: empty.
	Profile         map[string]any
	PublicMetadata  map[string]any
	PrivateMetadata map[string]any
}

// NewAccountEmail is one address of a NewAccount.
type NewAccountEmail struct {
	Email    string
	Verified bool
	Primary  bool
}

// emailParam names the i-th address of a NewAccount in errors.
func emailParam(i int) string { return "emails/" + strconv.Itoa(i) + "/email" }

// Create creates a user on an operator's behalf, with the rules signup
// applies: addresses validated and stored as signup stores them, unique in
// the tenant under ACCOUNT_UNIQUE_EMAIL (email_taken), the username by the
// tenant's username rules (username_taken, username_blacklisted, …), a
// password by the tenant's password rules. A refusal is Errors, each
// naming its input ("emails/1/email", "username", "password",
// "password_hash", "emails", "profile/<field>", "profile",
// "public_metadata", "private_metadata") and nothing is written. The
// profile and metadata are written in the creation's transaction. The creation is
// audited (user.create) in its transaction. The user's id is the one the
// headless API shows as user.id.
func (a *UserAdmin) Create(ctx context.Context, by audit.Actor, t *tenants.Tenant, in NewAccount) (*Account, error) {
	s := t.Settings
	var errs Errors
	username := ""
	if strings.TrimSpace(in.Username) != "" {
		if s.UserModelUsernameField == "" {
			errs = append(errs, NewError("username", "no_usernames"))
		} else {
			var e *Error
			if username, e = NormalizeUsername("username", in.Username, UsernameRules{MinLength: s.UsernameMinLength,
				Blacklist: s.UsernameBlacklist, PreserveCasing: s.PreserveUsernameCasing}); e != nil {
				errs = append(errs, e)
			}
		}
	} else if f, ok := field(s, "username"); ok && f.Required {
		errs = append(errs, NewError("username", "required"))
	}

	emails := make([]EmailAddress, 0, len(in.Emails))
	seen := map[string]bool{}
	primaries := 0
	for i, e := range in.Emails {
		addr, ee := NormalizeEmail(emailParam(i), e.Email, s.EmailMaxLength)
		if ee != nil {
			errs = append(errs, ee)
			continue
		}
		if k := emailKey(addr); seen[k] {
			errs = append(errs, NewError(emailParam(i), "duplicate_email"))
			continue
		} else {
			seen[k] = true
		}
		if e.Primary {
			primaries++
		}
		emails = append(emails, EmailAddress{Email: addr, Verified: e.Verified, Primary: e.Primary})
	}
	if primaries > 1 {
		errs = append(errs, NewError("emails", "multiple_primary"))
	}
	if f, ok := field(s, "email"); ok && f.Required && len(in.Emails) == 0 {
		errs = append(errs, NewError("emails", "required"))
	}

	hash := "!" // Django's unusable password
	kind := "none"
	switch {
	case in.HasPassword && in.HasPasswordHash:
		errs = append(errs, NewError("password_hash", "password_and_hash"))
	case in.HasPassword:
		errs = append(errs, a.accounts.Passwords.validateNewPassword(ctx, t, "password", in.Password)...)
		kind = "password"
	case in.HasPasswordHash:
		if err := passwords.CheckHash(in.PasswordHash); err != nil {
			errs = append(errs, NewError("password_hash", "unknown_hash_format"))
		} else if passwords.IsUsable(in.PasswordHash) {
			hash, kind = in.PasswordHash, "hash"
		}
	}
	data, dataErrs := newAccountData(s.UserFields, in)
	errs = append(errs, dataErrs...)
	if len(errs) > 0 {
		return nil, errs
	}
	if in.HasPassword {
		var err error
		if hash, err = a.accounts.Hasher.Hash(in.Password); err != nil {
			return nil, err
		}
	}
	if primaries == 0 && len(emails) > 0 {
		emails[0].Primary = true
	}
	primary := ""
	for _, e := range emails {
		if e.Primary {
			primary = e.Email
		}
	}

	userID, err := a.accounts.Store.NextUserID(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	var out *Account
	err = pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		details := map[string]any{"emails": len(emails), "password": kind, "active": !in.Inactive}
		// Lock the addresses in one order, so two creations sharing
		// addresses cannot wait for each other.
		order := make([]string, 0, len(emails))
		for _, e := range emails {
			order = append(order, e.Email)
		}
		slices.SortFunc(order, func(x, y string) int { return strings.Compare(emailKey(x), emailKey(y)) })
		for _, e := range order {
			if err := lockEmail(ctx, tx, t.ID, e); err != nil {
				return err
			}
		}
		var errs Errors
		if s.UniqueEmail {
			for i, e := range emails {
				if taken, err := emailTaken(ctx, tx, t.ID, e.Email, 0); err != nil {
					return err
				} else if taken {
					errs = append(errs, NewError(emailParam(i), "email_taken"))
				}
			}
		}
		if username != "" {
			if taken, err := usernameTaken(ctx, tx, t.ID, username); err != nil {
				return err
			} else if taken {
				errs = append(errs, NewError("username", "username_taken"))
			}
		}
		if len(errs) > 0 {
			return errs
		}
		if username == "" && s.UserModelUsernameField != "" {
			var err error
			if username, err = a.accounts.Signups.uniqueUsername(ctx, tx, t, primary); err != nil {
				return err
			}
		}
		u, _, err := insertUser(ctx, tx, t.ID, NewUser{ID: userID, Username: username, PasswordHash: hash, Inactive: in.Inactive})
		if err != nil {
			var e *Error
			if errors.As(err, &e) {
				return Errors{e}
			}
			return err
		}
		u.PrimaryEmail = primary
		none := &UserData{}
		none.fill()
		if set := changedParts(none, data); len(set) > 0 {
			if _, err := tx.Exec(ctx, `UPDATE users SET profile = $3, public_metadata = $4, private_metadata = $5 WHERE tenant_id = $1 AND id = $2`,
				t.ID, u.ID, data.Profile, data.PublicMetadata, data.PrivateMetadata); err != nil {
				return fmt.Errorf("identity: insert user data: %w", err)
			}
			details["data"] = set
		}
		for i := range emails {
			e := &emails[i]
			e.UserID = u.ID
			if err := tx.QueryRow(ctx, `INSERT INTO email_addresses (tenant_id, user_id, email, email_folded, verified, is_primary)
				VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`, t.ID, u.ID, e.Email, emailKey(e.Email), e.Verified, e.Primary).Scan(&e.ID); err != nil {
				return fmt.Errorf("identity: insert email: %w", err)
			}
		}
		// Primary first, as Addresses lists them.
		slices.SortStableFunc(emails, func(x, y EmailAddress) int {
			switch {
			case x.Primary == y.Primary:
				return 0
			case x.Primary:
				return -1
			}
			return 1
		})
		out = &Account{User: *u, Emails: emails, Data: *data}
		if err := audit.Record(ctx, tx, adminEvent(t.ID, by, u, "user.create", details)); err != nil {
			return err
		}
		return a.accounts.emit(ctx, tx, t, u.ID, events.UserCreated, map[string]any{"source": "admin"})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UserFilter narrows an operator's list of users; zero fields do not
// filter.
type UserFilter struct {
	// Email keeps the users holding this address, compared as a login
	// compares it (EmailKey).
	Email string
	// Username keeps the user with this username (UsernameKey).
	Username string
	// Query keeps the users whose username or any address contains it,
	// case-insensitively.
	Query string
	// Active keeps enabled (true) or disabled (false) users.
	Active *bool
	// CreatedAfter keeps users who joined at or after it; CreatedBefore,
	// strictly before it.
	CreatedAfter, CreatedBefore *time.Time
}

// Find returns up to limit of a tenant's users matching f, newest first,
// with their addresses, older than the user id before (0: from the newest).
func (a *UserAdmin) Find(ctx context.Context, tenantID uuid.UUID, f UserFilter, before int64, limit int) ([]Account, error) {
	var email, username, like any
	if f.Email != "" {
		email = emailKey(strings.TrimSpace(f.Email))
	}
	if f.Username != "" {
		username = usernameKey(strings.TrimSpace(f.Username))
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		like = likePattern(q)
	}
	rows, err := a.pool.Query(ctx, `SELECT `+userColumns+` FROM users u
		WHERE u.tenant_id = $1 AND ($2::bigint = 0 OR u.id < $2)
			AND ($3::text IS NULL OR EXISTS (SELECT 1 FROM email_addresses a
				WHERE a.tenant_id = u.tenant_id AND a.user_id = u.id AND a.email_folded = $3))
			AND ($4::text IS NULL OR u.username_folded = $4)
			AND ($5::text IS NULL OR u.username_folded LIKE $5 OR EXISTS (SELECT 1 FROM email_addresses a
				WHERE a.tenant_id = u.tenant_id AND a.user_id = u.id AND (a.email LIKE $5 OR a.email_folded LIKE $5)))
			AND ($6::boolean IS NULL OR u.is_active = $6)
			AND ($7::timestamptz IS NULL OR u.date_joined >= $7)
			AND ($8::timestamptz IS NULL OR u.date_joined < $8)
		ORDER BY u.id DESC LIMIT $9`, tenantID, before, email, username, like, f.Active, f.CreatedAfter, f.CreatedBefore, limit)
	if err != nil {
		return nil, fmt.Errorf("identity: find users: %w", err)
	}
	var out []Account
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, Account{User: *u, Emails: []EmailAddress{}})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("identity: find users: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	ids := make([]int64, len(out))
	at := make(map[int64]int, len(out))
	for i, acc := range out {
		ids[i], at[acc.ID] = acc.ID, i
	}
	rows, err = a.pool.Query(ctx, `SELECT id, user_id, email, verified, is_primary FROM email_addresses
		WHERE tenant_id = $1 AND user_id = ANY($2) ORDER BY is_primary DESC, created_at, id`, tenantID, ids)
	if err != nil {
		return nil, fmt.Errorf("identity: find users' addresses: %w", err)
	}
	addrs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EmailAddress, error) {
		var e EmailAddress
		err := r.Scan(&e.ID, &e.UserID, &e.Email, &e.Verified, &e.Primary)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("identity: find users' addresses: %w", err)
	}
	for _, e := range addrs {
		i := at[e.UserID]
		out[i].Emails = append(out[i].Emails, e)
	}
	rows, err = a.pool.Query(ctx, `SELECT id, profile, public_metadata, private_metadata FROM users
		WHERE tenant_id = $1 AND id = ANY($2)`, tenantID, ids)
	if err != nil {
		return nil, fmt.Errorf("identity: find users' data: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var d UserData
		if err := rows.Scan(&id, &d.Profile, &d.PublicMetadata, &d.PrivateMetadata); err != nil {
			return nil, fmt.Errorf("identity: find users' data: %w", err)
		}
		d.fill()
		out[at[id]].Data = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("identity: find users' data: %w", err)
	}
	for i := range out {
		out[i].Data.fill()
	}
	return out, nil
}

// Account returns one of a tenant's users with its addresses and data;
// ErrUserNotFound if none. The reads go in one round trip.
func (a *UserAdmin) Account(ctx context.Context, tenantID uuid.UUID, userID int64) (*Account, error) {
	b := &pgx.Batch{}
	b.Queue(sqlUserByID, tenantID, userID)
	b.Queue(sqlUserAddresses, tenantID, userID)
	b.Queue(`SELECT profile, public_metadata, private_metadata FROM users WHERE tenant_id = $1 AND id = $2`, tenantID, userID)
	res := a.pool.SendBatch(ctx, b)
	defer res.Close()
	u, err := scanUser(res.QueryRow())
	if err != nil {
		return nil, err
	}
	rows, err := res.Query()
	if err != nil {
		return nil, fmt.Errorf("identity: email addresses: %w", err)
	}
	emails, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EmailAddress, error) {
		var e EmailAddress
		err := r.Scan(&e.ID, &e.UserID, &e.Email, &e.Verified, &e.Primary)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("identity: email addresses: %w", err)
	}
	if emails == nil {
		emails = []EmailAddress{}
	}
	acc := &Account{User: *u, Emails: emails}
	d := &acc.Data
	if err := res.QueryRow().Scan(&d.Profile, &d.PublicMetadata, &d.PrivateMetadata); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, ErrUserNotFound // deleted between the reads
		}
		return nil, fmt.Errorf("identity: user data: %w", err)
	}
	d.fill()
	return acc, nil
}

// SetUsername changes a user's username under the tenant's username rules
// (Errors on "username": no_usernames, username_taken, invalid, …),
// audited as user.username.change with the old and new names; changed is
// false when the name was that already. Cached summaries of the user drop.
func (a *UserAdmin) SetUsername(ctx context.Context, by audit.Actor, t *tenants.Tenant, userID int64, username string) (changed bool, err error) {
	s := t.Settings
	if s.UserModelUsernameField == "" {
		return false, Errors{NewError("username", "no_usernames")}
	}
	name, e := NormalizeUsername("username", username, UsernameRules{MinLength: s.UsernameMinLength,
		Blacklist: s.UsernameBlacklist, PreserveCasing: s.PreserveUsernameCasing})
	if e != nil {
		return false, Errors{e}
	}
	u, err := a.User(ctx, t.ID, userID)
	if err != nil {
		return false, err
	}
	if u.Username == name {
		return false, nil
	}
	err = pgx.BeginFunc(ctx, a.pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE users SET username = $3, username_folded = $4 WHERE tenant_id = $1 AND id = $2`,
			t.ID, userID, name, usernameKey(name))
		if err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "23505" {
				return Errors{NewError("username", "username_taken")}
			}
			return fmt.Errorf("identity: set username: %w", err)
		}
		if err := audit.Record(ctx, tx, adminEvent(t.ID, by, u, "user.username.change", map[string]any{"from": u.Username, "to": name})); err != nil {
			return err
		}
		return a.accounts.emit(ctx, tx, t, userID, events.UserUpdated, map[string]any{"changed": []string{"username"}})
	})
	if err != nil {
		return false, err
	}
	_ = a.accounts.Sessions.UserChanged(ctx, t.ID, userID)
	return true, nil
}
