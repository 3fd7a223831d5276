package archtest

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// owners says which package owns each table: only code in that package
// (or a package under it) runs SQL on it; everyone else calls the owner's
// operations, which carry the table's cache invalidation and audit. One
// entry per table the migrations create.
var owners = map[string]string{
	// Tenants and what configures them.
	"tenants":          "tenants",
	"tenant_domains":   "tenants",
	"settings_history": "tenants",
	"signing_keys":     "tenants",
	// A tenant's users and their addresses.
	"users":                "internal/identity",
	"email_addresses":      "internal/identity",
	"user_login_addresses": "internal/identity",
	"user_id_counters":     "internal/identity",
	// Their sessions and the refresh tokens bound to them.
	"sessions":       "internal/sessions",
	"refresh_tokens": "internal/sessions",
	// Second factors, of tenant users and of console users.
	"authenticators":         "internal/mfa",
	"console_authenticators": "internal/mfa",
	// Connected provider accounts.
	"social_accounts": "internal/social",
	// Mail and the trail.
	"outbox":       "internal/mail",
	"dev_inbox":    "internal/mail",
	"audit_events": "internal/audit",
	// What happened to a tenant's users, for the tenant's backend.
	"events": "internal/events",

	"webhook_endpoints":  "internal/webhooks",
	"webhook_messages":   "internal/webhooks",
	"webhook_deliveries": "internal/webhooks",
	"webhook_attempts":   "internal/webhooks",
	// The management API's keys.
	"api_keys": "internal/apikeys",
	// Bulk user imports queued through the management API.
	"import_jobs": "internal/importjobs",
	// The console's own users, roles and sessions.
	"console_users":       "console",
	"memberships":         "console",
	"console_sessions":    "console",
	"console_invitations": "console",
	"console_login_flows": "console",
}

// reads lets a package read, never change, tables another package owns;
// each grant says why the owner's operations would not do.
var reads = map[string][]string{
	// A session lookup and save carry the user's summary (username, active
	// flag, password usability, primary address) in the same statement:
	// one round trip on every authenticated request that misses the
	// caches (sessions.sqlLookupSession, sqlSaveSession, sqlUpdateSession).
	"internal/sessions": {"users", "email_addresses"},
	// The management API's get-user reads the user, their addresses and
	// the types of their second factors in one statement: one round trip
	// on every such request (identity.UserAdmin.AccountView).
	"internal/identity": {"authenticators"},
	// An event's message names its tenant by slug, read in the query that
	// queues it (no round trip more in the change's transaction), and the
	// owners' mail names the tenant.
	"internal/webhooks": {"tenants"},
}

// root is the repository's root, from this package's directory.
const root = "../.."

var createTable = regexp.MustCompile(`(?i)CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"?([a-z_][a-z0-9_]*)"?`)

// Every table the migrations create has exactly one owner, and every owner
// entry names a table that exists.
func TestEveryTableHasAnOwner(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(root, "migrations", "*"))
	if err != nil {
		t.Fatal(err)
	}
	created := map[string]bool{}
	for _, f := range files {
		if !strings.HasSuffix(f, ".sql") && !strings.HasSuffix(f, ".go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range createTable.FindAllStringSubmatch(string(b), -1) {
			created[strings.ToLower(m[1])] = true
		}
	}
	if len(created) < 10 {
		t.Fatalf("found only %d tables in the migrations: %v", len(created), slices.Sorted(maps.Keys(created)))
	}
	for table := range created {
		if _, ok := owners[table]; !ok {
			t.Errorf("table %s (migrations) has no owner: add it to owners", table)
		}
	}
	for table, owner := range owners {
		if !created[table] {
			t.Errorf("owners names %s, which no migration creates", table)
		}
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(owner))); err != nil {
			t.Errorf("owner of %s: %v", table, err)
		}
	}
}

// No package runs SQL on a table another package owns (beyond the reads
// granted above, which never change a row). The test lists
// every call to Exec, Query, QueryRow, CopyFrom, SendBatch and a batch's
// Queue (and every statement held in a string literal) per package, in
// the repository's non-test, non-generated Go files outside migrations/;
// run it with -v to see the list.
func TestStoresOwnTheirTables(t *testing.T) {
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("not at the repository root: %v", err)
	}
	sites, err := Scan(root, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	byPackage := map[string][]Site{}
	for _, s := range sites {
		byPackage[s.Package] = append(byPackage[s.Package], s)
	}
	if len(byPackage["internal/identity"]) == 0 || len(byPackage["tenants"]) == 0 || len(byPackage["console"]) == 0 {
		t.Fatalf("the scan found too little: %d sites in %v", len(sites), slices.Sorted(maps.Keys(byPackage)))
	}
	for _, pkg := range slices.Sorted(maps.Keys(byPackage)) {
		tables := map[string]bool{}
		for _, s := range byPackage[pkg] {
			for _, table := range s.Tables {
				if _, ok := owners[table]; ok {
					tables[table] = true
				}
			}
		}
		t.Logf("%s: %d sites; tables %s", pkg, len(byPackage[pkg]), strings.Join(slices.Sorted(maps.Keys(tables)), ", "))
		if testing.Verbose() {
			for _, s := range byPackage[pkg] {
				var named []string
				for _, table := range s.Tables {
					if _, ok := owners[table]; ok {
						named = append(named, table)
					}
				}
				t.Logf("    %s %s %v", s.Pos, s.Call, named)
			}
		}
	}
	for pkg, tables := range reads {
		for _, table := range tables {
			if Owns(owners[table], pkg) {
				t.Errorf("reads grants %s its own table %s", pkg, table)
			}
		}
	}
	for _, v := range Check(sites, owners, reads) {
		t.Error(v)
	}
}
