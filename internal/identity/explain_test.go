package identity

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/seed"
	"github.com/hallpass/hallpass/internal/testenv"
)

// planNode is the part of EXPLAIN (FORMAT JSON) the checks read.
type planNode struct {
	NodeType  string     `json:"Node Type"`
	Relation  string     `json:"Relation Name"`
	IndexName string     `json:"Index Name"`
	Plans     []planNode `json:"Plans"`
}

func (n planNode) walk(visit func(planNode)) {
	visit(n)
	for _, c := range n.Plans {
		c.walk(visit)
	}
}

// The hot paths' queries use their indexes on tables of realistic size:
// 100,000 users over 50 tenants (with an address and a session each, and a
// refresh token per session), loaded by COPY as `hallpass seed` does and
// ANALYZEd. Each query is explained with its parameters (the custom plan)
// and as a generic plan (what a prepared statement falls back to after five
// executions); neither may scan a table sequentially, and each must use the
// index named.
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
	var lit func(v any) string
	lit = func(v any) string {
		switch v := v.(type) {
		case []uuid.UUID:
			return "ARRAY[" + strings.Join(mapLit(v, lit), ", ") + "]::uuid[]"
		case []time.Time:
			return "ARRAY[" + strings.Join(mapLit(v, lit), ", ") + "]::timestamptz[]"
		case uuid.UUID:
			return "'" + v.String() + "'::uuid"
		case []byte:
			return `'\x` + hex.EncodeToString(v) + "'::bytea"
		case int64:
			return fmt.Sprint(v)
		case string:
			return "'" + strings.ReplaceAll(v, "'", "''") + "'"
		case time.Time:
			return "'" + v.UTC().Format(time.RFC3339) + "'::timestamptz"
		}
		t.Fatalf("no literal for %T", v)
		return ""
	}
	methods, data := []byte(`[]`), []byte(`{}`)
	now := time.Now()
	cases := []struct {
		name    string
		sql     string
		args    []any
		indexes []string
	}{
		{"session lookup (GET auth/session after a Redis miss)", sqlLookupSession, []any{tenant, session},
			[]string{"sessions_pkey", "users_pkey", "email_addresses_one_primary"}},
		{"session save", sqlSaveSession, []any{tenant, session, user, "app", string(methods), string(data), "127.0.0.1", "ua", now, now.Add(time.Hour)},
			[]string{"users_pkey", "email_addresses_one_primary"}},
		{"session update", sqlUpdateSession, []any{tenant, session, string(methods), string(data)},
			[]string{"sessions_pkey", "users_pkey", "email_addresses_one_primary"}},
		{"user by id", sqlUserByID, []any{tenant, user}, []string{"users_pkey", "email_addresses_one_primary"}},
		{"users by email (password login)", sqlUsersByEmail, []any{tenant, emailKey(seed.Email(slug, 1000))},
			[]string{"email_addresses_email", "users_pkey"}},
		{"user's sessions (UserChanged)", sqlUserSessionIDs, []any{tenant, user}, []string{"sessions_user"}},
		{"refresh rotation", sqlRotateRefresh, []any{tenant, jti, uuid.New(), now.Add(time.Hour)},
			[]string{"refresh_tokens_pkey", "sessions_pkey"}},
		{"refresh rotation batch", sqlRotateBatch,
			[]any{[]uuid.UUID{tenant, tenant}, []uuid.UUID{jti, uuid.New()}, []uuid.UUID{uuid.New(), uuid.New()}, []time.Time{now.Add(time.Hour), now.Add(time.Hour)}},
			[]string{"refresh_tokens_pkey", "sessions_pkey"}},
		{"refresh check", sqlCheckRefresh, []any{tenant, jti}, []string{"refresh_tokens_pkey", "sessions_pkey"}},
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for _, c := range cases {
		for _, generic := range []bool{false, true} {
			var raw []byte
			if !generic {
				if _, err := conn.Exec(ctx, `SET plan_cache_mode = auto`); err != nil {
					t.Fatal(err)
				}
				err = conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+c.sql, c.args...).Scan(&raw)
			} else {
				if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`); err != nil {
					t.Fatal(err)
				}
				if _, err := conn.Exec(ctx, "PREPARE hot AS "+c.sql); err != nil {
					t.Fatalf("%s: prepare: %v", c.name, err)
				}
				lits := make([]string, len(c.args))
				for i, a := range c.args {
					lits[i] = lit(a)
				}
				err = conn.QueryRow(ctx, "EXPLAIN (FORMAT JSON) EXECUTE hot("+strings.Join(lits, ", ")+")").Scan(&raw)
				if _, derr := conn.Exec(ctx, `DEALLOCATE hot`); derr != nil {
					t.Fatal(derr)
				}
			}
			if err != nil {
				t.Fatalf("%s: explain: %v", c.name, err)
			}
			var plans []struct {
				Plan planNode `json:"Plan"`
			}
			if err := json.Unmarshal(raw, &plans); err != nil || len(plans) != 1 {
				t.Fatalf("%s: plan %s: %v", c.name, raw, err)
			}
			var used []string
			plans[0].Plan.walk(func(n planNode) {
				if n.NodeType == "Seq Scan" {
					t.Errorf("%s (generic %v): sequential scan of %s\n%s", c.name, generic, n.Relation, raw)
				}
				if n.IndexName != "" {
					used = append(used, n.IndexName)
				}
			})
			for _, want := range c.indexes {
				if !slices.Contains(used, want) {
					t.Errorf("%s (generic %v): index %s not used (used %v)\n%s", c.name, generic, want, used, raw)
				}
			}
		}
	}
	if _, err := conn.Exec(ctx, `RESET plan_cache_mode`); err != nil {
		t.Fatal(err)
	}
}

// mapLit renders each of vs with lit.
func mapLit[T any](vs []T, lit func(any) string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = lit(v)
	}
	return out
}
