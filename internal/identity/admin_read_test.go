package identity_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/testenv"
)

// AccountView answers in one statement what Account and mfa's Types
// answer in two round trips: the same user, the same addresses in the same
// order, the same types in allauth's order; a missing user, or another
// tenant's, is ErrUserNotFound.
func TestAccountViewMatchesAccountAndTypes(t *testing.T) {
	f := newAdminFixture(t)
	types := mfa.NewStore(f.pool, testenv.Sealer(t))
	id := f.user("view-a@example.com")
	bare := f.user("view-bare@example.com")
	// A second and third address, unverified, added in this order.
	for _, email := range []string{"view-c@example.com", "view-b@example.com"} {
		if _, err := f.pool.Exec(f.ctx, `INSERT INTO email_addresses (tenant_id, user_id, email, email_folded, verified, is_primary)
			VALUES ($1, $2, $3, $3, false, false)`, f.tenant.ID, id, email); err != nil {
			t.Fatal(err)
		}
	}
	// Two passkeys (the same type twice), then TOTP and recovery codes.
	if _, err := f.pool.Exec(f.ctx, `INSERT INTO authenticators (tenant_id, user_id, type, data, credential_id)
		VALUES ($1, $2, 'webauthn', 'sealed', '\x01'), ($1, $2, 'webauthn', 'sealed', '\x02'),
			($1, $2, 'totp', 'sealed', NULL), ($1, $2, 'recovery_codes', 'sealed', NULL)`, f.tenant.ID, id); err != nil {
		t.Fatal(err)
	}
	if _, err := f.pool.Exec(f.ctx, `INSERT INTO authenticators (tenant_id, user_id, type, data) VALUES ($1, $2, 'totp', 'sealed')`,
		f.tenant.ID, bare); err != nil {
		t.Fatal(err)
	}
	for _, uid := range []int64{id, bare} {
		want, err := f.admin.Account(f.ctx, f.tenant.ID, uid)
		if err != nil {
			t.Fatal(err)
		}
		wantTypes, err := types.Types(f.ctx, f.tenant.ID, uid)
		if err != nil {
			t.Fatal(err)
		}
		got, gotTypes, err := f.admin.AccountView(f.ctx, f.tenant.ID, uid)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) || !reflect.DeepEqual(gotTypes, wantTypes) {
			t.Fatalf("user %d: AccountView\n%+v %q\nAccount and Types\n%+v %q", uid, got, gotTypes, want, wantTypes)
		}
	}
	if got, _, _ := f.admin.AccountView(f.ctx, f.tenant.ID, id); len(got.Emails) != 3 || got.Emails[0].Email != "view-a@example.com" ||
		got.Emails[1].Email != "view-c@example.com" {
		t.Fatalf("addresses %+v", got.Emails)
	}
	if _, gotTypes, _ := f.admin.AccountView(f.ctx, f.tenant.ID, id); !reflect.DeepEqual(gotTypes, []string{"recovery_codes", "totp", "webauthn"}) {
		t.Fatalf("types %q", gotTypes)
	}
	other := newAdminFixture(t)
	for _, uid := range []int64{id + 1000, 0} {
		if _, _, err := f.admin.AccountView(f.ctx, f.tenant.ID, uid); !errors.Is(err, identity.ErrUserNotFound) {
			t.Fatalf("user %d: %v", uid, err)
		}
	}
	if _, _, err := other.admin.AccountView(f.ctx, other.tenant.ID, id); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("another tenant's user: %v", err)
	}
}
