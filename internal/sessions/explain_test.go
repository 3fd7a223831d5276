package sessions

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/seed"
	"github.com/hallpass/hallpass/internal/testenv"
)

// The session store's hot queries use their indexes on tables of realistic
// size: 100,000 users over 50 tenants (with an address and a session each,
// and a refresh token per session), loaded by COPY as `hallpass seed` does
// and ANALYZEd (testenv.CheckPlans: with parameters and as a generic plan,
// no sequential scan, the indexes named).
func TestHotQueryPlans(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	st, err := seed.Load(ctx, pool, seed.Options{Prefix: "plan-", Tenants: 50, Users: 100_000, SessionsPerUser: 1, PasswordHash: "!seed"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Users != 100_000 || st.Sessions != 100_000 {
		t.Fatalf("seeded %+v", st)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO refresh_tokens (tenant_id, jti, session_id, family, expires_at)
		SELECT s.tenant_id, gen_random_uuid(), s.id, gen_random_uuid(), now() + interval '1 day' FROM sessions s
		JOIN tenants t ON t.id = s.tenant_id WHERE starts_with(t.slug, 'plan-');
		ANALYZE refresh_tokens`); err != nil {
		t.Fatal(err)
	}
	// A tenant in the middle, one of its users, that user's session and token.
	slug := seed.Slug("plan-", 25)
	var tenant uuid.UUID
	var user int64
	var session []byte
	var jti uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT t.id, u.id, s.id, r.jti FROM tenants t JOIN users u ON u.tenant_id = t.id
		JOIN sessions s ON s.tenant_id = t.id AND s.user_id = u.id JOIN refresh_tokens r ON r.tenant_id = t.id AND r.session_id = s.id
		WHERE t.slug = $1 AND u.username = 'u1000'`, slug).Scan(&tenant, &user, &session, &jti); err != nil {
		t.Fatal(err)
	}
	methods, data := []byte(`[]`), []byte(`{}`)
	now := time.Now()
	testenv.CheckPlans(t, pool, []testenv.PlanCase{
		{Name: "session lookup (GET auth/session after a Redis miss)", SQL: sqlLookupSession, Args: []any{tenant, session},
			Indexes: []string{"sessions_pkey", "users_pkey", "email_addresses_one_primary"}},
		{Name: "session save", SQL: sqlSaveSession, Args: []any{tenant, session, user, "app", string(methods), string(data), "127.0.0.1", "ua", now, now.Add(time.Hour)},
			Indexes: []string{"users_pkey", "email_addresses_one_primary"}},
		{Name: "session update", SQL: sqlUpdateSession, Args: []any{tenant, session, string(methods), string(data)},
			Indexes: []string{"sessions_pkey", "users_pkey", "email_addresses_one_primary"}},
		{Name: "user's sessions (UserChanged)", SQL: sqlUserSessionIDs, Args: []any{tenant, user}, Indexes: []string{"sessions_user"}},
		{Name: "refresh rotation", SQL: sqlRotateRefresh, Args: []any{tenant, jti, uuid.New(), now.Add(time.Hour)},
			Indexes: []string{"refresh_tokens_pkey", "sessions_pkey"}},
		{Name: "refresh rotation batch", SQL: sqlRotateBatch,
			Args:    []any{[]uuid.UUID{tenant, tenant}, []uuid.UUID{jti, uuid.New()}, []uuid.UUID{uuid.New(), uuid.New()}, []time.Time{now.Add(time.Hour), now.Add(time.Hour)}},
			Indexes: []string{"refresh_tokens_pkey", "sessions_pkey"}},
		{Name: "refresh check", SQL: sqlCheckRefresh, Args: []any{tenant, jti}, Indexes: []string{"refresh_tokens_pkey", "sessions_pkey"}},
	})
}
