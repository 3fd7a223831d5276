package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/testenv"
)

// keysCLI runs `hallpass keys ...` in-process with the same configuration
// as hallpass(); it calls cli.keys directly until main.go dispatches "keys".
func keysCLI(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	env := map[string]string{
		"HALLPASS_DATABASE_URL": testenv.DatabaseURL(t),
		"HALLPASS_REDIS_URL":    os.Getenv("HALLPASS_TEST_REDIS_URL"),
		"HALLPASS_MASTER_KEY":   "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"HALLPASS_PUBLIC_URL":   "http://127.0.0.1:8000",
		"HALLPASS_LOG_FORMAT":   "text",
	}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	err = (&cli{cfg: cfg, stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}).keys(context.Background(), args)
	return out.String(), errOut.String(), err
}

// keyFields are exactly what the CLI prints of a key: metadata, no material.
var keyFields = []string{"activate_at", "activated_at", "alg", "created_at", "kid", "not_after", "retired_at", "source", "state"}

func decodeKey(t *testing.T, raw []byte) map[string]any {
	t.Helper()
	var k map[string]any
	if err := json.Unmarshal(raw, &k); err != nil {
		t.Fatalf("not a JSON key: %v\n%s", err, raw)
	}
	checkKeyFields(t, k)
	return k
}

func checkKeyFields(t *testing.T, k map[string]any) {
	t.Helper()
	var names []string
	for n := range k {
		names = append(names, n)
	}
	slices.Sort(names)
	if !slices.Equal(names, keyFields) {
		t.Fatalf("key fields %v, want %v", names, keyFields)
	}
}

func TestKeysCommands(t *testing.T) {
	slug := testenv.Slug("cli-keys")
	if code, _, errOut := hallpass(t, `{"HEADLESS_TOKEN_STRATEGY":"jwt","HEADLESS_JWT_ALGORITHM":"ES256"}`, nil,
		"tenant", "create", slug, "--settings", "-"); code != 0 {
		t.Fatalf("tenant create: %s", errOut)
	}
	out, _, err := keysCLI(t, "list", slug)
	if err != nil || strings.TrimSpace(out) != "[]" {
		t.Fatalf("list of a tenant without keys: %v %q", err, out)
	}

	out, _, err = keysCLI(t, "rotate", slug, "--publish-delay", "0s")
	if err != nil {
		t.Fatal(err)
	}
	first := decodeKey(t, []byte(out))
	if first["alg"] != "ES256" || first["state"] != "active" || first["source"] != "generated" {
		t.Fatalf("rotate without delay: %s", out)
	}

	// Flags may precede the slug; the default delay is the JWKS cache lifetime.
	before := time.Now()
	out, _, err = keysCLI(t, "rotate", "--alg", "EdDSA", slug)
	if err != nil {
		t.Fatal(err)
	}
	next := decodeKey(t, []byte(out))
	at, err := time.Parse(time.RFC3339, next["activate_at"].(string))
	if err != nil || next["state"] != "next" || next["alg"] != "EdDSA" ||
		at.Before(before.Add(5*time.Minute-time.Second)) || at.After(time.Now().Add(5*time.Minute+time.Second)) {
		t.Fatalf("rotate with the default delay: %s", out)
	}

	out, _, err = keysCLI(t, "list", slug)
	if err != nil {
		t.Fatal(err)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(out), &list); err != nil || len(list) != 2 {
		t.Fatalf("list: %v %s", err, out)
	}
	for _, k := range list {
		checkKeyFields(t, k)
	}
	if list[0]["kid"] != next["kid"] || list[1]["kid"] != first["kid"] {
		t.Fatalf("list is not newest first: %s", out)
	}

	out, _, err = keysCLI(t, "retire", slug, next["kid"].(string))
	if err != nil || decodeKey(t, []byte(out))["state"] != "retired" {
		t.Fatalf("retire: %v %s", err, out)
	}
	if _, _, err = keysCLI(t, "retire", slug, "no-such-kid-0123456789"); err == nil || !strings.Contains(err.Error(), "no signing key") {
		t.Fatalf("retire of an unknown kid: %v", err)
	}

	out, _, err = keysCLI(t, "reseal")
	if err != nil || !strings.Contains(out, `"resealed": 0`) {
		t.Fatalf("reseal with one master key: %v %s", err, out)
	}
}

func TestKeysCommandErrors(t *testing.T) {
	slug := testenv.Slug("cli-keys-err")
	if code, _, errOut := hallpass(t, `{"HEADLESS_JWT_ALGORITHM":"HS256","HEADLESS_JWT_PRIVATE_KEY":"an-hmac-secret-that-is-long-enough-0123"}`, nil,
		"tenant", "create", slug, "--settings", "-"); code != 0 {
		t.Fatalf("tenant create: %s", errOut)
	}
	cases := []struct {
		name  string
		args  []string
		usage bool
		want  string
	}{
		{"no subcommand", nil, true, "keys list SLUG"},
		{"unknown subcommand", []string{"explode", slug}, true, "unknown subcommand"},
		{"no slug", []string{"list"}, true, "SLUG is required"},
		{"no kid", []string{"retire", slug}, true, "KID is required"},
		{"extra argument", []string{"list", slug, "more"}, true, "unexpected argument"},
		{"bad delay", []string{"rotate", slug, "--publish-delay", "soon"}, true, "publish-delay"},
		{"negative delay", []string{"rotate", slug, "--publish-delay", "-1m"}, true, "negative"},
		{"flag of another subcommand", []string{"list", slug, "--alg", "RS256"}, true, "rotate only"},
		{"unknown tenant", []string{"list", "no-such-tenant-x"}, false, "not found"},
		{"unsupported algorithm", []string{"rotate", slug, "--alg", "PS256"}, false, "unsupported"},
		{"imported secret", []string{"rotate", slug}, false, "HEADLESS_JWT_PRIVATE_KEY"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := keysCLI(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
			if _, isUsage := err.(usageError); isUsage != tc.usage {
				t.Fatalf("usage error: %t, want %t (%v)", isUsage, tc.usage, err)
			}
			if strings.Contains(err.Error(), "an-hmac-secret") {
				t.Fatal("the secret leaked into an error")
			}
		})
	}
}

// A kid may begin with "-" (base64url); retire must still take it as the KID.
func TestKeysRetireDashKid(t *testing.T) {
	var out, errOut bytes.Buffer
	cfg, err := loadConfig(func(k string) string {
		return map[string]string{"HALLPASS_DATABASE_URL": testenv.DatabaseURL(t), "HALLPASS_MASTER_KEY": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &cli{cfg: cfg, stdout: &out, stderr: &errOut}
	err = c.keys(context.Background(), []string{"retire", "no-such-tenant", "-abc"})
	if err == nil || strings.Contains(err.Error(), "flag provided but not defined") {
		t.Fatalf("a dash-leading kid must be read as the KID: %v", err)
	}
}
