package migrations_test

import (
	"context"
	"database/sql"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/migrations"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// Rows keyed by the old full case folding (console rows: strings.ToLower)
// are rekeyed; a value with no key under the new rules, and one that now
// shares its user's other address's key (or another console user's), are
// kept and reported; addresses of two users that now share a key are kept
// and reported.
func TestRekeyAddresses(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	tenant := uuid.New()
	if _, err := pool.Exec(ctx, `INSERT INTO tenants (id, slug, name) VALUES ($1, $2, 'Rekey')`, tenant, testenv.Slug("rekey")); err != nil {
		t.Fatal(err)
	}
	user := func(username, folded string) int64 {
		var id int64
		if err := pool.QueryRow(ctx, `INSERT INTO users (tenant_id, username, username_folded) VALUES ($1, $2, $3) RETURNING id`,
			tenant, username, folded).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	email := func(userID int64, email, folded string, primary bool) int64 {
		var id int64
		if err := pool.QueryRow(ctx, `INSERT INTO email_addresses (tenant_id, user_id, email, email_folded, is_primary) VALUES ($1, $2, $3, $4, $5)
			RETURNING id`, tenant, userID, email, folded, primary).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	// Old keys: cases.Fold of the stored text.
	sam := user("ſam", "sam")
	kim := user("Kim", "kim")
	eStrasse := email(sam, "victim@straße.de", "victim@strasse.de", true)
	eAlabel := email(sam, "victim@xn--strae-oqa.de", "victim@xn--strae-oqa.de", false) // the same address now
	eLongS := email(sam, "other@ſtrasse.de", "other@strasse.de", false)                // no key now
	eKim := email(kim, "victim@xn--strae-oqa.de", "victim@xn--strae-oqa.de", true)     // another user, now the same address
	eAscii := email(kim, "kim@example.com", "kim@example.com", false)

	// Console users: strings.ToLower keys; the second now shares the first's.
	ann, annAlabel, inv := uuid.New(), uuid.New(), uuid.New()
	for _, c := range []struct {
		id           uuid.UUID
		email, older string
	}{{ann, "Ann@Straße.de", "ann@straße.de"}, {annAlabel, "ann@xn--strae-oqa.de", "ann@xn--strae-oqa.de"}} {
		if _, err := pool.Exec(ctx, `INSERT INTO console_users (id, email, email_folded, password_hash) VALUES ($1, $2, $3, '')`,
			c.id, c.email, c.older); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := pool.Exec(ctx, `INSERT INTO console_invitations (id, tenant_id, email, email_folded, role, token_hash, created_at, expires_at)
		VALUES ($1, $2, 'Bob@STRAßE.de', 'bob@straße.de', 'viewer', sha256('x'), now(), now())`, inv, tenant); err != nil {
		t.Fatal(err)
	}

	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	var report migrations.RekeyReport
	err := func() error {
		tx, err := db.BeginTx(ctx, &sql.TxOptions{})
		if err != nil {
			return err
		}
		defer func() { _ = tx.Rollback() }()
		if report, err = migrations.RekeyAddresses(ctx, tx); err != nil {
			return err
		}
		return tx.Commit()
	}()
	if err != nil {
		t.Fatal(err)
	}
	keys := map[int64]string{}
	rows, err := pool.Query(ctx, `SELECT id, email_folded FROM email_addresses WHERE tenant_id = $1`, tenant)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var k string
		if err := rows.Scan(&id, &k); err != nil {
			t.Fatal(err)
		}
		keys[id] = k
	}
	for id, want := range map[int64]string{
		eStrasse: "victim@xn--strae-oqa.de",
		eAlabel:  " victim@xn--strae-oqa.de", // kept, the primary holds the key
		eLongS:   " other@ſtrasse.de",
		eKim:     "victim@xn--strae-oqa.de",
		eAscii:   "kim@example.com",
	} {
		if keys[id] != want {
			t.Errorf("address %d: key %q, want %q", id, keys[id], want)
		}
	}
	var samKey, kimKey string
	if err := pool.QueryRow(ctx, `SELECT username_folded FROM users WHERE tenant_id = $1 AND id = $2`, tenant, sam).Scan(&samKey); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT username_folded FROM users WHERE tenant_id = $1 AND id = $2`, tenant, kim).Scan(&kimKey); err != nil {
		t.Fatal(err)
	}
	if samKey != "ſam" || kimKey != "kim" {
		t.Errorf("username keys %q, %q; want ſam, kim", samKey, kimKey)
	}
	// A user may now take the username sam, which ſam held.
	if _, err := pool.Exec(ctx, `INSERT INTO users (tenant_id, username, username_folded) VALUES ($1, 'sam', 'sam')`, tenant); err != nil {
		t.Fatal(err)
	}
	var annKey, annAlabelKey, invKey string
	if err := pool.QueryRow(ctx, `SELECT (SELECT email_folded FROM console_users WHERE id = $1), (SELECT email_folded FROM console_users WHERE id = $2),
		(SELECT email_folded FROM console_invitations WHERE id = $3)`, ann, annAlabel, inv).Scan(&annKey, &annAlabelKey, &invKey); err != nil {
		t.Fatal(err)
	}
	if annKey != "ann@xn--strae-oqa.de" || annAlabelKey != " ann@xn--strae-oqa.de" || invKey != "bob@xn--strae-oqa.de" {
		t.Errorf("console keys %q, %q, %q", annKey, annAlabelKey, invKey)
	}
	if report.Invalid != 1 || report.Duplicate != 2 || report.Shared != 1 {
		t.Errorf("report %+v, want 1 invalid, 2 duplicates, 1 shared", report)
	}
	var platformEvents int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE tenant_id = '00000000-0000-0000-0000-000000000000'
		AND actor = 'migration:00013' AND action = 'address.key.duplicate'`).Scan(&platformEvents); err != nil || platformEvents != 1 {
		t.Errorf("%d platform events (%v), want 1", platformEvents, err)
	}
	var events int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND actor = 'migration:00013'
		AND action IN ('address.key.invalid', 'address.key.duplicate', 'address.key.shared')`, tenant).Scan(&events); err != nil {
		t.Fatal(err)
	}
	if events != 3 {
		t.Errorf("%d audit events, want 3", events)
	}
	// Rerunning changes nothing more.
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := migrations.RekeyAddresses(ctx, tx)
	if err != nil {
		t.Fatal(err)
	}
	_ = tx.Rollback()
	if again.Updated != 0 {
		t.Errorf("a rerun updated %d keys", again.Updated)
	}
}
