package mfa

import (
	"context"
	"encoding/base32"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hallpass/hallpass/tenants"
)

func mustSettings(t *testing.T, doc string) *tenants.Settings {
	t.Helper()
	s, err := tenants.ParseSettings([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// RFC 6238 appendix B, SHA1 rows (8 digits, 30 s steps).
func TestTOTPRFC6238Vectors(t *testing.T) {
	s := mustSettings(t, `{"MFA_TOTP_DIGITS": 8}`)
	secret := base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))
	for _, v := range []struct {
		at   int64
		code string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	} {
		at := time.Unix(v.at, 0)
		if got := TOTPCode(secret, at, s); got != v.code {
			t.Errorf("T=%d: code %s, want %s", v.at, got, v.code)
		}
		counter, ok := ValidateTOTP(secret, v.code, at, s)
		if !ok || counter != v.at/30 {
			t.Errorf("T=%d: validate = %d %v", v.at, counter, ok)
		}
		// Lower-case and padded secrets are the same secret.
		if _, ok := ValidateTOTP(strings.ToLower(secret)+"====", v.code, at, s); !ok {
			t.Errorf("T=%d: lower-case secret refused", v.at)
		}
	}
}

func TestNewTOTPSecret(t *testing.T) {
	a, b := NewTOTPSecret(), NewTOTPSecret()
	if a == b || len(a) != 32 || strings.Contains(a, "=") {
		t.Fatalf("secrets %q %q", a, b)
	}
	raw, err := base32.StdEncoding.DecodeString(a)
	if err != nil || len(raw) != 20 {
		t.Fatalf("secret is not 20 bytes of base32: %v", err)
	}
}

func TestValidateTOTPWindowsAndFormat(t *testing.T) {
	secret := NewTOTPSecret()
	strict := mustSettings(t, `{}`)
	lenient := mustSettings(t, `{"MFA_TOTP_TOLERANCE": 1}`)
	base := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, at := range []time.Time{base, base.Add(17 * time.Second), base.Add(time.Hour), base.Add(24 * 365 * time.Hour)} {
		code := TOTPCode(secret, at, strict)
		if len(code) != 6 {
			t.Fatalf("code %q", code)
		}
		if _, ok := ValidateTOTP(secret, code, at, strict); !ok {
			t.Fatalf("current code refused at %v", at)
		}
		if _, ok := ValidateTOTP(secret, " "+code+"\n", at, strict); !ok {
			t.Fatal("surrounding spaces must be ignored")
		}
		prev := TOTPCode(secret, at.Add(-30*time.Second), strict)
		next := TOTPCode(secret, at.Add(30*time.Second), strict)
		far := TOTPCode(secret, at.Add(-60*time.Second), strict)
		if prev != code {
			if _, ok := ValidateTOTP(secret, prev, at, strict); ok {
				t.Fatal("previous step accepted without tolerance")
			}
			if c, ok := ValidateTOTP(secret, prev, at, lenient); !ok || c != at.Unix()/30-1 {
				t.Fatal("previous step refused with tolerance 1")
			}
		}
		if next != code {
			if _, ok := ValidateTOTP(secret, next, at, lenient); !ok {
				t.Fatal("next step refused with tolerance 1")
			}
		}
		if far != code && far != prev && far != next {
			if _, ok := ValidateTOTP(secret, far, at, lenient); ok {
				t.Fatal("two steps back accepted with tolerance 1")
			}
		}
	}
	at := base
	code := TOTPCode(secret, at, strict)
	for _, bad := range []string{"", code[:5], code + "0", "0" + code, "12345a", "١٢٣٤٥٦", "+12345", "12 345", code[:3] + "-" + code[3:]} {
		if _, ok := ValidateTOTP(secret, bad, at, strict); ok {
			t.Errorf("malformed code %q accepted", bad)
		}
	}
	if _, ok := ValidateTOTP("not base32!", code, at, strict); ok {
		t.Fatal("bad secret accepted")
	}
	// Non-default digits and period.
	custom := mustSettings(t, `{"MFA_TOTP_DIGITS": 8, "MFA_TOTP_PERIOD": 60}`)
	c8 := TOTPCode(secret, at, custom)
	if len(c8) != 8 {
		t.Fatalf("8-digit code %q", c8)
	}
	if counter, ok := ValidateTOTP(secret, c8, at.Add(59*time.Second-time.Duration(at.Unix()%60)*time.Second), custom); !ok || counter != at.Unix()/60 {
		t.Fatalf("60 s period: %d %v", counter, ok)
	}
	if _, ok := ValidateTOTP(secret, code, at, custom); ok {
		t.Fatal("6-digit code accepted with 8 digits")
	}
}

func TestTOTPURL(t *testing.T) {
	def := mustSettings(t, `{}`)
	got := TOTPURL("JBSWY3DPEHPK3PXP", "alice@example.com", "Acme Corp", def)
	if want := "otpauth://totp/alice%40example.com?secret=JBSWY3DPEHPK3PXP&issuer=Acme%20Corp"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	custom := mustSettings(t, `{"MFA_TOTP_ISSUER": "Ünïcode/Issuer & Co", "MFA_TOTP_DIGITS": 8, "MFA_TOTP_PERIOD": 60}`)
	got = TOTPURL("JBSWY3DPEHPK3PXP", "bob/smith", "ignored", custom)
	if want := "otpauth://totp/bob/smith?secret=JBSWY3DPEHPK3PXP&issuer=%C3%9Cn%C3%AFcode%2FIssuer%20%26%20Co&digits=8&period=60"; got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestTOTPActivateAuthenticateOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `{"MFA_TOTP_TOLERANCE": 1}`)
	user := f.newUser(t)
	now := time.Date(2031, 5, 6, 7, 8, 0, 0, time.UTC)
	f.store.now = func() time.Time { return now }
	secret := NewTOTPSecret()

	_, err := f.store.ActivateTOTP(ctx, f.tenantID, user, secret, "000000x", f.settings)
	wantCode(t, err, CodeIncorrectCode, "code")
	wrong := TOTPCode(secret, now.Add(-5*time.Minute), f.settings)
	if _, err := f.store.ActivateTOTP(ctx, f.tenantID, user, secret, wrong, f.settings); !errors.Is(err, ErrIncorrectCode) {
		t.Fatalf("old code activated: %v", err)
	}
	code := TOTPCode(secret, now, f.settings)
	a, err := f.store.ActivateTOTP(ctx, f.tenantID, user, secret, code, f.settings)
	if err != nil {
		t.Fatal(err)
	}
	if a.Type != TypeTOTP || a.ID == 0 || a.LastUsedAt != nil || a.CreatedAt.IsZero() {
		t.Fatalf("activated %+v", a)
	}
	other := NewTOTPSecret()
	if _, err := f.store.ActivateTOTP(ctx, f.tenantID, user, other, TOTPCode(other, now, f.settings), f.settings); !errors.Is(err, ErrAlreadyActive) {
		t.Fatalf("second activation: %v", err)
	}

	// The activation code is spent.
	_, err = f.store.AuthenticateTOTP(ctx, f.tenantID, user, code, f.settings)
	wantCode(t, err, CodeIncorrectCode, "code")

	// Next step: accepted once, then refused (replay inside its window).
	now = now.Add(30 * time.Second)
	next := TOTPCode(secret, now, f.settings)
	got, err := f.store.AuthenticateTOTP(ctx, f.tenantID, user, next, f.settings)
	if err != nil {
		t.Fatal(err)
	}
	if got.LastUsedAt == nil || !got.LastUsedAt.Equal(now) {
		t.Fatalf("last use not recorded: %v", got.LastUsedAt)
	}
	if d := got.Data(true); len(d) != 3 || d["type"] != "totp" || d["last_used_at"] != float64(now.Unix()) ||
		d["created_at"].(float64) < 1e9 {
		t.Fatalf("totp data %v", d)
	}
	if _, err := f.store.AuthenticateTOTP(ctx, f.tenantID, user, next, f.settings); !errors.Is(err, ErrIncorrectCode) {
		t.Fatalf("replayed code accepted: %v", err)
	}
	// Two steps later, the code of one step ago is within tolerance but
	// newer than the last used one: accepted; then the older, earlier one is
	// refused even though still within tolerance.
	now = now.Add(60 * time.Second)
	later := TOTPCode(secret, now, f.settings)
	middle := TOTPCode(secret, now.Add(-30*time.Second), f.settings)
	if middle != later {
		if _, err := f.store.AuthenticateTOTP(ctx, f.tenantID, user, later, f.settings); err != nil {
			t.Fatal(err)
		}
		if _, err := f.store.AuthenticateTOTP(ctx, f.tenantID, user, middle, f.settings); !errors.Is(err, ErrIncorrectCode) {
			t.Fatalf("older code accepted after a newer one: %v", err)
		}
	}

	// Concurrent submissions of one right code: exactly one passes.
	now = now.Add(30 * time.Second)
	fresh := TOTPCode(secret, now, f.settings)
	var wg sync.WaitGroup
	var wins atomic.Int32
	for range 8 {
		wg.Go(func() {
			if _, err := f.store.AuthenticateTOTP(ctx, f.tenantID, user, fresh, f.settings); err == nil {
				wins.Add(1)
			} else if !errors.Is(err, ErrIncorrectCode) {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent successes", wins.Load())
	}

	// Authenticate (the 2FA stage) takes TOTP codes too.
	now = now.Add(30 * time.Second)
	if a, err := f.store.Authenticate(ctx, f.tenantID, user, TOTPCode(secret, now, f.settings), f.settings); err != nil || a.Type != TypeTOTP {
		t.Fatalf("authenticate: %v", err)
	}

	// The secret is sealed at rest.
	for _, raw := range f.rawData(t, user) {
		if strings.Contains(raw, secret) || strings.Contains(strings.ToLower(raw), strings.ToLower(secret)) {
			t.Fatal("TOTP secret stored in clear")
		}
	}

	// Another user of the tenant has no TOTP: every code is incorrect.
	stranger := f.newUser(t)
	_, err = f.store.AuthenticateTOTP(ctx, f.tenantID, stranger, TOTPCode(secret, now, f.settings), f.settings)
	wantCode(t, err, CodeIncorrectCode, "code")

	// Deactivation removes it.
	removed, err := f.store.DeactivateTOTP(ctx, f.tenantID, user)
	if err != nil || len(removed) != 1 || removed[0].Type != TypeTOTP {
		t.Fatalf("deactivate: %v %v", removed, err)
	}
	if _, err := f.store.DeactivateTOTP(ctx, f.tenantID, user); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second deactivation: %v", err)
	}
	if _, err := f.store.ByType(ctx, f.tenantID, user, TypeTOTP); !errors.Is(err, ErrNotFound) {
		t.Fatalf("totp still there: %v", err)
	}
}

// The window's edges, to the second: a code holds from the first to the
// last second of its step; MFA_TOTP_TOLERANCE N accepts exactly N steps
// either side (reporting the code's own step) and refuses N+1.
func TestValidateTOTPToleranceEdges(t *testing.T) {
	secret := NewTOTPSecret()
	step0 := time.Date(2030, 6, 1, 0, 0, 0, 0, time.UTC) // a step boundary (period 30)
	k := step0.Unix() / 30
	codeOf := func(j int64) string {
		return TOTPCode(secret, step0.Add(time.Duration(j)*30*time.Second), mustSettings(t, `{}`))
	}

	strict := mustSettings(t, `{}`) // allauth's default tolerance: 0
	c0 := codeOf(0)
	for _, at := range []time.Time{step0, step0.Add(29 * time.Second), step0.Add(29*time.Second + 999*time.Millisecond)} {
		if c, ok := ValidateTOTP(secret, c0, at, strict); !ok || c != k {
			t.Fatalf("code refused inside its own step at +%v: %d %v", at.Sub(step0), c, ok)
		}
	}
	if c0 != codeOf(-1) {
		if _, ok := ValidateTOTP(secret, c0, step0.Add(-time.Second), strict); ok {
			t.Fatal("code accepted a second before its step (tolerance 0)")
		}
	}
	if c0 != codeOf(1) {
		if _, ok := ValidateTOTP(secret, c0, step0.Add(30*time.Second), strict); ok {
			t.Fatal("code accepted a second after its step (tolerance 0)")
		}
	}

	for _, tol := range []int64{1, 2, tenants.MaxTOTPTolerance} {
		s := mustSettings(t, `{"MFA_TOTP_TOLERANCE": `+strconv.FormatInt(tol, 10)+`}`)
		inside := map[string]bool{}
		for j := -tol; j <= tol; j++ {
			inside[codeOf(j)] = true
		}
		for _, at := range []time.Time{step0, step0.Add(29 * time.Second)} {
			for j := -tol; j <= tol; j++ {
				c, ok := ValidateTOTP(secret, codeOf(j), at, s)
				if !ok {
					t.Fatalf("tolerance %d: step %+d refused at +%v", tol, j, at.Sub(step0))
				}
				// The lowest step with that code: its own unless an earlier one shares it.
				if c > k+j || c < k-tol {
					t.Fatalf("tolerance %d: step %+d reported as counter %d, want %d", tol, j, c, k+j)
				}
			}
			for _, j := range []int64{-tol - 1, tol + 1} {
				if code := codeOf(j); !inside[code] {
					if _, ok := ValidateTOTP(secret, code, at, s); ok {
						t.Fatalf("tolerance %d: step %+d accepted at +%v", tol, j, at.Sub(step0))
					}
				}
			}
		}
	}
}

// Replay protection at the source: with the last used step given, a code
// of that step or an earlier one is refused even inside the tolerance,
// and a later one is accepted with its own step.
func TestValidateTOTPAfterRefusesUsedSteps(t *testing.T) {
	// A fixed secret and time, so the three neighbouring codes are known to
	// differ (a random secret would share a code one time in ~300,000).
	secret := "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	s := mustSettings(t, `{"MFA_TOTP_TOLERANCE": 1}`)
	at := time.Date(2030, 6, 1, 0, 0, 10, 0, time.UTC)
	k := at.Unix() / 30
	prev := TOTPCode(secret, at.Add(-30*time.Second), s)
	cur := TOTPCode(secret, at, s)
	next := TOTPCode(secret, at.Add(30*time.Second), s)
	if prev == cur || cur == next || prev == next {
		t.Fatalf("the fixed secret's neighbouring codes coincide: %s %s %s", prev, cur, next)
	}
	used := k
	for _, code := range []string{prev, cur} {
		if _, ok := validateTOTP(secret, code, at, s, &used); ok {
			t.Fatalf("code of a used step accepted: %s", code)
		}
	}
	if c, ok := validateTOTP(secret, next, at, s, &used); !ok || c != k+1 {
		t.Fatalf("later step: %d %v", c, ok)
	}
	before := k - 1
	if c, ok := validateTOTP(secret, cur, at, s, &before); !ok || c != k {
		t.Fatalf("current step after the previous one was used: %d %v", c, ok)
	}
	if _, ok := validateTOTP(secret, prev, at, s, &before); ok {
		t.Fatal("the used step accepted again")
	}
}

// Secrets are stored in allauth's spelling whatever the spelling typed:
// upper-case base32 without padding.
func TestTOTPSecretStoredCanonical(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `{}`)
	user := f.newUser(t)
	now := time.Date(2031, 5, 6, 7, 8, 0, 0, time.UTC)
	f.store.now = func() time.Time { return now }
	raw := []byte("0123456789abcdef") // 16 bytes: base32 with padding "======"
	padded := strings.ToLower(base32.StdEncoding.EncodeToString(raw))
	if _, err := f.store.ActivateTOTP(ctx, f.tenantID, user, padded, TOTPCode(padded, now, f.settings), f.settings); err != nil {
		t.Fatal(err)
	}
	a, err := f.store.ByType(ctx, f.tenantID, user, TypeTOTP)
	if err != nil {
		t.Fatal(err)
	}
	if want := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw); a.totp.Secret != want {
		t.Fatalf("stored %q, want %q", a.totp.Secret, want)
	}
	now = now.Add(30 * time.Second)
	if _, err := f.store.AuthenticateTOTP(ctx, f.tenantID, user, TOTPCode(padded, now, f.settings), f.settings); err != nil {
		t.Fatal(err)
	}
}
