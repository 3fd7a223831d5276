package mfa

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"math/big"
	"slices"
	"strings"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/tenants"
)

// newRecoveryCodes returns count codes of digits decimal digits each: the
// shape of allauth's codes (MFA_RECOVERY_CODE_COUNT / _DIGITS), drawn
// uniformly rather than from allauth's truncated HMAC chain.
func newRecoveryCodes(count, digits int) []string {
	if count <= 0 {
		count = 10
	}
	if digits <= 0 {
		digits = 8
	}
	ten := big.NewInt(10)
	codes := make([]string, count)
	for i := range codes {
		var b strings.Builder
		for range digits {
			d, err := rand.Int(rand.Reader, ten)
			if err != nil {
				panic(err) // crypto/rand never fails on supported platforms
			}
			b.WriteByte(byte('0' + d.Int64()))
		}
		codes[i] = b.String()
	}
	return codes
}

func hashRecoveryCode(key []byte, code string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(code))
	return m.Sum(nil)
}

// newRecoveryData seals nothing yet: it draws a set of codes and their
// hashes; keepClear keeps the codes for showing again.
func newRecoveryData(settings *tenants.Settings, keepClear, viewed bool) (*recoveryData, []string) {
	codes := newRecoveryCodes(settings.MFARecoveryCodeCount, settings.MFARecoveryCodeDigits)
	d := &recoveryData{Key: make([]byte, 32), Used: make([]bool, len(codes)), Viewed: viewed}
	if _, err := rand.Read(d.Key); err != nil {
		panic(err)
	}
	for _, c := range codes {
		d.Hashes = append(d.Hashes, hashRecoveryCode(d.Key, c))
	}
	if keepClear {
		d.Codes = slices.Clone(codes)
	}
	return d, codes
}

func (d *recoveryData) unused() int {
	n := 0
	for _, u := range d.Used {
		if !u {
			n++
		}
	}
	return n
}

// unusedCodes are the clear codes not used yet; nil when not kept.
func (d *recoveryData) unusedCodes() []string {
	if d.Codes == nil {
		return nil
	}
	out := []string{}
	for i, c := range d.Codes {
		if i < len(d.Used) && !d.Used[i] && c != "" {
			out = append(out, c)
		}
	}
	return out
}

// GenerateRecoveryCodes makes a new set of recovery codes, replacing the
// user's current set (allauth's generate_recovery_codes, the POST of
// account/authenticators/recovery-codes). It needs another authenticator:
// otherwise an *Error cannot_generate_recovery_codes (param ""). The result
// carries the new codes in UnusedCodes (they count as viewed). Under
// MFA_RECOVERY_CODES_SHOW_ONCE only their hashes are stored, so this is the
// only time they are seen.
func (s *Store) GenerateRecoveryCodes(ctx context.Context, tenantID uuid.UUID, userID int64, settings *tenants.Settings) (*Authenticator, error) {
	var out *Authenticator
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, tenantID, userID); err != nil {
			return err
		}
		var other bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM authenticators
			WHERE tenant_id = $1 AND user_id = $2 AND type <> 'recovery_codes')`, tenantID, userID).Scan(&other); err != nil {
			return fmt.Errorf("mfa: check authenticators: %w", err)
		}
		if !other {
			return NewError("", CodeCannotGenerateRecoveryCodes)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM authenticators WHERE tenant_id = $1 AND user_id = $2 AND type = 'recovery_codes'`,
			tenantID, userID); err != nil {
			return fmt.Errorf("mfa: delete recovery codes: %w", err)
		}
		d, codes := newRecoveryData(settings, !settings.MFARecoveryCodesShowOnce, true)
		a := &Authenticator{UserID: userID, Type: TypeRecoveryCodes, rc: d,
			TotalCodeCount: len(codes), UnusedCodeCount: len(codes), UnusedCodes: codes}
		if err := s.insert(ctx, tx, tenantID, a, d, nil); err != nil {
			return err
		}
		if err := s.record(ctx, tx, tenantID, EventRecoveryCodesRegenerate, a); err != nil {
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

// EnsureRecoveryCodes sets up recovery codes when the user has none and
// recovery_codes is in MFA_SUPPORTED_TYPES (allauth's
// auto_generate_recovery_codes, run after TOTP activation and after adding
// a WebAuthn key outside passkey signup). It returns the new authenticator,
// or nil when nothing was generated (meta.recovery_codes_generated is
// whether it is non-nil). The codes are kept for their first view through
// ViewRecoveryCodes, so UnusedCodes is not set here.
func (s *Store) EnsureRecoveryCodes(ctx context.Context, tenantID uuid.UUID, userID int64, settings *tenants.Settings) (*Authenticator, error) {
	if !slices.Contains(settings.MFASupportedTypes, TypeRecoveryCodes) {
		return nil, nil
	}
	var out *Authenticator
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, tenantID, userID); err != nil {
			return err
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM authenticators
			WHERE tenant_id = $1 AND user_id = $2 AND type = 'recovery_codes')`, tenantID, userID).Scan(&exists); err != nil {
			return fmt.Errorf("mfa: check recovery codes: %w", err)
		}
		if exists {
			return nil
		}
		d, codes := newRecoveryData(settings, true, false)
		a := &Authenticator{UserID: userID, Type: TypeRecoveryCodes, rc: d, TotalCodeCount: len(codes), UnusedCodeCount: len(codes)}
		if err := s.insert(ctx, tx, tenantID, a, d, nil); err != nil {
			return err
		}
		if err := s.record(ctx, tx, tenantID, EventAuthenticatorAdd, a); err != nil {
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

// ViewRecoveryCodes is allauth's view_recovery_codes (GET
// account/authenticators/recovery-codes): it returns the user's recovery
// codes authenticator, marked as viewed, with UnusedCodes set when they may
// be shown — always without MFA_RECOVERY_CODES_SHOW_ONCE, only on the first
// view with it (after which the clear copies are dropped for good). Answer
// with a.Data(a.UnusedCodes != nil). ErrNotFound when the user has none.
func (s *Store) ViewRecoveryCodes(ctx context.Context, tenantID uuid.UUID, userID int64, settings *tenants.Settings) (*Authenticator, error) {
	var out *Authenticator
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		a, err := s.scan(tenantID, tx.QueryRow(ctx, `SELECT `+columns+` FROM authenticators
			WHERE tenant_id = $1 AND user_id = $2 AND type = 'recovery_codes' FOR UPDATE`, tenantID, userID), true)
		if err != nil {
			return err
		}
		d := a.rc
		canView := !settings.MFARecoveryCodesShowOnce || !d.Viewed
		if canView {
			a.UnusedCodes = d.unusedCodes()
		}
		changed := !d.Viewed
		d.Viewed = true
		if settings.MFARecoveryCodesShowOnce && d.Codes != nil {
			d.Codes = nil
			changed = true
		}
		if changed {
			if err := s.update(ctx, tx, tenantID, a, d, false); err != nil {
				return err
			}
		}
		out = a
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// spend marks code used if it is one of d's unused codes: its keyed hash is
// compared with every stored one in constant time (no early exit), and its
// clear copy, if still kept, is forgotten. False when it matches none.
func (d *recoveryData) spend(code string) bool {
	h := hashRecoveryCode(d.Key, code)
	match := -1
	for i, want := range d.Hashes {
		if hmac.Equal(h, want) && match < 0 && i < len(d.Used) && !d.Used[i] {
			match = i
		}
	}
	if match < 0 {
		return false
	}
	d.Used[match] = true
	if match < len(d.Codes) {
		d.Codes[match] = ""
	}
	return true
}

// UseRecoveryCode spends one of the user's recovery codes: each code passes
// once, compared by keyed hash in constant time. On success the
// authenticator's use is recorded and its counts updated; otherwise an
// *Error incorrect_code with param "code" (also when the user has none).
func (s *Store) UseRecoveryCode(ctx context.Context, tenantID uuid.UUID, userID int64, code string) (*Authenticator, error) {
	return useRecoveryCode(ctx, s.pool, tenantFactors{s, tenantID, userID}, code)
}
