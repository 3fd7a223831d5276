package mfa

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1" //nolint:gosec // HOTP (RFC 4226) and allauth's TOTP are HMAC-SHA1
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/tenants"
)

// NewTOTPSecret returns a new TOTP secret: 20 random bytes in base32
// (32 characters, so no padding), as allauth's generate_totp_secret. The API
// keeps it in the session between showing it and activation.
func NewTOTPSecret() string {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)
}

// decodeSecret reads a base32 secret case-insensitively, with or without
// padding.
func decodeSecret(secret string) ([]byte, error) {
	s := strings.TrimRight(strings.ToUpper(strings.TrimSpace(secret)), "=")
	return base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
}

// TOTPURL is the otpauth:// URL of the QR code, built as allauth's
// build_totp_url: the label (the user's email, else username) as the path;
// secret and issuer (MFA_TOTP_ISSUER, else siteName — the tenant's name)
// as parameters; digits and period only when not the defaults 6 and 30.
func TOTPURL(secret, accountLabel, siteName string, s *tenants.Settings) string {
	issuer := s.MFATOTPIssuer
	if issuer == "" {
		issuer = siteName
	}
	q := "secret=" + pyQuote(secret, "") + "&issuer=" + pyQuote(issuer, "")
	if s.MFATOTPDigits != 6 {
		q += "&digits=" + strconv.Itoa(s.MFATOTPDigits)
	}
	if s.MFATOTPPeriod != 30 {
		q += "&period=" + strconv.Itoa(s.MFATOTPPeriod)
	}
	return "otpauth://totp/" + pyQuote(accountLabel, "/") + "?" + q
}

// pyQuote is Python's urllib.parse.quote: UTF-8 percent-encoding of all but
// letters, digits, "_.-~" and the extra safe characters.
func pyQuote(s, safe string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("_.-~", c) >= 0 || strings.IndexByte(safe, c) >= 0 {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// hotp is RFC 4226's HOTP value (HMAC-SHA1, dynamic truncation) with the
// given number of digits, zero-padded.
func hotp(key []byte, counter int64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], uint64(counter))
	m := hmac.New(sha1.New, key)
	m.Write(msg[:])
	sum := m.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := uint64(binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff)
	mod := uint64(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, v%mod)
}

func totpDigits(s *tenants.Settings) int {
	if s.MFATOTPDigits <= 0 {
		return 6
	}
	return s.MFATOTPDigits
}

func totpPeriod(s *tenants.Settings) int64 {
	if s.MFATOTPPeriod <= 0 {
		return 30
	}
	return int64(s.MFATOTPPeriod)
}

// TOTPCode is the code an authenticator app shows at a time (for tests and
// tooling); "" if the secret is not base32.
func TOTPCode(secret string, at time.Time, s *tenants.Settings) string {
	key, err := decodeSecret(secret)
	if err != nil {
		return ""
	}
	return hotp(key, at.Unix()/totpPeriod(s), totpDigits(s))
}

// ValidateTOTP checks a code against a secret at a time, accepting
// MFA_TOTP_TOLERANCE steps either side of the current one, as allauth's
// validate_totp_code. The code must be exactly MFA_TOTP_DIGITS ASCII digits
// (surrounding spaces are dropped, as Django's form field does). It returns
// the HOTP counter the code belongs to (the lowest, should two steps share
// a code); ValidateTOTP alone does not prevent reuse — AuthenticateTOTP does.
func ValidateTOTP(secret, code string, at time.Time, s *tenants.Settings) (counter int64, ok bool) {
	return validateTOTP(secret, code, at, s, nil)
}

// validateTOTP is ValidateTOTP accepting only counters above after.
func validateTOTP(secret, code string, at time.Time, s *tenants.Settings, after *int64) (int64, bool) {
	digits := totpDigits(s)
	code = strings.TrimSpace(code)
	if len(code) != digits {
		return 0, false
	}
	for i := 0; i < len(code); i++ {
		if code[i] < '0' || code[i] > '9' {
			return 0, false
		}
	}
	key, err := decodeSecret(secret)
	if err != nil || len(key) == 0 {
		return 0, false
	}
	current := at.Unix() / totpPeriod(s)
	tol := int64(max(s.MFATOTPTolerance, 0))
	found, match := int64(0), false
	for c := current - tol; c <= current+tol; c++ {
		if after != nil && c <= *after {
			continue
		}
		// Compare every window in constant time, remembering the first hit.
		if subtle.ConstantTimeCompare([]byte(hotp(key, c, digits)), []byte(code)) == 1 && !match {
			found, match = c, true
		}
	}
	return found, match
}

// ActivateTOTP adds TOTP for the user once they typed a right code for the
// secret the API showed them (allauth's ActivateTOTPForm + TOTP.activate).
// The code's time step counts as used. A wrong code is an *Error
// incorrect_code with param "code"; ErrAlreadyActive if the user has TOTP.
// Recovery codes are not generated here: call EnsureRecoveryCodes next, as
// allauth's activate_totp flow does.
func (s *Store) ActivateTOTP(ctx context.Context, tenantID uuid.UUID, userID int64, secret, code string, settings *tenants.Settings) (*Authenticator, error) {
	counter, ok := ValidateTOTP(secret, code, s.now(), settings)
	if !ok {
		return nil, incorrectCode("code")
	}
	key, _ := decodeSecret(secret)
	a := &Authenticator{UserID: userID, Type: TypeTOTP}
	a.totp = &totpData{Secret: base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(key), LastCounter: &counter}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, tenantID, userID); err != nil {
			return err
		}
		if err := s.insert(ctx, tx, tenantID, a, a.totp, nil); err != nil {
			return err
		}
		return record(ctx, tx, tenantID, EventAuthenticatorAdd, a)
	})
	if isUniqueViolation(err) {
		return nil, ErrAlreadyActive
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// DeactivateTOTP removes the user's TOTP, and the recovery codes if no other
// authenticator is left (allauth's deactivate_totp). It returns what was
// removed; ErrNotFound if the user has no TOTP.
func (s *Store) DeactivateTOTP(ctx context.Context, tenantID uuid.UUID, userID int64) ([]*Authenticator, error) {
	var out []*Authenticator
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, tenantID, userID); err != nil {
			return err
		}
		var id int64
		err := tx.QueryRow(ctx, `SELECT id FROM authenticators WHERE tenant_id = $1 AND user_id = $2 AND type = 'totp'`,
			tenantID, userID).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("mfa: find totp: %w", err)
		}
		out, err = s.deleteTx(ctx, tx, tenantID, userID, []int64{id})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// AuthenticateTOTP checks a TOTP code of the user and accepts each code once:
// the time step of the last accepted code is stored and codes of that step or
// an earlier one are refused, so a code seen by someone else cannot be
// replayed within its window. Concurrent attempts are serialised on the row.
// On success the authenticator's use is recorded; otherwise an *Error
// incorrect_code with param "code" (also when the user has no TOTP).
func (s *Store) AuthenticateTOTP(ctx context.Context, tenantID uuid.UUID, userID int64, code string, settings *tenants.Settings) (*Authenticator, error) {
	return useTOTP(ctx, s.pool, tenantFactors{s, tenantID, userID}, code, s.now, settings)
}
