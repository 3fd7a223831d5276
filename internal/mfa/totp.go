package mfa

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/hallpass/hallpass/tenants"
)

// b32 is allauth's secret spelling: upper-case base32 without padding.
var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// NewTOTPSecret returns a new TOTP secret: 20 random bytes in base32
// (32 characters, so no padding), as allauth's generate_totp_secret. The API
// keeps it in the session between showing it and activation.
func NewTOTPSecret() string {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return b32.EncodeToString(b)
}

// decodeSecret reads a base32 secret case-insensitively, with or without
// padding.
func decodeSecret(secret string) ([]byte, error) {
	s := strings.TrimRight(strings.ToUpper(strings.TrimSpace(secret)), "=")
	return b32.DecodeString(s)
}

// canonicalSecret is secret as decodeSecret reads it, spelt the one way
// pquerna/otp reads every secret (it pads but does not trim, so a secret
// padded already, or over-padded, would not decode there).
func canonicalSecret(secret string) (string, []byte, error) {
	key, err := decodeSecret(secret)
	if err != nil {
		return "", nil, err
	}
	return b32.EncodeToString(key), key, nil
}

// TOTPURL is the otpauth:// URL of the QR code, built as allauth's
// build_totp_url: the label (the user's email, else username) as the path;
// secret and issuer (MFA_TOTP_ISSUER, else siteName — the tenant's name)
// as parameters; digits and period only when not the defaults 6 and 30.
// (pquerna/otp's Key.URL is another shape — "issuer:label" path, algorithm,
// digits and period always — so allauth's is built here.)
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

// hotpOpts is allauth's HOTP: HMAC-SHA1, MFA_TOTP_DIGITS decimal digits.
func hotpOpts(s *tenants.Settings) hotp.ValidateOpts {
	return hotp.ValidateOpts{Digits: otp.Digits(totpDigits(s)), Algorithm: otp.AlgorithmSHA1}
}

// TOTPCode is the code an authenticator app shows at a time (for tests and
// tooling); "" if the secret is not base32.
func TOTPCode(secret string, at time.Time, s *tenants.Settings) string {
	canon, _, err := canonicalSecret(secret)
	if err != nil {
		return ""
	}
	code, err := hotp.GenerateCodeCustom(canon, uint64(at.Unix()/totpPeriod(s)), hotpOpts(s))
	if err != nil {
		return ""
	}
	return code
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

// validateTOTP is ValidateTOTP accepting only counters above after. The
// window is walked here, step by step, because pquerna/otp's totp.Validate
// says whether a code is in the window but not which step it belongs to,
// and replay protection needs the step.
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
	canon, key, err := canonicalSecret(secret)
	if err != nil || len(key) == 0 {
		return 0, false
	}
	opts := hotpOpts(s)
	current := at.Unix() / totpPeriod(s)
	tol := int64(max(s.MFATOTPTolerance, 0))
	found, match := int64(0), false
	for c := current - tol; c <= current+tol; c++ {
		if after != nil && c <= *after {
			continue
		}
		// Every step of the window is compared (hotp compares in constant
		// time); the first hit is remembered.
		if ok, _ := hotp.ValidateCustom(code, uint64(c), canon, opts); ok && !match {
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
	canon, _, _ := canonicalSecret(secret)
	a := &Authenticator{UserID: userID, Type: TypeTOTP}
	a.totp = &totpData{Secret: canon, LastCounter: &counter}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockUser(ctx, tx, tenantID, userID); err != nil {
			return err
		}
		if err := s.insert(ctx, tx, tenantID, a, a.totp, nil); err != nil {
			return err
		}
		return s.record(ctx, tx, tenantID, EventAuthenticatorAdd, a)
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
