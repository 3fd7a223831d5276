// Package portable is the tenant-independent form of a user that moves
// users in and out of Hallpass: the importers (a Django allauth database,
// `hallpass import django`; Hallpass's own export, `hallpass import
// hallpass`; the management API's bulk import) produce User values and
// the exporter writes them. Its JSON (the field tags) is the wire format: one
// User per line of a JSON Lines stream.
//
// Writer puts batches of users into a tenant: one transaction per batch,
// COPY into temporary tables and set-based statements run by the packages
// that own the tables (identity, social, mfa), idempotent by the user's
// source id.
package portable

import (
	"encoding/json"
	"time"
)

// Authenticator types, as allauth names them.
const (
	TypeTOTP          = "totp"
	TypeRecoveryCodes = "recovery_codes"
	TypeWebAuthn      = "webauthn"
)

// User is one user of a source system, as Hallpass imports and exports it.
type User struct {
	// SourceID is the user's id in the system they come from (a Django
	// primary key, a Hallpass user id, an Auth0 user_id): kept with the user
	// (users.source_id), so that importing them again updates them instead
	// of adding a second user. Required; unique within a tenant.
	SourceID string `json:"source_id"`
	// Username is the login name; empty for none (ACCOUNT_USER_MODEL_USERNAME_FIELD = None).
	Username   string     `json:"username,omitempty"`
	IsActive   bool       `json:"is_active"`
	DateJoined time.Time  `json:"date_joined"`
	LastLogin  *time.Time `json:"last_login,omitempty"`
	// PasswordHash is the hash as the source stored it: one of the formats
	// internal/passwords verifies (Django's pbkdf2_sha256, pbkdf2_sha1,
	// argon2, bcrypt_sha256, bcrypt, scrypt, md5; Hallpass's argon2id;
	// bcrypt's $2a$/$2b$/$2y$), or "!…" / "" for no usable password. The
	// first successful login re-hashes it to argon2id.
	PasswordHash   string          `json:"password_hash"`
	Emails         []Email         `json:"emails,omitempty"`
	Socials        []Social        `json:"socials,omitempty"`
	Authenticators []Authenticator `json:"authenticators,omitempty"`
	// Profile, PublicMetadata and PrivateMetadata are JSON objects (the
	// user data documents of docs/USER-DATA.md); absent is {}.
	Profile         json.RawMessage `json:"profile,omitempty"`
	PublicMetadata  json.RawMessage `json:"public_metadata,omitempty"`
	PrivateMetadata json.RawMessage `json:"private_metadata,omitempty"`
}

// Email is one of a user's email addresses (allauth's EmailAddress). At
// most one is primary.
type Email struct {
	Email    string `json:"email"`
	Verified bool   `json:"verified"`
	Primary  bool   `json:"primary"`
}

// Social is a connected provider account (allauth's SocialAccount), without
// its tokens: a user signs in with the provider again to get new ones.
type Social struct {
	// Provider is the provider's id as the tenant's settings name it
	// (allauth's SocialAccount.provider: "google", "github", an OIDC
	// provider_id).
	Provider string `json:"provider"`
	UID      string `json:"uid"`
	// ExtraData is the provider's profile as allauth kept it (an object).
	ExtraData json.RawMessage `json:"extra_data,omitempty"`
	// LastLogin and DateJoined are allauth's; absent means the import's time.
	LastLogin  *time.Time `json:"last_login,omitempty"`
	DateJoined *time.Time `json:"date_joined,omitempty"`
}

// Authenticator is a second factor (allauth's mfa.Authenticator). Data is
// allauth 65's JSON for the type, secrets in clear (they are sealed on the
// way into the database and, in Hallpass's export, under the export's
// passphrase):
//
//   - totp: {"secret": "<base32>"}; Hallpass adds "last_counter" (the
//     HOTP counter of the last accepted code).
//   - recovery_codes: allauth's {"seed": "<hex>", "used_mask": N} (the
//     codes are derived from the seed with the tenant's
//     MFA_RECOVERY_CODE_COUNT and _DIGITS), or {"migrated_codes": [...]},
//     or Hallpass's own {"key": "<base64>", "hashes": ["<base64>", ...],
//     "used": [bool, ...], "codes": [...]} for sets that only exist as
//     hashes (MFA_RECOVERY_CODES_SHOW_ONCE).
//   - webauthn: allauth's {"name": "...", "credential": <the browser's
//     registration response, as allauth stored it>}, or Hallpass's {"name":
//     "...", "credential": <go-webauthn's Credential>, "passwordless": bool}.
type Authenticator struct {
	Type       string          `json:"type"`
	Data       json.RawMessage `json:"data"`
	CreatedAt  *time.Time      `json:"created_at,omitempty"`
	LastUsedAt *time.Time      `json:"last_used_at,omitempty"`
}

// BatchReport is what Writer.Write did with one batch.
type BatchReport struct {
	// Created and Updated count the users written: new to the tenant, or
	// found by their source id and updated.
	Created int `json:"created"`
	Updated int `json:"updated"`
	// Emails, Socials and Authenticators count the rows written for the
	// users above.
	Emails         int `json:"emails"`
	Socials        int `json:"socials"`
	Authenticators int `json:"authenticators"`
	// Skipped lists the users not written, with why; nothing of them was
	// written.
	Skipped []Skip `json:"skipped,omitempty"`
}

// Skip is one user a batch did not write.
type Skip struct {
	// Index is the user's position in the batch (from 0); the importer
	// turns it into a row number of its source.
	Index    int    `json:"index"`
	SourceID string `json:"source_id"`
	Reason   string `json:"reason"`
}
