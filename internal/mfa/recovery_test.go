package mfa

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hallpass/hallpass/internal/testenv"
)

// withTOTP activates TOTP for a user so recovery codes may be generated.
func (f *fixture) withTOTP(t *testing.T, user int64) string {
	t.Helper()
	secret := NewTOTPSecret()
	if _, err := f.store.ActivateTOTP(context.Background(), f.tenantID, user, secret, TOTPCode(secret, f.store.now(), f.settings), f.settings); err != nil {
		t.Fatal(err)
	}
	return secret
}

func allDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func TestRecoveryCodesLifecycle(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `{"MFA_RECOVERY_CODE_COUNT": 5, "MFA_RECOVERY_CODE_DIGITS": 6}`)
	user := f.newUser(t)

	// Not without another authenticator.
	_, err := f.store.GenerateRecoveryCodes(ctx, f.tenantID, user, f.settings)
	wantCode(t, err, CodeCannotGenerateRecoveryCodes, "")
	if _, err := f.store.ViewRecoveryCodes(ctx, f.tenantID, user, f.settings); !errors.Is(err, ErrNotFound) {
		t.Fatalf("view without codes: %v", err)
	}

	f.withTOTP(t, user)
	auto, err := f.store.EnsureRecoveryCodes(ctx, f.tenantID, user, f.settings)
	if err != nil || auto == nil || auto.TotalCodeCount != 5 || auto.UnusedCodeCount != 5 || auto.UnusedCodes != nil {
		t.Fatalf("auto generation: %+v %v", auto, err)
	}
	if again, err := f.store.EnsureRecoveryCodes(ctx, f.tenantID, user, f.settings); err != nil || again != nil {
		t.Fatalf("second auto generation: %+v %v", again, err)
	}

	view, err := f.store.ViewRecoveryCodes(ctx, f.tenantID, user, f.settings)
	if err != nil {
		t.Fatal(err)
	}
	codes := view.UnusedCodes
	if len(codes) != 5 {
		t.Fatalf("codes %v", codes)
	}
	for _, c := range codes {
		if len(c) != 6 || !allDigits(c) {
			t.Fatalf("code %q is not 6 digits", c)
		}
	}
	data := view.Data(true)
	if data["type"] != TypeRecoveryCodes || data["total_code_count"] != 5 || data["unused_code_count"] != 5 ||
		!slices.Equal(data["unused_codes"].([]string), codes) || data["last_used_at"] != nil {
		t.Fatalf("data %v", data)
	}
	if _, ok := view.Data(false)["unused_codes"]; ok {
		t.Fatal("codes in non-sensitive data")
	}
	if _, ok := data["id"]; ok {
		t.Fatal("recovery codes expose no id")
	}

	// Single use.
	used, err := f.store.UseRecoveryCode(ctx, f.tenantID, user, " "+codes[2]+" ")
	if err != nil || used.UnusedCodeCount != 4 || used.LastUsedAt == nil {
		t.Fatalf("use: %+v %v", used, err)
	}
	_, err = f.store.UseRecoveryCode(ctx, f.tenantID, user, codes[2])
	wantCode(t, err, CodeIncorrectCode, "code")
	for _, bad := range []string{"", "000000x", codes[0] + "0", strings.Repeat("9", 500)} {
		if _, err := f.store.UseRecoveryCode(ctx, f.tenantID, user, bad); !errors.Is(err, ErrIncorrectCode) {
			t.Fatalf("bad code %q: %v", bad, err)
		}
	}
	view, err = f.store.ViewRecoveryCodes(ctx, f.tenantID, user, f.settings)
	if err != nil || len(view.UnusedCodes) != 4 || slices.Contains(view.UnusedCodes, codes[2]) || view.UnusedCodeCount != 4 {
		t.Fatalf("after use: %+v %v", view, err)
	}

	// The 2FA stage takes recovery codes.
	if a, err := f.store.Authenticate(ctx, f.tenantID, user, codes[0], f.settings); err != nil || a.Type != TypeRecoveryCodes {
		t.Fatalf("authenticate with a recovery code: %+v %v", a, err)
	}

	// Concurrent use of one code: one success.
	var wg sync.WaitGroup
	var wins atomic.Int32
	for range 6 {
		wg.Go(func() {
			if _, err := f.store.UseRecoveryCode(ctx, f.tenantID, user, codes[1]); err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent successes", wins.Load())
	}

	// Exhaustion.
	for _, c := range []string{codes[3], codes[4]} {
		if _, err := f.store.UseRecoveryCode(ctx, f.tenantID, user, c); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range codes {
		if _, err := f.store.UseRecoveryCode(ctx, f.tenantID, user, c); !errors.Is(err, ErrIncorrectCode) {
			t.Fatalf("code %s usable after exhaustion: %v", c, err)
		}
	}
	view, err = f.store.ViewRecoveryCodes(ctx, f.tenantID, user, f.settings)
	if err != nil || view.UnusedCodeCount != 0 || view.TotalCodeCount != 5 || view.UnusedCodes == nil || len(view.UnusedCodes) != 0 {
		t.Fatalf("exhausted: %+v %v", view, err)
	}
	raw, _ := json.Marshal(view.Data(true))
	if !strings.Contains(string(raw), `"unused_codes":[]`) {
		t.Fatalf("exhausted data %s", raw)
	}

	// Regeneration invalidates the old set.
	regen, err := f.store.GenerateRecoveryCodes(ctx, f.tenantID, user, f.settings)
	if err != nil || len(regen.UnusedCodes) != 5 || regen.UnusedCodeCount != 5 || regen.ID == view.ID {
		t.Fatalf("regenerate: %+v %v", regen, err)
	}
	for _, c := range codes {
		if slices.Contains(regen.UnusedCodes, c) {
			continue // astronomically unlikely collision
		}
		if _, err := f.store.UseRecoveryCode(ctx, f.tenantID, user, c); !errors.Is(err, ErrIncorrectCode) {
			t.Fatalf("old code %s works after regeneration: %v", c, err)
		}
	}
	if _, err := f.store.UseRecoveryCode(ctx, f.tenantID, user, regen.UnusedCodes[0]); err != nil {
		t.Fatal(err)
	}
	// Without show-once, the codes can be seen again.
	view, err = f.store.ViewRecoveryCodes(ctx, f.tenantID, user, f.settings)
	if err != nil || !slices.Equal(view.UnusedCodes, regen.UnusedCodes[1:]) {
		t.Fatalf("re-view: %+v %v", view, err)
	}

	// Removing the last real authenticator removes the recovery codes.
	if _, err := f.store.DeactivateTOTP(ctx, f.tenantID, user); err != nil {
		t.Fatal(err)
	}
	if list, err := f.store.List(ctx, f.tenantID, user); err != nil || len(list) != 0 {
		t.Fatalf("dangling recovery codes: %v %v", list, err)
	}
}

func TestRecoveryCodesShowOnce(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `{"MFA_RECOVERY_CODES_SHOW_ONCE": true}`)
	user := f.newUser(t)
	f.withTOTP(t, user)
	if _, err := f.store.EnsureRecoveryCodes(ctx, f.tenantID, user, f.settings); err != nil {
		t.Fatal(err)
	}
	first, err := f.store.ViewRecoveryCodes(ctx, f.tenantID, user, f.settings)
	if err != nil || len(first.UnusedCodes) != 10 {
		t.Fatalf("first view: %+v %v", first, err)
	}
	for _, c := range first.UnusedCodes {
		if len(c) != 8 || !allDigits(c) {
			t.Fatalf("default code %q", c)
		}
	}
	second, err := f.store.ViewRecoveryCodes(ctx, f.tenantID, user, f.settings)
	if err != nil || second.UnusedCodes != nil || second.UnusedCodeCount != 10 {
		t.Fatalf("second view: %+v %v", second, err)
	}
	if _, ok := second.Data(true)["unused_codes"]; ok {
		t.Fatal("codes shown twice")
	}
	// Even switching show-once off cannot bring them back: no clear copy
	// is left, not even inside the sealed data.
	if v, err := f.store.ViewRecoveryCodes(ctx, f.tenantID, user, mustSettings(t, `{}`)); err != nil || v.UnusedCodes != nil {
		t.Fatalf("after show-once: %+v %v", v, err)
	}
	f.assertNoClearCodes(t, user, first.UnusedCodes, true)
	// Still usable.
	if _, err := f.store.UseRecoveryCode(ctx, f.tenantID, user, first.UnusedCodes[0]); err != nil {
		t.Fatal(err)
	}

	// Regenerated codes are shown at generation only.
	regen, err := f.store.GenerateRecoveryCodes(ctx, f.tenantID, user, f.settings)
	if err != nil || len(regen.UnusedCodes) != 10 {
		t.Fatalf("regenerate: %+v %v", regen, err)
	}
	if v, err := f.store.ViewRecoveryCodes(ctx, f.tenantID, user, f.settings); err != nil || v.UnusedCodes != nil {
		t.Fatalf("view after regeneration: %+v %v", v, err)
	}
	f.assertNoClearCodes(t, user, regen.UnusedCodes, true)
}

func TestRecoveryCodesNotSupported(t *testing.T) {
	f := newFixture(t, `{"MFA_SUPPORTED_TYPES": ["totp"]}`)
	user := f.newUser(t)
	f.withTOTP(t, user)
	if a, err := f.store.EnsureRecoveryCodes(context.Background(), f.tenantID, user, f.settings); err != nil || a != nil {
		t.Fatalf("generated although not supported: %+v %v", a, err)
	}
}

// assertNoClearCodes checks the stored rows (and, with opened, their
// decrypted content) for the codes.
func (f *fixture) assertNoClearCodes(t *testing.T, user int64, codes []string, opened bool) {
	t.Helper()
	for _, raw := range f.rawData(t, user) {
		plain := ""
		if opened {
			for _, typ := range []string{TypeTOTP, TypeRecoveryCodes, TypeWebAuthn} {
				if b, err := testenv.Sealer(t).Open(raw, sealContext(f.tenantID, user, typ)); err == nil {
					plain = string(b)
				}
			}
			if plain == "" {
				t.Fatal("stored data does not open")
			}
		}
		for _, c := range codes {
			if strings.Contains(raw, c) || (opened && strings.Contains(plain, c)) {
				t.Fatalf("code %s stored in clear", c)
			}
		}
	}
}

func TestRecoveryCodesSealedAtRest(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `{}`)
	user := f.newUser(t)
	f.withTOTP(t, user)
	a, err := f.store.GenerateRecoveryCodes(ctx, f.tenantID, user, f.settings)
	if err != nil {
		t.Fatal(err)
	}
	// Kept for re-display (not show-once), but only inside the sealed data.
	f.assertNoClearCodes(t, user, a.UnusedCodes, false)
	// A row moved to another user does not open.
	other := f.newUser(t)
	if _, err := f.store.pool.Exec(ctx, `UPDATE authenticators SET user_id = $3 WHERE tenant_id = $1 AND id = $2`,
		f.tenantID, a.ID, other); err != nil {
		t.Fatal(err)
	}
	if _, err := f.store.List(ctx, f.tenantID, other); err == nil {
		t.Fatal("moved row opened")
	}
}
