package migrations_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/migrations"
)

// rowIDTables are the tables 00020 gives random ids, with a statement
// inserting one row for a tenant ($1), one of its users ($2), a console
// user ($3) and a distinguishing number ($4), returning its id.
var rowIDTables = []struct{ table, insert string }{
	{"authenticators", `INSERT INTO authenticators (tenant_id, user_id, type, data, credential_id)
		VALUES ($1, $2, 'webauthn', 'sealed', convert_to($4::text || $3::uuid::text, 'UTF8')) RETURNING id`},
	{"email_addresses", `INSERT INTO email_addresses (tenant_id, user_id, email, email_folded)
		VALUES ($1, $2, $4::text || $3::uuid::text, $4::text || $3::uuid::text) RETURNING id`},
	{"social_accounts", `INSERT INTO social_accounts (tenant_id, user_id, provider, uid) VALUES ($1, $2, 'github', $4::text || $3::uuid::text) RETURNING id`},
	{"audit_events", `INSERT INTO audit_events (tenant_id, actor, action, target) VALUES ($1, 'cli', 'test', $4::text || $3::uuid::text || $2::bigint::text) RETURNING id`},
	{"console_authenticators", `INSERT INTO console_authenticators (user_id, type, data, credential_id)
		VALUES ($3, 'webauthn', 'sealed', convert_to($4::text || $1::uuid::text || $2::bigint::text, 'UTF8')) RETURNING id`},
}

// Migration 00020 on a database that already has rows: each keeps its id
// (and its place in creation order); new rows get ids that do not follow
// the shared sequence, within JavaScript's safe integers; rows written in
// one transaction get increasing creation times. Down and up round-trips.
func TestRandomRowIDsMigration(t *testing.T) {
	dbURL := scratchDatabase(t)
	ctx := context.Background()
	if _, err := migrations.UpTo(ctx, dbURL, 19); err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tn, console := uuid.New(), uuid.New()
	if _, err := conn.Exec(ctx, `INSERT INTO tenants (id, slug, name) VALUES ($1, 'mig-rows', 'mig-rows')`, tn); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO users (tenant_id, id) VALUES ($1, 1)`, tn); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO console_users (id, email, email_folded, password_hash) VALUES ($1, 'op@example.com', 'op@example.com', '')`, console); err != nil {
		t.Fatal(err)
	}
	insert := func(q string, n int) int64 {
		t.Helper()
		var id int64
		if err := conn.QueryRow(ctx, q, tn, int64(1), console, fmt.Sprint(n)).Scan(&id); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return id
	}
	before := map[string][]int64{}
	for _, tb := range rowIDTables {
		for n := range 3 {
			before[tb.table] = append(before[tb.table], insert(tb.insert, n))
		}
	}

	if _, err := migrations.Up(ctx, dbURL); err != nil {
		t.Fatal(err)
	}
	ids := func(table string) []int64 {
		t.Helper()
		rows, err := conn.Query(ctx, `SELECT id FROM `+table+` ORDER BY `+map[bool]string{true: "at", false: "created_at"}[table == "audit_events"]+`, id`)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for _, tb := range rowIDTables {
		if got := ids(tb.table); fmt.Sprint(got) != fmt.Sprint(before[tb.table]) {
			t.Fatalf("%s: ids %v after, %v before", tb.table, got, before[tb.table])
		}
		// New rows, three in one transaction.
		var fresh []int64
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			for n := 3; n < 6; n++ {
				var id int64
				if err := tx.QueryRow(ctx, tb.insert, tn, int64(1), console, fmt.Sprint(n)).Scan(&id); err != nil {
					return err
				}
				fresh = append(fresh, id)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", tb.table, err)
		}
		last := before[tb.table][2]
		for _, id := range fresh {
			if id < 1 || id > 1<<53-1 {
				t.Fatalf("%s: new id %d outside JavaScript's safe integers", tb.table, id)
			}
			if id > last && id <= last+10 {
				t.Fatalf("%s: new ids %v follow the sequence's %d", tb.table, fresh, last)
			}
		}
		// Creation order is the order of writing, in one transaction too.
		if got := ids(tb.table); fmt.Sprint(got) != fmt.Sprint(append(append([]int64{}, before[tb.table]...), fresh...)) {
			t.Fatalf("%s: listed as %v, written as %v then %v", tb.table, got, before[tb.table], fresh)
		}
	}

	if _, err := migrations.DownTo(ctx, dbURL, 19); err != nil {
		t.Fatal(err)
	}
	for _, tb := range rowIDTables {
		if got := ids(tb.table); len(got) != 6 {
			t.Fatalf("%s after down: %v", tb.table, got)
		}
		insert(tb.insert, 6)
	}
	if _, err := migrations.Up(ctx, dbURL); err != nil {
		t.Fatal(err)
	}
	for _, tb := range rowIDTables {
		insert(tb.insert, 7)
		if got := ids(tb.table); len(got) != 8 {
			t.Fatalf("%s after down and up: %v", tb.table, got)
		}
	}
}
