package identity

import (
	"context"
	"testing"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/seed"
	"github.com/hallpass/hallpass/internal/testenv"
)

// The user reads of the hot paths use their indexes on tables of realistic
// size: 100,000 users over 50 tenants, with an address each, loaded by COPY
// as `hallpass seed` does and ANALYZEd (testenv.CheckPlans: with parameters
// and as a generic plan, no sequential scan, the indexes named). The
// session store's statements are checked in package sessions.
func TestHotQueryPlans(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	st, err := seed.Load(ctx, pool, seed.Options{Prefix: "plan-", Tenants: 50, Users: 100_000, PasswordHash: "!seed"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Users != 100_000 {
		t.Fatalf("seeded %+v", st)
	}
	// A tenant in the middle and one of its users.
	slug := seed.Slug("plan-", 25)
	var tenant uuid.UUID
	var user int64
	if err := pool.QueryRow(ctx, `SELECT t.id, u.id FROM tenants t JOIN users u ON u.tenant_id = t.id
		WHERE t.slug = $1 AND u.username = 'u1000'`, slug).Scan(&tenant, &user); err != nil {
		t.Fatal(err)
	}
	testenv.CheckPlans(t, pool, []testenv.PlanCase{
		{Name: "user by id", SQL: sqlUserByID, Args: []any{tenant, user}, Indexes: []string{"users_pkey", "email_addresses_one_primary"}},
		{Name: "users by email (password login)", SQL: sqlUsersByEmail, Args: []any{tenant, emailKey(seed.Email(slug, 1000))},
			Indexes: []string{"email_addresses_email", "users_pkey"}},
	})
}
