package mfa

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/tenants"
)

// ConsoleStore keeps the second factors of console users — the platform's
// operators, who are not tenant users (uuid ids, no tenant) — in
// console_authenticators. Only the rows differ from Store: the payloads are
// the same sealed JSON and every check is this package's own (TOTP windows
// and the replay counter, keyed recovery-code hashes, the WebAuthn ceremony
// with its clone and replay checks). The Authenticators it returns have
// UserID 0: their owner is the console user the call names.
type ConsoleStore struct {
	pool   *pgxpool.Pool
	sealer *seal.Sealer
	now    func() time.Time
}

// NewConsoleStore returns the console users' authenticator store; now may
// be nil (time.Now).
func NewConsoleStore(pool *pgxpool.Pool, sealer *seal.Sealer, now func() time.Time) *ConsoleStore {
	if now == nil {
		now = time.Now
	}
	return &ConsoleStore{pool: pool, sealer: sealer, now: now}
}

const consoleColumns = `id, user_id, type, data, created_at, last_used_at`

// consoleSealContext binds a payload to its console user and type, apart
// from every tenant's (see sealContext).
func consoleSealContext(userID uuid.UUID, typ string) string {
	return "console:" + userID.String() + ":authenticator:" + typ
}

// scan reads one row and opens its payload; it returns the owner too.
func (s *ConsoleStore) scan(row pgx.Row) (*Authenticator, uuid.UUID, error) {
	var a Authenticator
	var owner uuid.UUID
	var sealed string
	if err := row.Scan(&a.ID, &owner, &a.Type, &sealed, &a.CreatedAt, &a.LastUsedAt); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, uuid.Nil, ErrNotFound
		}
		return nil, uuid.Nil, fmt.Errorf("mfa: scan console authenticator: %w", err)
	}
	raw, err := s.sealer.Open(sealed, consoleSealContext(owner, a.Type))
	if err != nil {
		return nil, uuid.Nil, fmt.Errorf("mfa: open console authenticator %d: %w (%w)", a.ID, ErrUnreadable, err)
	}
	if err := decodePayload(&a, raw); err != nil {
		return nil, uuid.Nil, fmt.Errorf("mfa: decode console authenticator %d: %w", a.ID, err)
	}
	return &a, owner, nil
}

func (s *ConsoleStore) list(ctx context.Context, q querier, sql string, args ...any) ([]*Authenticator, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("mfa: query console authenticators: %w", err)
	}
	defer rows.Close()
	var out []*Authenticator
	for rows.Next() {
		a, _, err := s.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("mfa: query console authenticators: %w", err)
	}
	return out, nil
}

func (s *ConsoleStore) seal(userID uuid.UUID, typ string, payload any) (string, error) {
	raw, err := json.Marshal(payload)
	if err != nil {
		return "", fmt.Errorf("mfa: encode: %w", err)
	}
	return s.sealer.Seal(raw, consoleSealContext(userID, typ))
}

func (s *ConsoleStore) insert(ctx context.Context, tx pgx.Tx, userID uuid.UUID, a *Authenticator, payload any, credentialID []byte) error {
	sealed, err := s.seal(userID, a.Type, payload)
	if err != nil {
		return err
	}
	err = tx.QueryRow(ctx, `INSERT INTO console_authenticators (user_id, type, data, credential_id, created_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at`, userID, a.Type, sealed, credentialID, s.now()).Scan(&a.ID, &a.CreatedAt)
	if err != nil {
		return fmt.Errorf("mfa: insert console %s: %w", a.Type, err)
	}
	return nil
}

func (s *ConsoleStore) update(ctx context.Context, tx pgx.Tx, userID uuid.UUID, a *Authenticator, payload any, used bool) error {
	sealed, err := s.seal(userID, a.Type, payload)
	if err != nil {
		return err
	}
	var lastUsed *time.Time
	if used {
		now := s.now()
		lastUsed, a.LastUsedAt = &now, &now
	}
	if _, err := tx.Exec(ctx, `UPDATE console_authenticators SET data = $3, last_used_at = coalesce($4, last_used_at)
		WHERE user_id = $1 AND id = $2`, userID, a.ID, sealed, lastUsed); err != nil {
		return fmt.Errorf("mfa: update console %s: %w", a.Type, err)
	}
	return nil
}

// inUserTx runs fn in a transaction holding the console user's MFA lock, so
// two changes to one user's factors never interleave.
func (s *ConsoleStore) inUserTx(ctx context.Context, userID uuid.UUID, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		h := fnv.New64a()
		_, _ = h.Write([]byte("console\x00mfa\x00" + userID.String()))
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(h.Sum64())); err != nil {
			return fmt.Errorf("mfa: lock console user: %w", err)
		}
		return fn(tx)
	})
}

// List returns the console user's authenticators, oldest first.
func (s *ConsoleStore) List(ctx context.Context, userID uuid.UUID) ([]*Authenticator, error) {
	return s.list(ctx, s.pool, `SELECT `+consoleColumns+` FROM console_authenticators WHERE user_id = $1 ORDER BY created_at, id`, userID)
}

// Types returns the types of authenticator the console user has, in
// allauth's order. A sign-in needs a second factor when it holds TypeTOTP
// or TypeWebAuthn.
func (s *ConsoleStore) Types(ctx context.Context, userID uuid.UUID) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT type FROM console_authenticators WHERE user_id = $1`, userID)
	if err != nil {
		return nil, fmt.Errorf("mfa: console types: %w", err)
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("mfa: console types: %w", err)
	}
	out := []string{}
	for _, t := range typeOrder {
		if slices.Contains(have, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// ActivateTOTP adds TOTP for the console user once they typed a right code
// for the secret they were shown (as Store.ActivateTOTP); the code's time
// step counts as used. A wrong code is an *Error incorrect_code (param
// "code"); ErrAlreadyActive if the user has TOTP.
func (s *ConsoleStore) ActivateTOTP(ctx context.Context, userID uuid.UUID, secret, code string, settings *tenants.Settings) (*Authenticator, error) {
	counter, ok := ValidateTOTP(secret, code, s.now(), settings)
	if !ok {
		return nil, incorrectCode("code")
	}
	key, _ := decodeSecret(secret)
	a := &Authenticator{Type: TypeTOTP}
	a.totp = &totpData{Secret: base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(key), LastCounter: &counter}
	err := s.inUserTx(ctx, userID, func(tx pgx.Tx) error { return s.insert(ctx, tx, userID, a, a.totp, nil) })
	if isUniqueViolation(err) {
		return nil, ErrAlreadyActive
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// DeactivateTOTP removes the console user's TOTP, and the recovery codes
// if no other factor is left. ErrNotFound if the user has no TOTP.
func (s *ConsoleStore) DeactivateTOTP(ctx context.Context, userID uuid.UUID) ([]*Authenticator, error) {
	var out []*Authenticator
	err := s.inUserTx(ctx, userID, func(tx pgx.Tx) error {
		var err error
		out, err = s.deleteTx(ctx, tx, userID, `type = 'totp'`)
		if err == nil && len(out) == 0 {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// deleteTx removes the user's authenticators matching where (with $2 the
// optional argument), then the recovery codes if no other factor is left.
func (s *ConsoleStore) deleteTx(ctx context.Context, tx pgx.Tx, userID uuid.UUID, where string, args ...any) ([]*Authenticator, error) {
	out, err := s.list(ctx, tx, `DELETE FROM console_authenticators WHERE user_id = $1 AND `+where+` RETURNING `+consoleColumns,
		append([]any{userID}, args...)...)
	if err != nil || len(out) == 0 {
		return out, err
	}
	dangling, err := s.list(ctx, tx, `DELETE FROM console_authenticators a WHERE a.user_id = $1 AND a.type = 'recovery_codes'
		AND NOT EXISTS (SELECT 1 FROM console_authenticators o WHERE o.user_id = a.user_id AND o.type <> 'recovery_codes')
		RETURNING `+consoleColumns, userID)
	if err != nil {
		return nil, err
	}
	return append(out, dangling...), nil
}

// Authenticate checks a code typed at the console's second sign-in step: a
// TOTP code (each accepted once: the replay counter of AuthenticateTOTP),
// else a recovery code (each passes once). It returns the authenticator
// that accepted it, its use recorded; otherwise an *Error incorrect_code
// (param "code"). Rate limiting is the caller's.
func (s *ConsoleStore) Authenticate(ctx context.Context, userID uuid.UUID, code string, settings *tenants.Settings) (*Authenticator, error) {
	a, err := s.authenticateTOTP(ctx, userID, code, settings)
	if err == nil || !errors.Is(err, ErrIncorrectCode) {
		return a, err
	}
	return s.useRecoveryCode(ctx, userID, code)
}

func (s *ConsoleStore) authenticateTOTP(ctx context.Context, userID uuid.UUID, code string, settings *tenants.Settings) (*Authenticator, error) {
	return useTOTP(ctx, s.pool, consoleFactors{s, userID}, code, s.now, settings)
}

func (s *ConsoleStore) useRecoveryCode(ctx context.Context, userID uuid.UUID, code string) (*Authenticator, error) {
	return useRecoveryCode(ctx, s.pool, consoleFactors{s, userID}, code)
}

// GenerateRecoveryCodes makes a new set of recovery codes for the console
// user, replacing any current set, and returns it with the codes in
// UnusedCodes: the only time they are seen, since only their keyed hashes
// are stored. Without another factor it is an *Error
// cannot_generate_recovery_codes.
func (s *ConsoleStore) GenerateRecoveryCodes(ctx context.Context, userID uuid.UUID, settings *tenants.Settings) (*Authenticator, error) {
	return s.recoveryCodes(ctx, userID, settings, true)
}

// EnsureRecoveryCodes generates recovery codes, as GenerateRecoveryCodes,
// only when the console user has none (after their first factor is added);
// it returns nil when they already had a set.
func (s *ConsoleStore) EnsureRecoveryCodes(ctx context.Context, userID uuid.UUID, settings *tenants.Settings) (*Authenticator, error) {
	return s.recoveryCodes(ctx, userID, settings, false)
}

func (s *ConsoleStore) recoveryCodes(ctx context.Context, userID uuid.UUID, settings *tenants.Settings, replace bool) (*Authenticator, error) {
	var out *Authenticator
	err := s.inUserTx(ctx, userID, func(tx pgx.Tx) error {
		var other, exists bool
		if err := tx.QueryRow(ctx, `SELECT
			EXISTS (SELECT 1 FROM console_authenticators WHERE user_id = $1 AND type <> 'recovery_codes'),
			EXISTS (SELECT 1 FROM console_authenticators WHERE user_id = $1 AND type = 'recovery_codes')`, userID).
			Scan(&other, &exists); err != nil {
			return fmt.Errorf("mfa: check console authenticators: %w", err)
		}
		if !other {
			return NewError("", CodeCannotGenerateRecoveryCodes)
		}
		if exists && !replace {
			return nil
		}
		if _, err := tx.Exec(ctx, `DELETE FROM console_authenticators WHERE user_id = $1 AND type = 'recovery_codes'`, userID); err != nil {
			return fmt.Errorf("mfa: delete console recovery codes: %w", err)
		}
		d, codes := newRecoveryData(settings, false, true)
		a := &Authenticator{Type: TypeRecoveryCodes, rc: d, TotalCodeCount: len(codes), UnusedCodeCount: len(codes), UnusedCodes: codes}
		if err := s.insert(ctx, tx, userID, a, d, nil); err != nil {
			return err
		}
		out = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ConsoleWebAuthnUser is a console user in a WebAuthn ceremony. The user
// handle is the 16 bytes of their uuid.
type ConsoleWebAuthnUser struct {
	// ID is the console user's id.
	ID uuid.UUID
	// Name is their email address.
	Name string
	// Credentials are their WebAuthn credentials.
	Credentials []webauthn.Credential
}

// WebAuthnID is the user handle: the uuid's bytes.
func (u *ConsoleWebAuthnUser) WebAuthnID() []byte { return u.ID[:] }

// WebAuthnName is the user entity's name (the email address).
func (u *ConsoleWebAuthnUser) WebAuthnName() string { return u.Name }

// WebAuthnDisplayName is the user entity's display name (the email address).
func (u *ConsoleWebAuthnUser) WebAuthnDisplayName() string { return u.Name }

// WebAuthnCredentials are the user's credentials.
func (u *ConsoleWebAuthnUser) WebAuthnCredentials() []webauthn.Credential { return u.Credentials }

// WebAuthnUser loads a console user's credentials for a ceremony; name is
// their email address.
func (s *ConsoleStore) WebAuthnUser(ctx context.Context, userID uuid.UUID, name string) (*ConsoleWebAuthnUser, error) {
	list, err := s.list(ctx, s.pool, `SELECT `+consoleColumns+` FROM console_authenticators
		WHERE user_id = $1 AND type = 'webauthn' ORDER BY created_at, id`, userID)
	if err != nil {
		return nil, err
	}
	u := &ConsoleWebAuthnUser{ID: userID, Name: name}
	for _, a := range list {
		u.Credentials = append(u.Credentials, a.wa.Credential)
	}
	return u, nil
}

// Console ceremony kinds: a tenant's ceremony state never passes for a
// console one, nor the reverse.
const (
	consoleRegistration = "console-registration"
	consoleLogin        = "console-login"
)

// consoleCeremony is the state kept between a console ceremony's halves.
type consoleCeremony struct {
	Ceremony     string               `json:"ceremony"`
	UserID       uuid.UUID            `json:"user_id"`
	Passwordless bool                 `json:"passwordless,omitempty"`
	Session      webauthn.SessionData `json:"session"`
}

func parseConsoleState(state []byte, ceremony string) (*consoleCeremony, bool) {
	var st consoleCeremony
	if err := json.Unmarshal(state, &st); err != nil || st.Ceremony != ceremony || st.Session.Challenge == "" ||
		st.Session.Expires.IsZero() {
		return nil, false
	}
	return &st, true
}

// BeginConsoleRegistration starts adding a WebAuthn credential for a
// console user, as BeginRegistration: the creation options JSON (the
// publicKey object) and the state to keep server-side, bound to the
// session, for FinishRegistration. A passwordless credential (a passkey)
// needs a resident key and user verification.
func BeginConsoleRegistration(cfg *webauthn.Config, user *ConsoleWebAuthnUser, passwordless bool) (optionsJSON, state []byte, err error) {
	optionsJSON, session, err := beginRegistration(cfg, user, user.Credentials, passwordless)
	if err != nil {
		return nil, nil, err
	}
	state, err = json.Marshal(consoleCeremony{Ceremony: consoleRegistration, UserID: user.ID, Passwordless: passwordless, Session: *session})
	if err != nil {
		return nil, nil, fmt.Errorf("mfa: encode state: %w", err)
	}
	return optionsJSON, state, nil
}

// FinishRegistration completes BeginConsoleRegistration with the browser's
// credential (PublicKeyCredential.toJSON()) and stores it, as
// Store.FinishRegistration: origin, RP id, challenge, user and attestation
// are verified; name "" gets allauth's default name, longer than 100
// characters is an *Error max_length (param "name"); any other failure is an
// *Error incorrect_code.
func (s *ConsoleStore) FinishRegistration(ctx context.Context, cfg *webauthn.Config, user *ConsoleWebAuthnUser,
	state, credentialJSON []byte, name string) (*Authenticator, error) {
	name, err := checkName(name)
	if err != nil {
		return nil, err
	}
	st, ok := parseConsoleState(state, consoleRegistration)
	if !ok || st.UserID != user.ID {
		return nil, incorrectCode("")
	}
	cred, passwordless, err := createCredential(cfg, user, st.Session, st.Passwordless, credentialJSON)
	if err != nil {
		return nil, err
	}
	a := &Authenticator{Type: TypeWebAuthn}
	err = s.inUserTx(ctx, user.ID, func(tx pgx.Tx) error {
		if name == "" {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM console_authenticators WHERE user_id = $1 AND type = 'webauthn'`,
				user.ID).Scan(&n); err != nil {
				return fmt.Errorf("mfa: count console webauthn: %w", err)
			}
			name = DefaultWebAuthnName(n)
		}
		a.wa = &webauthnData{Name: name, Credential: *cred, Passwordless: passwordless}
		return s.insert(ctx, tx, user.ID, a, a.wa, cred.ID)
	})
	if isUniqueViolation(err) {
		return nil, incorrectCode("")
	}
	if err != nil {
		return nil, err
	}
	a.Name, a.Passwordless, a.Credential, a.CredentialID = a.wa.Name, a.wa.Passwordless, &a.wa.Credential, cred.ID
	return a, nil
}

// BeginConsoleLogin starts a WebAuthn assertion for the console. With a
// user (the second sign-in step) their credentials are allowed and user
// verification is preferred; with nil (passkey sign-in, the passkey being
// the only factor) allowCredentials is empty and user verification is
// required, so the passkey is itself two factors. The state goes to
// FinishLogin, kept as BeginConsoleRegistration's.
func BeginConsoleLogin(cfg *webauthn.Config, user *ConsoleWebAuthnUser) (optionsJSON, state []byte, err error) {
	rp, err := relyingParty(cfg)
	if err != nil {
		return nil, nil, err
	}
	var assertion *protocol.CredentialAssertion
	var session *webauthn.SessionData
	st := consoleCeremony{Ceremony: consoleLogin}
	switch {
	case user == nil:
		assertion, session, err = rp.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	case len(user.Credentials) > 0:
		st.UserID = user.ID
		assertion, session, err = rp.BeginLogin(user, webauthn.WithUserVerification(protocol.VerificationPreferred))
	default:
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("mfa: begin console login: %w", err)
	}
	if optionsJSON, err = json.Marshal(assertion.Response); err != nil {
		return nil, nil, fmt.Errorf("mfa: encode request options: %w", err)
	}
	st.Session = *session
	if state, err = json.Marshal(st); err != nil {
		return nil, nil, fmt.Errorf("mfa: encode state: %w", err)
	}
	return optionsJSON, state, nil
}

// FinishLogin verifies an assertion against the state of
// BeginConsoleLogin, as Store.FinishLogin: origin, RP id, challenge, user
// verification when required, signature, a counter that must increase
// (unless it stays 0), and a ceremony that already passed is refused.
// userID is the user the ceremony was started for, uuid.Nil for a passkey
// sign-in: then the credential is looked up by id and the assertion's user
// handle must name its owner. It returns the authenticator, its use
// recorded, and its owner; failures are an *Error incorrect_code (param
// "credential").
func (s *ConsoleStore) FinishLogin(ctx context.Context, cfg *webauthn.Config, state, credentialJSON []byte, userID uuid.UUID) (*Authenticator, uuid.UUID, error) {
	fail := incorrectCode("credential")
	st, ok := parseConsoleState(state, consoleLogin)
	if !ok || st.UserID != userID {
		return nil, uuid.Nil, fail
	}
	rp, err := relyingParty(cfg)
	if err != nil {
		return nil, uuid.Nil, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(credentialJSON)
	if err != nil || len(parsed.RawID) == 0 || len(parsed.RawID) > 1023 {
		return nil, uuid.Nil, fail
	}
	now := s.now()
	digest := sha256.Sum256([]byte(st.Session.Challenge))
	var out *Authenticator
	var owner uuid.UUID
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		q := `SELECT ` + consoleColumns + ` FROM console_authenticators WHERE type = 'webauthn' AND credential_id = $1`
		args := []any{parsed.RawID}
		if userID != uuid.Nil {
			q += ` AND user_id = $2`
			args = append(args, userID)
		}
		a, who, err := s.scan(tx.QueryRow(ctx, q+` FOR UPDATE`, args...))
		if errors.Is(err, ErrNotFound) {
			return fail
		}
		if err != nil {
			return err
		}
		if userID == uuid.Nil && !bytes.Equal(parsed.Response.UserHandle, who[:]) {
			return fail
		}
		for _, seen := range a.wa.Seen {
			if bytes.Equal(seen.Digest, digest[:]) {
				return fail
			}
		}
		others, err := s.list(ctx, tx, `SELECT `+consoleColumns+` FROM console_authenticators
			WHERE user_id = $1 AND type = 'webauthn' AND id <> $2 ORDER BY created_at, id`, who, a.ID)
		if err != nil {
			return err
		}
		user := &ConsoleWebAuthnUser{ID: who, Credentials: []webauthn.Credential{a.wa.Credential}}
		for _, o := range others {
			user.Credentials = append(user.Credentials, o.wa.Credential)
		}
		var cred *webauthn.Credential
		if userID == uuid.Nil {
			cred, err = rp.ValidateDiscoverableLogin(func(_, _ []byte) (webauthn.User, error) { return user, nil }, st.Session, parsed)
		} else {
			cred, err = rp.ValidateLogin(user, st.Session, parsed)
		}
		if err != nil || cred.Authenticator.CloneWarning || !bytes.Equal(cred.ID, a.wa.Credential.ID) {
			return fail
		}
		a.wa.Credential.Authenticator.SignCount = cred.Authenticator.SignCount
		a.wa.Credential.Flags = cred.Flags
		a.wa.Seen = appendSeen(a.wa.Seen, seenChallenge{Digest: digest[:], Expires: st.Session.Expires.Unix()}, now)
		if err := s.update(ctx, tx, who, a, a.wa, true); err != nil {
			return err
		}
		out, owner = a, who
		return nil
	})
	if err != nil {
		return nil, uuid.Nil, err
	}
	return out, owner, nil
}

// RenameWebAuthn renames one of the console user's WebAuthn credentials:
// an *Error invalid_choice (param "id") for an id that is not theirs,
// required / max_length (param "name") for a bad name.
func (s *ConsoleStore) RenameWebAuthn(ctx context.Context, userID uuid.UUID, id int64, name string) (*Authenticator, error) {
	var out *Authenticator
	err := s.inUserTx(ctx, userID, func(tx pgx.Tx) error {
		a, _, err := s.scan(tx.QueryRow(ctx, `SELECT `+consoleColumns+` FROM console_authenticators
			WHERE user_id = $1 AND id = $2 AND type = 'webauthn' FOR UPDATE`, userID, id))
		if errors.Is(err, ErrNotFound) {
			return &Error{Code: CodeInvalidChoice, Param: "id", Message: invalidChoiceMessage}
		}
		if err != nil {
			return err
		}
		clean, err := checkName(name)
		if err != nil {
			return err
		}
		if clean == "" {
			return NewError("name", CodeRequired)
		}
		a.wa.Name, a.Name = clean, clean
		out = a
		return s.update(ctx, tx, userID, a, a.wa, false)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteWebAuthn removes one of the console user's WebAuthn credentials,
// then the recovery codes if no other factor is left; it returns what was
// removed. ErrNotFound if the id is not one of theirs.
func (s *ConsoleStore) DeleteWebAuthn(ctx context.Context, userID uuid.UUID, id int64) ([]*Authenticator, error) {
	var out []*Authenticator
	err := s.inUserTx(ctx, userID, func(tx pgx.Tx) error {
		var err error
		out, err = s.deleteTx(ctx, tx, userID, `type = 'webauthn' AND id = $2`, id)
		if err == nil && len(out) == 0 {
			return ErrNotFound
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
