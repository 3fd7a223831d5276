package mfa

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/mfa/webauthntest"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

var consoleSettings = &tenants.Settings{MFATOTPDigits: 6, MFATOTPPeriod: 30, MFATOTPTolerance: 1, MFARecoveryCodeCount: 10, MFARecoveryCodeDigits: 8}

func newConsoleUser(t *testing.T, s *ConsoleStore) uuid.UUID {
	t.Helper()
	id := uuid.New()
	email := strings.ToLower(testenv.Slug("console")) + "@example.com"
	if _, err := s.pool.Exec(context.Background(), `INSERT INTO console_users (id, email, email_folded, password_hash) VALUES ($1, $2, $2, '')`,
		id, email); err != nil {
		t.Fatal(err)
	}
	return id
}

// A console user's sealed TOTP payload, copied onto another console user's
// row, does not open: the seal is bound to its owner.
func TestConsoleSealBoundToUser(t *testing.T) {
	ctx := context.Background()
	s := NewConsoleStore(testenv.Pool(t), testenv.Sealer(t), nil)
	a, b := newConsoleUser(t, s), newConsoleUser(t, s)
	secret := NewTOTPSecret()
	if _, err := s.ActivateTOTP(ctx, a, secret, TOTPCode(secret, time.Now(), consoleSettings), consoleSettings); err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO console_authenticators (user_id, type, data)
		SELECT $2, type, data FROM console_authenticators WHERE user_id = $1`, a, b); err != nil {
		t.Fatal(err)
	}
	_, err := s.Authenticate(ctx, b, TOTPCode(secret, time.Now().Add(30*time.Second), consoleSettings), consoleSettings)
	// The code is right for the moved secret: only a payload that does not
	// open refuses it, as an incorrect code (never a server error).
	if !errors.Is(err, ErrIncorrectCode) {
		t.Fatalf("a moved payload was read or failed badly (err %v)", err)
	}
	if _, err := s.Authenticate(ctx, a, TOTPCode(secret, time.Now().Add(30*time.Second), consoleSettings), consoleSettings); err != nil {
		t.Fatalf("the owner's code: %v", err)
	}
}

// A tenant's WebAuthn ceremony state does not pass a console ceremony, even
// with a valid assertion for it.
func TestConsoleCeremonyNotATenantOne(t *testing.T) {
	ctx := context.Background()
	s := NewConsoleStore(testenv.Pool(t), testenv.Sealer(t), nil)
	cfg := &webauthn.Config{RPID: "console.test", RPDisplayName: "Console", RPOrigins: []string{"https://console.test"}}
	id := newConsoleUser(t, s)
	auth := webauthntest.New("https://console.test", "console.test")
	user := &ConsoleWebAuthnUser{ID: id, Name: "ops@example.com"}
	opts, state, err := BeginConsoleRegistration(cfg, user, true)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := auth.Create(opts, true, true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishRegistration(ctx, cfg, user, state, cred, ""); err != nil {
		t.Fatal(err)
	}
	tenantOpts, tenantState, err := BeginLogin(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	assertion, err := auth.Get(tenantOpts, webauthntest.GetOptions{UserVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.FinishLogin(ctx, cfg, tenantState, assertion, uuid.Nil); !errors.Is(err, ErrIncorrectCode) {
		t.Fatalf("a tenant ceremony passed: %v", err)
	}
	opts, state, err = BeginConsoleLogin(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	assertion, err = auth.Get(opts, webauthntest.GetOptions{UserVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	a, owner, err := s.FinishLogin(ctx, cfg, state, assertion, uuid.Nil)
	if err != nil || owner != id || a.Name != "Master key" {
		t.Fatalf("console passkey login: %v, owner %v, %+v", err, owner, a)
	}
}
