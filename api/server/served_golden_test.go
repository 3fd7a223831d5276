package server_test

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/api/server"
	"github.com/hallpass/hallpass/tenants"
)

// updateServed rewrites testdata/served.golden from the current catalog.
var updateServed = flag.Bool("update-served", false, "rewrite testdata/served.golden")

// servedConfigs are the tenant configurations whose served routes are
// pinned in testdata/served.golden: how the catalog is composed may
// change, what each configuration serves to each client may not.
var servedConfigs = []struct {
	name     string
	settings map[string]any
}{
	{"defaults", nil},
	{"app only", map[string]any{"HEADLESS_CLIENTS": []string{"app"}}},
	{"browser only", map[string]any{"HEADLESS_CLIENTS": []string{"browser"}}},
	{"login by code", map[string]any{"ACCOUNT_LOGIN_BY_CODE_ENABLED": true}},
	{"no optional apps", map[string]any{"HALLPASS_APPS": []string{}}},
	{"social only", map[string]any{"SOCIALACCOUNT_ONLY": true, "ACCOUNT_EMAIL_VERIFICATION": "none",
		"HALLPASS_APPS": []string{"socialaccount", "usersessions"}}},
	{"every mfa type", map[string]any{"MFA_SUPPORTED_TYPES": []string{"totp", "recovery_codes", "webauthn"},
		"MFA_PASSKEY_LOGIN_ENABLED": true, "MFA_PASSKEY_SIGNUP_ENABLED": true, "MFA_TRUST_ENABLED": true,
		"ACCOUNT_SIGNUP_FIELDS": []string{"email*", "username*", "password1*"}, "ACCOUNT_EMAIL_VERIFICATION": "mandatory",
		"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true, "MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN": true}},
	{"totp only", map[string]any{"MFA_SUPPORTED_TYPES": []string{"totp"}}},
	{"webauthn without passkeys", map[string]any{"MFA_SUPPORTED_TYPES": []string{"webauthn"}}},
	{"passkey login only", map[string]any{"MFA_SUPPORTED_TYPES": []string{"webauthn", "recovery_codes"},
		"MFA_PASSKEY_LOGIN_ENABLED": true, "HEADLESS_CLIENTS": []string{"app"}}},
	{"mfa app off", map[string]any{"HALLPASS_APPS": []string{"socialaccount", "usersessions"},
		"MFA_SUPPORTED_TYPES": []string{"totp", "recovery_codes", "webauthn"}}},
	{"code and trust, browser only", map[string]any{"ACCOUNT_LOGIN_BY_CODE_ENABLED": true,
		"HALLPASS_APPS": []string{"socialaccount", "mfa"}, "MFA_TRUST_ENABLED": true, "HEADLESS_CLIENTS": []string{"browser"}}},
	{"jwt", map[string]any{"HEADLESS_TOKEN_STRATEGY": "jwt", "HEADLESS_JWT_ALGORITHM": "HS256"}},
}

// servedListing lists the catalog's routes, then, per configuration and
// client, the routes it serves: one line per route (method, path, client restriction,
// rule text), sorted by path and, within a path, in catalog order (the
// order of a 405's Allow header).
func servedListing(t *testing.T, catalog api.Catalog) string {
	t.Helper()
	var b strings.Builder
	line := func(r api.Route) {
		only := r.Client
		if only == "" {
			only = "both"
		}
		fmt.Fprintf(&b, "%-6s %-40s %-7s %s\n", r.Method, r.Path, only, r.Rule.Text)
	}
	all := slices.Clone(catalog)
	slices.SortStableFunc(all, func(a, b api.Route) int { return strings.Compare(a.Path, b.Path) })
	fmt.Fprintf(&b, "## the catalog: %d routes\n", len(all))
	for _, r := range all {
		line(r)
	}
	for _, cfg := range servedConfigs {
		doc, err := json.Marshal(cfg.settings)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.settings == nil {
			doc = []byte("{}")
		}
		s, err := tenants.ParseSettings(doc)
		if err != nil {
			t.Fatalf("%s: %v", cfg.name, err)
		}
		for _, client := range []string{api.ClientApp, api.ClientBrowser} {
			served := catalog.Served(s, client)
			slices.SortStableFunc(served, func(a, b api.Route) int { return strings.Compare(a.Path, b.Path) })
			fmt.Fprintf(&b, "## %s, %s: %d routes\n", cfg.name, client, len(served))
			for _, r := range served {
				line(r)
			}
		}
	}
	return b.String()
}

// The routes each configuration serves to each client are the golden
// list's, written from the catalog before the login methods declared
// their own routes: moving routes between slices and methods changes
// nothing served (nor a rule's text, nor a 405's Allow order).
func TestServedRoutesGolden(t *testing.T) {
	got := servedListing(t, server.Catalog())
	const path = "testdata/served.golden"
	if *updateServed {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			g, w := "", ""
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("served routes differ from %s at line %d:\n got: %s\nwant: %s", path, i+1, g, w)
			}
		}
	}
}
