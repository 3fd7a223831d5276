package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/internal/seed"
	"github.com/hallpass/hallpass/internal/testenv"
)

// hallpass seed loads tenants, users, addresses and sessions; a seeded user
// logs in with the seed password, and seeding again replaces the set.
func TestSeedCommand(t *testing.T) {
	prefix := strings.TrimSuffix(testenv.Slug("sd"), "-")[:10] + "-"
	settings := `{"ACCOUNT_LOGIN_METHODS":["email"],"ACCOUNT_EMAIL_VERIFICATION":"none","ACCOUNT_RATE_LIMITS":false}`
	for round := 0; round < 2; round++ {
		code, out, errOut := hallpass(t, settings, nil, "seed", "--prefix", prefix, "--tenants", "3", "--users", "31",
			"--sessions-per-user", "2", "--password", "seeded horse battery", "--settings", "-")
		if code != 0 {
			t.Fatalf("seed: %d %s", code, errOut)
		}
		var st map[string]any
		if err := json.Unmarshal([]byte(out), &st); err != nil || st["users"] != float64(31) || st["sessions"] != float64(62) {
			t.Fatalf("seed output: %v %s", err, out)
		}
	}
	pool := testenv.Pool(t)
	var tenants, users, primaries, sessions int
	if err := pool.QueryRow(context.Background(), `SELECT count(DISTINCT t.id), count(DISTINCT (u.tenant_id, u.id)), count(DISTINCT e.id) FILTER (WHERE e.is_primary AND e.verified),
		(SELECT count(*) FROM sessions s JOIN tenants t2 ON t2.id = s.tenant_id WHERE starts_with(t2.slug, $1))
		FROM tenants t JOIN users u ON u.tenant_id = t.id JOIN email_addresses e ON e.tenant_id = t.id AND e.user_id = u.id
		WHERE starts_with(t.slug, $1)`, prefix).Scan(&tenants, &users, &primaries, &sessions); err != nil {
		t.Fatal(err)
	}
	if tenants != 3 || users != 31 || primaries != 31 || sessions != 62 {
		t.Fatalf("after two seeds: %d tenants, %d users, %d primary addresses, %d sessions", tenants, users, primaries, sessions)
	}
	// Each seeded tenant numbers its users from 1, and its counter goes on
	// from the last.
	var lo, hi, next int64
	if err := pool.QueryRow(context.Background(), `SELECT min(u.id), max(u.id), (SELECT last_id FROM user_id_counters c WHERE c.tenant_id = t.id)
		FROM tenants t JOIN users u ON u.tenant_id = t.id WHERE t.slug = $1 GROUP BY t.id`, seed.Slug(prefix, 1)).Scan(&lo, &hi, &next); err != nil {
		t.Fatal(err)
	}
	if lo != 1 || hi != 10 || next != 10 {
		t.Fatalf("seeded tenant 1: ids %d..%d, counter at %d", lo, hi, next)
	}
	// 31 users over 3 tenants: 11, 10, 10. The last user of tenant 0 logs in.
	n := startNode(t)
	slug := seed.Slug(prefix, 0)
	code, res := n.call(t, slug, "POST", "auth/login", "", `{"email":"`+seed.Email(slug, 10)+`","password":"seeded horse battery"}`)
	if code != 200 || jsonAt(res, "data", "user", "email") != seed.Email(slug, 10) {
		t.Fatalf("seeded user login: %d %v", code, res)
	}
	if code, _ := n.call(t, slug, "POST", "auth/login", "", `{"email":"`+seed.Email(slug, 11)+`","password":"seeded horse battery"}`); code != 400 {
		t.Fatalf("a user beyond the tenant's share: %d", code)
	}
	if code, _, _ := hallpass(t, "", nil, "seed", "--prefix", "Bad Prefix", "--tenants", "1", "--users", "1"); code == 0 {
		t.Fatal("a bad prefix was accepted")
	}
}
