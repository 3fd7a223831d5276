package mfa

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"time"

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
