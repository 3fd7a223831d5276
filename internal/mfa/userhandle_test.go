package mfa

import (
	"bytes"
	"context"
	"strconv"
	"testing"

	"github.com/hallpass/hallpass/internal/mfa/webauthntest"
)

// User ids repeat across tenants (each numbers its users from 1), so the
// WebAuthn user handle carries the tenant as well: two tenants sharing a
// relying party id never give two users the same handle (a passkey manager
// would let one registration replace the other's passkey). A passkey made
// when the handle was the decimal user id still logs in.
func TestWebAuthnUserHandleNamesTenant(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, `{"MFA_SUPPORTED_TYPES": ["recovery_codes", "totp", "webauthn"], "MFA_PASSKEY_LOGIN_ENABLED": true}`)
	cfg := f.webauthnConfig(t)
	user := f.newUser(t)
	key := webauthntest.New(testOrigin, testRPID)
	pk := f.register(t, cfg, key, user, true, "Phone")
	cred := key.Credentials()[0]
	if want := userHandle(f.tenantID, user); !bytes.Equal(cred.UserHandle, want) {
		t.Fatalf("user handle %x, want %x", cred.UserHandle, want)
	}
	g := newFixture(t, `{"MFA_SUPPORTED_TYPES": ["recovery_codes", "totp", "webauthn"], "MFA_PASSKEY_LOGIN_ENABLED": true}`)
	if bytes.Equal(userHandle(g.tenantID, user), cred.UserHandle) {
		t.Fatal("the same user id in another tenant has the same handle")
	}

	// A passkey registered with the old handle (the decimal id).
	cred.UserHandle = []byte(strconv.FormatInt(user, 10))
	for _, bound := range []int64{0, user} {
		lopts, lstate := f.beginLogin(t, cfg, bound)
		assertion, err := key.Get(lopts, webauthntest.GetOptions{UserVerified: true})
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.store.FinishLogin(ctx, f.tenantID, cfg, lstate, assertion, bound)
		if err != nil || got.ID != pk.ID {
			t.Fatalf("legacy handle, bound to %d: %+v %v", bound, got, err)
		}
	}
	// Neither form of another user's handle passes.
	for _, forged := range [][]byte{[]byte(strconv.FormatInt(user+1, 10)), userHandle(f.tenantID, user+1), userHandle(g.tenantID, user)} {
		lopts, lstate := f.beginLogin(t, cfg, 0)
		assertion, err := key.Get(lopts, webauthntest.GetOptions{UserVerified: true, UserHandle: forged})
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.store.FinishLogin(ctx, f.tenantID, cfg, lstate, assertion, 0)
		wantCode(t, err, CodeIncorrectCode, "credential")
	}
}
