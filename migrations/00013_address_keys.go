package migrations

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/pressly/goose/v3"

	"github.com/hallpass/hallpass/internal/address"
)

// addressKeys is migration 00013 (issue 16): the comparison keys of
// addresses and usernames (email_addresses.email_folded,
// users.username_folded, console_users.email_folded,
// console_invitations.email_folded) were full Unicode case foldings, which
// merged different addresses (straße.de with strasse.de, ſ with s, ﬁ with
// fi). It recomputes them with address.EmailKey and address.UsernameKey. A
// Go migration: SQL has neither NFC with these case rules nor IDNA. There is
// no way down: the old keys merged distinct addresses.
var addressKeys = goose.NewGoMigration(13, &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
	r, err := RekeyAddresses(ctx, tx)
	if err != nil {
		return err
	}
	if r.Findings() > 0 {
		slog.Default().Warn("migration 00013: stored addresses or usernames needing attention (audit events address.key.*)",
			"invalid", r.Invalid, "duplicate", r.Duplicate, "shared", r.Shared)
	}
	return nil
}}, nil)

// RekeyReport counts what RekeyAddresses found; each finding is also an
// audit event (actor "migration:00013") in the tenant concerned, or in the
// platform's log for console users.
type RekeyReport struct {
	// Updated is how many keys changed.
	Updated int
	// Invalid stored values have no key under the new rules (invalid UTF-8,
	// control characters, a domain IDNA refuses or would rewrite, such as
	// one with ſ): the row is kept, with a key no lookup produces (a space
	// and the stored text), so it is found by no typed address; its mail
	// still goes to it. Event address.key.invalid.
	Invalid int
	// Duplicate: one user (or, for usernames and console users, one
	// tenant or the platform) holds two values that now share a key (an
	// A-label and its U-label, e.g.): the first (primary, verified, oldest)
	// keeps the key, the others are kept with an unmatchable key as Invalid.
	// Event address.key.duplicate.
	Duplicate int
	// Shared: different users of a tenant hold addresses that now share a
	// key. Nothing is changed (without ACCOUNT_UNIQUE_EMAIL that is allowed;
	// with it, lookups find both users, and mail about each account goes to
	// that account's own stored address). Event address.key.shared.
	Shared int
}

// Findings is how many rows need an operator's look.
func (r RekeyReport) Findings() int { return r.Invalid + r.Duplicate + r.Shared }

// unmatchable is the key of a value that must keep its row but match no
// lookup: keys never hold a space.
func unmatchable(stored string) string { return " " + stored }

type rekeyRow struct {
	tenant, id, owner string // owner: the user id (emails) or "" (one namespace per tenant)
	value, key        string
}

type rekeyChange struct {
	tenant, id, key string
}

// rekeyTable describes one key column.
type rekeyTable struct {
	name, idCol, valueCol, keyCol, tenantCol, ownerCol, order string
	keyOf                                                     func(string) (string, error)
	// uniqueBy is the scope in which keys must be unique: "owner" (per
	// user), "tenant" or "" (not unique).
	uniqueBy string
}

var rekeyTables = []rekeyTable{
	{name: "email_addresses", idCol: "id::text", valueCol: "email", keyCol: "email_folded", tenantCol: "tenant_id::text", ownerCol: "user_id::text",
		order: "tenant_id, user_id, is_primary DESC, verified DESC, id", keyOf: address.EmailKey, uniqueBy: "owner"},
	{name: "users", idCol: "id::text", valueCol: "username", keyCol: "username_folded", tenantCol: "tenant_id::text", ownerCol: "''",
		order: "tenant_id, id", keyOf: address.UsernameKey, uniqueBy: "tenant"},
	{name: "console_users", idCol: "id::text", valueCol: "email", keyCol: "email_folded", tenantCol: "''", ownerCol: "''",
		order: "created_at, id", keyOf: address.EmailKey, uniqueBy: "tenant"},
	{name: "console_invitations", idCol: "id::text", valueCol: "email", keyCol: "email_folded", tenantCol: "tenant_id::text", ownerCol: "''",
		order: "tenant_id, created_at, id", keyOf: address.EmailKey},
}

// RekeyAddresses recomputes every stored comparison key of addresses and
// usernames with the current rules (package address) in tx, keeping every
// row, and records what needs attention (RekeyReport). It is migration
// 00013's body, exported so that it can be rerun (a Unicode table update
// could change a key) and tested.
func RekeyAddresses(ctx context.Context, tx *sql.Tx) (RekeyReport, error) {
	var r RekeyReport
	for _, tb := range rekeyTables {
		if err := rekeyTableIn(ctx, tx, tb, &r); err != nil {
			return r, fmt.Errorf("migrate 00013: %s: %w", tb.name, err)
		}
	}
	return r, nil
}

func rekeyTableIn(ctx context.Context, tx *sql.Tx, tb rekeyTable, r *RekeyReport) error {
	rows, err := tx.QueryContext(ctx, fmt.Sprintf(`SELECT %s, %s, %s, %s, %s FROM %s WHERE %s IS NOT NULL ORDER BY %s`,
		tb.tenantCol, tb.idCol, tb.ownerCol, tb.valueCol, tb.keyCol, tb.name, tb.valueCol, tb.order))
	if err != nil {
		return err
	}
	var changes []rekeyChange
	type event struct {
		tenant, action, target string
		details                map[string]any
	}
	var events []event
	// Who holds each key: per tenant, and per owner within it.
	type holder struct{ owner, oldKey string }
	scope, holders, firstOwner := "", map[string]string{}, map[string]holder{}
	for rows.Next() {
		var row rekeyRow
		if err := rows.Scan(&row.tenant, &row.id, &row.owner, &row.value, &row.key); err != nil {
			rows.Close()
			return err
		}
		if row.tenant != scope {
			scope, holders, firstOwner = row.tenant, map[string]string{}, map[string]holder{}
		}
		details := map[string]any{"table": tb.name, "id": row.id}
		if row.owner != "" {
			details["user_id"] = row.owner
		}
		key, err := tb.keyOf(row.value)
		switch {
		case err != nil:
			key = unmatchable(row.value)
			r.Invalid++
			events = append(events, event{row.tenant, "address.key.invalid", row.value, details})
		case tb.uniqueBy != "":
			slot := key
			if tb.uniqueBy == "owner" {
				slot = row.owner + "\x00" + key
			}
			if other, taken := holders[slot]; taken {
				key = unmatchable(row.value)
				r.Duplicate++
				details["kept_id"] = other
				events = append(events, event{row.tenant, "address.key.duplicate", row.value, details})
				break
			}
			holders[slot] = row.id
			if tb.uniqueBy == "owner" {
				// Shared only if newly so: users of a tenant without
				// ACCOUNT_UNIQUE_EMAIL may hold one address already.
				if first, ok := firstOwner[key]; ok && first.owner != row.owner && first.oldKey != row.key {
					r.Shared++
					details["other_user_id"] = first.owner
					events = append(events, event{row.tenant, "address.key.shared", row.value, details})
				} else if !ok {
					firstOwner[key] = holder{row.owner, row.key}
				}
			}
		}
		if key != row.key {
			changes = append(changes, rekeyChange{row.tenant, row.id, key})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	tenantCond := "t.tenant_id::text = c.tenant"
	if tb.tenantCol == "''" {
		tenantCond = "true"
	}
	// Two steps, so that no row takes a key another row gives up later in
	// the same statement (unique indexes are checked row by row): first a
	// placeholder no key can equal, then the key.
	for _, step := range []string{`' pending ' || c.id`, `c.key`} {
		for start := 0; start < len(changes); start += 5000 {
			batch := changes[start:min(start+5000, len(changes))]
			tenants, ids, keys := make([]string, len(batch)), make([]string, len(batch)), make([]string, len(batch))
			for i, c := range batch {
				tenants[i], ids[i], keys[i] = c.tenant, c.id, c.key
			}
			q := fmt.Sprintf(`UPDATE %s t SET %s = %s FROM unnest($1::text[], $2::text[], $3::text[]) AS c(tenant, id, key)
				WHERE %s AND t.%s = c.id`, tb.name, tb.keyCol, step, tenantCond, tb.idCol)
			if _, err := tx.ExecContext(ctx, q, tenants, ids, keys); err != nil {
				return err
			}
		}
	}
	r.Updated += len(changes)
	for _, e := range events {
		tenant := e.tenant
		if tenant == "" {
			tenant = "00000000-0000-0000-0000-000000000000" // the platform's log (audit.Platform)
		}
		details, err := json.Marshal(e.details)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_events (tenant_id, actor, action, target, details) VALUES ($1::uuid, $2, $3, $4, $5::jsonb)`,
			tenant, "migration:00013", e.action, e.target, string(details)); err != nil {
			return err
		}
	}
	return nil
}
