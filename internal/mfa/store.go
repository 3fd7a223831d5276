// Package mfa holds a tenant user's second factors — TOTP, recovery codes and
// WebAuthn credentials — with django-allauth's MFA rules and none of its HTTP:
// the API (api/mfa) maps what this package returns and the *Error values it
// raises to allauth's headless responses.
//
// Every authenticator is one row of `authenticators`; its secrets (the TOTP
// secret, recovery-code hashes, the WebAuthn public key and counters) are in
// sealed JSON bound to tenant, user and type, so a leaked database reveals
// none of them and a row moved to another user does not open.
package mfa

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/tenants"
)

// Authenticator types, as allauth's Authenticator.Type values.
const (
	TypeRecoveryCodes = "recovery_codes"
	TypeTOTP          = "totp"
	TypeWebAuthn      = "webauthn"
)

// typeOrder is allauth's Authenticator.Type order, used for Types.
var typeOrder = []string{TypeRecoveryCodes, TypeTOTP, TypeWebAuthn}

// Authenticator is one of a user's second factors. The fields after
// LastUsedAt are filled for their type only.
type Authenticator struct {
	// ID is the authenticator's id (exposed by the API for WebAuthn only):
	// random within the tenant (console users' too), so it orders nothing
	// and tells nothing of other users' authenticators; lists are ordered by
	// CreatedAt.
	ID int64
	// UserID is the owner.
	UserID int64
	// Type is TypeTOTP, TypeRecoveryCodes or TypeWebAuthn.
	Type string
	// CreatedAt is when it was added.
	CreatedAt time.Time
	// LastUsedAt is when it last passed an authentication; nil if never.
	LastUsedAt *time.Time

	// TotalCodeCount is how many recovery codes were generated.
	TotalCodeCount int
	// UnusedCodeCount is how many recovery codes are still usable.
	UnusedCodeCount int
	// UnusedCodes are the unused recovery codes in clear, set only by the
	// calls that may show them (GenerateRecoveryCodes, EnsureRecoveryCodes,
	// ViewRecoveryCodes when allowed); nil means "not to be shown".
	UnusedCodes []string

	// Name is the WebAuthn credential's name.
	Name string
	// Passwordless tells whether the WebAuthn credential is discoverable (a
	// passkey); nil when unknown, as allauth's is_passwordless.
	Passwordless *bool
	// CredentialID is the WebAuthn credential id.
	CredentialID []byte
	// Credential is the stored WebAuthn credential (public key, sign count,
	// AAGUID, transports, flags).
	Credential *webauthn.Credential

	totp *totpData
	rc   *recoveryData
	wa   *webauthnData
}

// totpData is the sealed payload of a TOTP authenticator.
type totpData struct {
	Secret string `json:"secret"`
	// LastCounter is the HOTP counter of the last accepted code: codes at
	// or below it are refused, so every code passes once.
	LastCounter *int64 `json:"last_counter,omitempty"`
}

// recoveryData is the sealed payload of a recovery-codes authenticator.
type recoveryData struct {
	// Key keys the code hashes; random per generated set.
	Key    []byte   `json:"key"`
	Hashes [][]byte `json:"hashes"`
	Used   []bool   `json:"used"`
	// Codes are the codes in clear, kept only while they may be shown again
	// (always without MFA_RECOVERY_CODES_SHOW_ONCE, until first viewed with it).
	Codes []string `json:"codes,omitempty"`
	// Viewed is allauth's viewed_at: the codes were shown once.
	Viewed bool `json:"viewed,omitempty"`
}

// webauthnData is the sealed payload of a WebAuthn authenticator.
type webauthnData struct {
	Name         string              `json:"name"`
	Credential   webauthn.Credential `json:"credential"`
	Passwordless *bool               `json:"passwordless,omitempty"`
	// Seen are digests of the challenges of recent successful assertions,
	// until their ceremony would have expired: a replayed ceremony is refused
	// even for authenticators whose counter stays at zero.
	Seen []seenChallenge `json:"seen,omitempty"`
}

type seenChallenge struct {
	Digest  []byte `json:"d"`
	Expires int64  `json:"e"`
}

// Store reads and writes authenticators; every query is scoped by tenant.
// Its row access (scan, seal, insert, update) is authenticatorRows's.
type Store struct {
	authenticatorRows
	// Events, when set, appends mfa.enabled and mfa.disabled in the
	// transaction of each activation and removal.
	Events UserEvents
}

// NewStore returns the authenticator store.
func NewStore(pool *pgxpool.Pool, sealer *seal.Sealer) *Store {
	return &Store{authenticatorRows: authenticatorRows{pool: pool, sealer: sealer, now: time.Now}}
}

// List returns the user's authenticators, oldest first (allauth's
// account/authenticators listing).
func (s *Store) List(ctx context.Context, tenantID uuid.UUID, userID int64) ([]*Authenticator, error) {
	return s.query(ctx, s.pool, tenantID, true, `SELECT `+columns+` FROM authenticators
		WHERE tenant_id = $1 AND user_id = $2 ORDER BY created_at, id`, tenantID, userID)
}

// Get returns one of the user's authenticators by id; ErrNotFound when it
// does not exist or belongs to someone else.
func (s *Store) Get(ctx context.Context, tenantID uuid.UUID, userID, id int64) (*Authenticator, error) {
	return s.scan(tenantID, s.pool.QueryRow(ctx, `SELECT `+columns+` FROM authenticators
		WHERE tenant_id = $1 AND user_id = $2 AND id = $3`, tenantID, userID, id), true)
}

// ByType returns the user's (first) authenticator of a type — the TOTP or
// recovery-codes authenticator, which are unique; ErrNotFound when none.
func (s *Store) ByType(ctx context.Context, tenantID uuid.UUID, userID int64, typ string) (*Authenticator, error) {
	return s.scan(tenantID, s.pool.QueryRow(ctx, `SELECT `+columns+` FROM authenticators
		WHERE tenant_id = $1 AND user_id = $2 AND type = $3 ORDER BY created_at, id LIMIT 1`, tenantID, userID, typ), true)
}

// Types returns the types of authenticator the user has, in allauth's order
// (recovery_codes, totp, webauthn): the `types` of the mfa_authenticate and
// mfa_reauthenticate flows. MFA is enabled for a login when it holds
// TypeTOTP or TypeWebAuthn.
func (s *Store) Types(ctx context.Context, tenantID uuid.UUID, userID int64) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT type FROM authenticators WHERE tenant_id = $1 AND user_id = $2`, tenantID, userID)
	if err != nil {
		return nil, fmt.Errorf("mfa: types: %w", err)
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("mfa: types: %w", err)
	}
	out := []string{}
	for _, t := range typeOrder {
		for _, h := range have {
			if h == t {
				out = append(out, t)
				break
			}
		}
	}
	return out, nil
}

// ConfigFingerprint digests the user's set of authenticators (ids and
// types, as allauth's trust fingerprint): any addition, removal or
// regeneration changes it. The API mixes it with the user id and password
// hash to invalidate "trust this browser" cookies.
func (s *Store) ConfigFingerprint(ctx context.Context, tenantID uuid.UUID, userID int64) (string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, type FROM authenticators WHERE tenant_id = $1 AND user_id = $2 ORDER BY id`, tenantID, userID)
	if err != nil {
		return "", fmt.Errorf("mfa: fingerprint: %w", err)
	}
	defer rows.Close()
	h := sha256.New()
	for rows.Next() {
		var id int64
		var typ string
		if err := rows.Scan(&id, &typ); err != nil {
			return "", fmt.Errorf("mfa: fingerprint: %w", err)
		}
		fmt.Fprintf(h, "%d|%s|", id, typ)
	}
	if err := rows.Err(); err != nil {
		return "", fmt.Errorf("mfa: fingerprint: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// CheckCanAdd is allauth's validate_can_add_authenticator: unless
// MFA_ALLOW_UNVERIFIED_EMAIL, a user with any unverified email address
// (unverified, as the user store tells) may not add an authenticator (else
// an attacker could sign up with someone's address and lock its owner
// out). Returns an *Error unverified_email (param "" — the API answers 409
// with it).
func CheckCanAdd(settings *tenants.Settings, unverified bool) error {
	if settings.MFAAllowUnverifiedEmail || !unverified {
		return nil
	}
	return NewError("", CodeUnverifiedEmail)
}

// Delete removes the listed authenticators that are the user's own (other
// ids are ignored) and then, as allauth's delete_and_cleanup, the recovery
// codes if no other authenticator is left. It returns what was removed
// (metadata only: ID, UserID, Type and times), in id order.
func (s *Store) Delete(ctx context.Context, tenantID uuid.UUID, userID int64, ids ...int64) ([]*Authenticator, error) {
	var out []*Authenticator
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, tenantID, userID); err != nil {
			return err
		}
		var err error
		out, err = s.deleteTx(ctx, tx, tenantID, userID, ids)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) deleteTx(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, userID int64, ids []int64) ([]*Authenticator, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	out, err := s.query(ctx, tx, tenantID, false, `DELETE FROM authenticators
		WHERE tenant_id = $1 AND user_id = $2 AND id = ANY($3) RETURNING `+columns, tenantID, userID, ids)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return out, nil
	}
	dangling, err := s.query(ctx, tx, tenantID, false, `DELETE FROM authenticators a
		WHERE a.tenant_id = $1 AND a.user_id = $2 AND a.type = 'recovery_codes'
		AND NOT EXISTS (SELECT 1 FROM authenticators o WHERE o.tenant_id = a.tenant_id AND o.user_id = a.user_id
			AND o.type <> 'recovery_codes')
		RETURNING `+columns, tenantID, userID)
	if err != nil {
		return nil, err
	}
	out = append(out, dangling...)
	for _, a := range out {
		if err := s.record(ctx, tx, tenantID, EventAuthenticatorRemove, a); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Authenticate checks a code typed at the mfa_authenticate or
// mfa_reauthenticate stage: a TOTP code, else a recovery code (WebAuthn
// cannot check typed codes). It returns the authenticator that accepted it,
// its use recorded; otherwise an *Error incorrect_code with param "code".
// Rate limiting (allauth's login_failed per user) is the caller's.
func (s *Store) Authenticate(ctx context.Context, tenantID uuid.UUID, userID int64, code string, settings *tenants.Settings) (*Authenticator, error) {
	a, err := s.AuthenticateTOTP(ctx, tenantID, userID, code, settings)
	if err == nil || !errors.Is(err, ErrIncorrectCode) {
		return a, err
	}
	return s.UseRecoveryCode(ctx, tenantID, userID, code)
}
