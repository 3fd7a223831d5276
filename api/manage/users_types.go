package manage

import (
	"time"

	"github.com/hallpass/hallpass/internal/identity"
)

// The users operations' bodies, in and out.

// UserOut is a user as the API shows it.
type UserOut struct {
	// ID is the user's id in its tenant: the headless API's user.id.
	ID int64 `json:"id"`
	// Username is null when the tenant's users have none.
	Username          *string        `json:"username"`
	Active            bool           `json:"active"`
	Emails            []UserEmailOut `json:"emails"`
	CreatedAt         time.Time      `json:"created_at"`
	LastLoginAt       *time.Time     `json:"last_login_at"`
	HasUsablePassword bool           `json:"has_usable_password"`
	// MFA lists the user's authenticator types (recovery_codes, totp,
	// webauthn).
	MFA []string `json:"mfa"`
}

// UserEmailOut is one address of a user.
type UserEmailOut struct {
	Email    string `json:"email"`
	Verified bool   `json:"verified"`
	Primary  bool   `json:"primary"`
}

// UserIn creates a user. Give password (checked by the tenant's password
// rules and hashed) or password_hash (any format Hallpass verifies: argon2id
// and argon2i PHC, bcrypt, Django's pbkdf2_sha256, pbkdf2_sha1, argon2,
// bcrypt_sha256 and bcrypt; "!"… is an unusable password), or neither (an
// unusable password).
type UserIn struct {
	Username *string       `json:"username,omitempty"`
	Emails   []UserEmailIn `json:"emails"`
	Password *string       `json:"password,omitempty"`
	// PasswordHash is an existing hash, stored as given.
	PasswordHash *string `json:"password_hash,omitempty"`
	// Active defaults to true.
	Active *bool `json:"active,omitempty"`
}

// UserEmailIn is one address of a created user; at most one is primary
// (none: the first is).
type UserEmailIn struct {
	Email    string `json:"email"`
	Verified bool   `json:"verified,omitempty"`
	Primary  bool   `json:"primary,omitempty"`
}

// UserPatch changes a user; absent fields stay. active false is a disable
// (the user's sessions end everywhere), true an enable.
type UserPatch struct {
	Username *string `json:"username,omitempty"`
	Active   *bool   `json:"active,omitempty"`
}

// userOut shows an account, its authenticator types given.
func userOut(acc *identity.Account, types []string) UserOut {
	out := UserOut{ID: acc.ID, Active: acc.IsActive, Emails: make([]UserEmailOut, 0, len(acc.Emails)),
		CreatedAt: acc.DateJoined.UTC(), HasUsablePassword: acc.HasUsablePassword(), MFA: types}
	if acc.Username != "" {
		name := acc.Username
		out.Username = &name
	}
	if acc.LastLogin != nil {
		at := acc.LastLogin.UTC()
		out.LastLoginAt = &at
	}
	for _, e := range acc.Emails {
		out.Emails = append(out.Emails, UserEmailOut{Email: e.Email, Verified: e.Verified, Primary: e.Primary})
	}
	if out.MFA == nil {
		out.MFA = []string{}
	}
	return out
}
