package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/testenv"
)

func TestAPIKeyCommands(t *testing.T) {
	slug := testenv.Slug("cli-apikey")
	if code, _, errOut := hallpass(t, "", nil, "tenant", "create", slug); code != 0 {
		t.Fatalf("tenant create: %s", errOut)
	}
	// create prints the secret alone on stdout's first line.
	code, out, errOut := hallpass(t, "", nil, "apikey", "create", "--tenant", slug, "--scopes", "users:read,users:write", "--name", "ci", "--expires", "90d")
	if code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	secret := strings.TrimSuffix(out, "\n")
	if !apikeys.WellFormed(secret) || strings.Contains(secret, "\n") {
		t.Fatalf("stdout %q is not the secret alone", out)
	}
	if !strings.Contains(errOut, "users:read,users:write") || !strings.Contains(errOut, "tenant "+slug) || strings.Contains(errOut, secret) {
		t.Errorf("details on stderr: %q", errOut)
	}
	pool := testenv.Pool(t)
	k, err := apikeys.NewStore(pool).Authenticate(context.Background(), secret)
	if err != nil || k.CreatedBy != "cli" || k.Name != "ci" || k.ExpiresAt == nil || !k.Can(apikeys.UsersWrite) {
		t.Fatalf("the created key: %+v %v", k, err)
	}

	// --json: {"id","key","prefix","scopes","expires_at"}.
	code, out, errOut = hallpass(t, "", nil, "apikey", "create", "--platform", "--scopes", "tenants:read", "--json")
	if code != 0 {
		t.Fatalf("create --json: %s", errOut)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(out), &created); err != nil || len(created) != 5 || created["expires_at"] != nil ||
		!apikeys.WellFormed(created["key"].(string)) || !strings.HasPrefix(created["key"].(string), created["prefix"].(string)) {
		t.Fatalf("create --json: %v %s", err, out)
	}
	platformID := created["id"].(string)

	// list: the tenant's keys; the platform's; all.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tenant", slug}, k.ID.String()},
		{[]string{"--platform"}, platformID},
		{nil, k.ID.String()},
	} {
		code, out, errOut := hallpass(t, "", nil, append([]string{"apikey", "list"}, tc.args...)...)
		var list []map[string]any
		if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
			t.Fatalf("list %v: %d %s %s", tc.args, code, out, errOut)
		}
		found := false
		for _, e := range list {
			if e["id"] == tc.want {
				found = true
				if e["id"] == k.ID.String() && (e["tenant"] != slug || e["name"] != "ci" || e["created_by"] != "cli" || e["prefix"] != k.Prefix) {
					t.Errorf("list %v shows %v", tc.args, e)
				}
			}
			if strings.Contains(out, secret[len(k.Prefix):]) {
				t.Fatal("list shows a secret")
			}
		}
		if !found {
			t.Errorf("list %v lacks %s: %s", tc.args, tc.want, out)
		}
		if len(tc.args) > 0 && tc.args[0] == "--tenant" && len(list) != 1 {
			t.Errorf("list --tenant shows %d keys", len(list))
		}
	}

	// revoke: the key no longer authenticates.
	if code, out, errOut := hallpass(t, "", nil, "apikey", "revoke", k.ID.String()); code != 0 || !strings.Contains(out, `"revoked_at"`) {
		t.Fatalf("revoke: %d %s %s", code, out, errOut)
	}
	if _, err := apikeys.NewStore(pool).Authenticate(context.Background(), secret); err == nil {
		t.Fatal("a revoked key authenticates")
	}
}

func TestAPIKeyBadInput(t *testing.T) {
	slug := testenv.Slug("cli-apikey-bad")
	if code, _, errOut := hallpass(t, "", nil, "tenant", "create", slug); code != 0 {
		t.Fatalf("tenant create: %s", errOut)
	}
	pool := testenv.Pool(t)
	count := func() int {
		var n int
		if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM api_keys`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	for _, tc := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"create", "--scopes", "users:read"}, 2, "--tenant SLUG or --platform"},
		{[]string{"create", "--tenant", slug, "--platform", "--scopes", "users:read"}, 2, "not both"},
		{[]string{"create", "--tenant", slug}, 2, "--scopes is required"},
		{[]string{"create", "--tenant", slug, "--scopes", "users:delete"}, 2, `unknown scope "users:delete"`},
		{[]string{"create", "--tenant", slug, "--scopes", "tenants:write"}, 2, "platform keys only"},
		{[]string{"create", "--tenant", slug, "--scopes", "users:read", "--expires", "soon"}, 2, `expiry "soon"`},
		{[]string{"create", "--tenant", slug, "--scopes", "users:read", "--expires", "2020-01-01"}, 2, "not in the future"},
		{[]string{"create", "--tenant", slug, "--scopes", "users:read", "--expires", "-5d"}, 2, "positive number of days"},
		{[]string{"create", "--tenant", "no-such-" + slug, "--scopes", "users:read"}, 1, "not found"},
		{[]string{"list", "--tenant", "no-such-" + slug}, 1, "not found"},
		{[]string{"list", "--scopes", "users:read"}, 2, "does not apply"},
		{[]string{"revoke"}, 2, "ID is required"},
		{[]string{"revoke", "nope"}, 2, "not a key id"},
		{[]string{"revoke", uuid.NewString()}, 1, "no API key"},
		{[]string{"frobnicate"}, 2, "unknown subcommand"},
	} {
		code, out, errOut := hallpass(t, "", nil, append([]string{"apikey"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.says) || (code != 0 && strings.TrimSpace(out) != "") {
			t.Errorf("apikey %v: exit %d (want %d), stdout %q, stderr %q (want %q)", tc.args, code, tc.code, out, errOut, tc.says)
		}
	}
	if after := count(); after != before {
		t.Errorf("refused commands wrote %d keys", after-before)
	}
}
