package social_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// newTenantUsers creates a tenant and n users in it.
func newTenantUsers(t *testing.T, n int) (uuid.UUID, []int64) {
	t.Helper()
	ctx := context.Background()
	pool := testenv.Pool(t)
	tn, err := tenants.NewStore(pool, testenv.Sealer(t), nil).Create(ctx, tenants.CreateInput{Slug: testenv.Slug("social")}, "test")
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, n)
	for i := range ids {
		if err := pool.QueryRow(ctx, `INSERT INTO users (tenant_id, id) VALUES ($1, next_user_id($1)) RETURNING id`, tn.ID).Scan(&ids[i]); err != nil {
			t.Fatal(err)
		}
	}
	return tn.ID, ids
}

func TestAccountsRoundTrip(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	accounts := social.NewAccounts(pool)
	tenant, users := newTenantUsers(t, 2)
	alice, bob := users[0], users[1]

	if _, err := accounts.Find(ctx, tenant, "google", "g-1"); !errors.Is(err, social.ErrAccountNotFound) {
		t.Fatalf("Find before connect: %v", err)
	}
	extra := map[string]any{"sub": "g-1", "email": "alice@example.com", "email_verified": true}
	acc, added, err := accounts.Connect(ctx, nil, tenant, alice, "google", "g-1", extra)
	if err != nil || !added {
		t.Fatalf("Connect: %v added=%v", err, added)
	}
	if acc.UserID != alice || acc.Provider != "google" || acc.UID != "g-1" || acc.ExtraData["email"] != "alice@example.com" ||
		acc.CreatedAt.IsZero() || acc.LastLogin.IsZero() {
		t.Errorf("account = %+v", acc)
	}
	found, err := accounts.Find(ctx, tenant, "google", "g-1")
	if err != nil || found.ID != acc.ID || found.ExtraData["email_verified"] != true {
		t.Fatalf("Find: %+v %v", found, err)
	}

	// Connecting again refreshes extra_data.
	acc2, added, err := accounts.Connect(ctx, nil, tenant, alice, "google", "g-1", map[string]any{"sub": "g-1", "name": "Alice"})
	if err != nil || added || acc2.ID != acc.ID || acc2.ExtraData["name"] != "Alice" {
		t.Errorf("reconnect: %+v added=%v %v", acc2, added, err)
	}
	// Another user cannot take it.
	if _, _, err := accounts.Connect(ctx, nil, tenant, bob, "google", "g-1", nil); !errors.Is(err, social.ErrConnectedOther) {
		t.Errorf("connect to another user: %v", err)
	}
	// The same uid at another provider (sub-id) is another account.
	if _, added, err := accounts.Connect(ctx, nil, tenant, bob, "acme-sso", "g-1", nil); err != nil || !added {
		t.Errorf("same uid, other provider: %v", err)
	}
	if _, _, err := accounts.Connect(ctx, nil, tenant, alice, "github", "583231", map[string]any{"login": "alice"}); err != nil {
		t.Fatal(err)
	}
	list, err := accounts.ListForUser(ctx, tenant, alice)
	if err != nil || len(list) != 2 || list[0].Provider != "google" || list[1].Provider != "github" {
		t.Fatalf("ListForUser: %+v %v", list, err)
	}
	if list, _ := accounts.ListForUser(ctx, uuid.New(), alice); len(list) != 0 {
		t.Error("another tenant sees the accounts")
	}

	// TouchLogin moves last_login and replaces extra_data when given.
	time.Sleep(10 * time.Millisecond)
	touched, err := accounts.TouchLogin(ctx, tenant, "github", "583231", map[string]any{"login": "alice2"})
	if err != nil || !touched.LastLogin.After(list[1].LastLogin) || touched.ExtraData["login"] != "alice2" {
		t.Errorf("TouchLogin: %+v %v", touched, err)
	}
	touched, err = accounts.TouchLogin(ctx, tenant, "github", "583231", nil)
	if err != nil || touched.ExtraData["login"] != "alice2" {
		t.Errorf("TouchLogin without extra: %+v %v", touched, err)
	}
	if _, err := accounts.TouchLogin(ctx, tenant, "github", "nope", nil); !errors.Is(err, social.ErrAccountNotFound) {
		t.Errorf("TouchLogin unknown: %v", err)
	}

	// Disconnect only the user's own account.
	disconnect := func(user int64) error {
		return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			return accounts.Disconnect(ctx, tx, tenant, user, "github", "583231")
		})
	}
	if err := disconnect(bob); !errors.Is(err, social.ErrAccountNotFound) {
		t.Errorf("disconnect another user's account: %v", err)
	}
	if err := disconnect(alice); err != nil {
		t.Fatal(err)
	}
	if _, err := accounts.Find(ctx, tenant, "github", "583231"); !errors.Is(err, social.ErrAccountNotFound) {
		t.Errorf("after disconnect: %v", err)
	}

	// Deleting the user deletes their accounts.
	if _, err := pool.Exec(ctx, `DELETE FROM users WHERE tenant_id = $1 AND id = $2`, tenant, alice); err != nil {
		t.Fatal(err)
	}
	if _, err := accounts.Find(ctx, tenant, "google", "g-1"); !errors.Is(err, social.ErrAccountNotFound) {
		t.Errorf("after user deletion: %v", err)
	}
}

func TestAccountsConnectInTransaction(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	accounts := social.NewAccounts(pool)
	tenant, _ := newTenantUsers(t, 0)

	// A social signup: the user and the account commit together or not at all.
	errAbort := errors.New("abort")
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO users (tenant_id, id) VALUES ($1, next_user_id($1)) RETURNING id`, tenant).Scan(&id); err != nil {
			return err
		}
		if _, _, err := accounts.Connect(ctx, tx, tenant, id, "apple", "001.abc", map[string]any{"sub": "001.abc"}); err != nil {
			return err
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatal(err)
	}
	if _, err := accounts.Find(ctx, tenant, "apple", "001.abc"); !errors.Is(err, social.ErrAccountNotFound) {
		t.Errorf("rolled back account exists: %v", err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var id int64
		if err := tx.QueryRow(ctx, `INSERT INTO users (tenant_id, id) VALUES ($1, next_user_id($1)) RETURNING id`, tenant).Scan(&id); err != nil {
			return err
		}
		_, _, err := accounts.Connect(ctx, tx, tenant, id, "apple", "001.abc", nil)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if acc, err := accounts.Find(ctx, tenant, "apple", "001.abc"); err != nil || len(acc.ExtraData) != 0 {
		t.Errorf("committed account: %+v %v", acc, err)
	}
	// A user that does not exist.
	if _, _, err := accounts.Connect(ctx, nil, tenant, 999999999, "apple", "x", nil); err == nil {
		t.Error("connected to a missing user")
	}
}
