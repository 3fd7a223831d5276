package manage

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
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
	// Profile, PublicMetadata and PrivateMetadata are the tenant-defined
	// user data (docs/USER-DATA.md).
	Profile         map[string]any `json:"profile" doc:"The user's declared fields (HALLPASS_USER_FIELDS) that have a value."`
	PublicMetadata  map[string]any `json:"public_metadata" doc:"Written only by the tenant's backend; the user and the frontend read it (the serializer and claims may show it)."`
	PrivateMetadata map[string]any `json:"private_metadata" doc:"Written and read only by the tenant's backend; never in a headless response."`
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
	// Profile, PublicMetadata and PrivateMetadata are the user's data,
	// checked as UserPatch's are; every required field must be given.
	Profile         map[string]any `json:"profile,omitempty" doc:"Declared fields (HALLPASS_USER_FIELDS) by name; every required one must be given."`
	PublicMetadata  map[string]any `json:"public_metadata,omitempty" doc:"A JSON object of at most 8192 bytes (compact) and 10 levels."`
	PrivateMetadata map[string]any `json:"private_metadata,omitempty" doc:"A JSON object of at most 8192 bytes (compact) and 10 levels."`
}

// UserEmailIn is one address of a created user; at most one is primary
// (none: the first is).
type UserEmailIn struct {
	Email    string `json:"email"`
	Verified bool   `json:"verified,omitempty"`
	Primary  bool   `json:"primary,omitempty"`
}

// UserPatch changes a user; absent fields stay. active false is a disable
// (the user's sessions end everywhere), true an enable. profile sets the
// fields it names (null removes one); public_metadata and private_metadata
// replace the whole document ({} empties it). A data change is audited as
// user.data.change.
type UserPatch struct {
	Username        *string        `json:"username,omitempty"`
	Active          *bool          `json:"active,omitempty"`
	Profile         map[string]any `json:"profile,omitempty" doc:"Declared fields to set, by name; null removes one (refused for a required field). Fields not named stay."`
	PublicMetadata  map[string]any `json:"public_metadata,omitempty" doc:"Replaces the whole document ({} empties it): a JSON object of at most 8192 bytes (compact) and 10 levels."`
	PrivateMetadata map[string]any `json:"private_metadata,omitempty" doc:"Replaces the whole document ({} empties it), as public_metadata."`
}

// dataChange is the user data an input changes.
func dataChange(profile, public, private map[string]any) identity.UserDataChange {
	return identity.UserDataChange{Profile: profile, PublicMetadata: public, PrivateMetadata: private}
}

// userDataKeys are the body members holding user data documents: each is
// an object when present (null would read as absent, and a PATCH that
// meant "empty it" would change nothing).
var userDataKeys = []string{"profile", "public_metadata", "private_metadata"}

// refuseNullData answers 422 when the body gives a user data member as
// null (decodeBody has checked the body is one JSON object).
func refuseNullData(c *fiber.Ctx) error {
	var members map[string]json.RawMessage
	if json.Unmarshal(api.RawBody(c), &members) != nil {
		return nil
	}
	var bad []FieldError
	for _, k := range userDataKeys {
		if v, ok := members[k]; ok && string(bytes.TrimSpace(v)) == "null" {
			bad = append(bad, FieldError{Field: "/" + k, Code: "invalid_type", Message: "expected a JSON object ({} empties a document), got null"})
		}
	}
	if len(bad) > 0 {
		return Invalid("A value has the wrong type.", bad...)
	}
	return nil
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
	out.Profile, out.PublicMetadata, out.PrivateMetadata = orEmpty(acc.Data.Profile), orEmpty(acc.Data.PublicMetadata), orEmpty(acc.Data.PrivateMetadata)
	return out
}

// orEmpty is m, or an empty object for nil.
func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
