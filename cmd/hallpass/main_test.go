package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// hallpass runs one CLI invocation in-process against the test services.
func hallpass(t *testing.T, stdin string, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	base := map[string]string{
		"HALLPASS_DATABASE_URL": testenv.DatabaseURL(t),
		"HALLPASS_REDIS_URL":    os.Getenv("HALLPASS_TEST_REDIS_URL"),
		"HALLPASS_MASTER_KEY":   "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"HALLPASS_PUBLIC_URL":   "http://127.0.0.1:8000",
	}
	for k, v := range env {
		base[k] = v
	}
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, func(k string) string { return base[k] }, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestTenantCommands(t *testing.T) {
	slug := testenv.Slug("cli")
	code, out, errOut := hallpass(t, `{"ACCOUNT_LOGIN_METHODS":["email"],"ACCOUNT_SIGNUP_FIELDS":["email*","password1*"],"HEADLESS_JWT_ALGORITHM":"HS256","HEADLESS_JWT_PRIVATE_KEY":"cli-secret-cli-secret-cli-secret-0123"}`, nil,
		"tenant", "create", slug, "--name", "CLI Co", "--settings", "-")
	if code != 0 {
		t.Fatalf("create: %d %s", code, errOut)
	}
	var created map[string]any
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("create output is not JSON: %v\n%s", err, out)
	}
	if created["slug"] != slug || created["name"] != "CLI Co" || created["settings_version"] != float64(1) {
		t.Fatalf("create output: %s", out)
	}
	if strings.Contains(out, "cli-secret") {
		t.Fatalf("create prints the secret: %s", out)
	}
	effective, _ := created["effective"].(map[string]any)
	if effective["ACCOUNT_EMAIL_VERIFICATION"] != "optional" {
		t.Fatalf("effective settings lack defaults: %v", effective["ACCOUNT_EMAIL_VERIFICATION"])
	}

	f := t.TempDir() + "/patch.json"
	if err := os.WriteFile(f, []byte(`{"ACCOUNT_EMAIL_VERIFICATION":"mandatory"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = hallpass(t, "", nil, "tenant", "update", slug, "--settings", f)
	if code != 0 || !strings.Contains(out, `"settings_version": 2`) || !strings.Contains(out, `"mandatory"`) || !strings.Contains(out, `"ACCOUNT_LOGIN_METHODS"`) {
		t.Fatalf("update (merge): %d %s %s", code, out, errOut)
	}

	code, out, _ = hallpass(t, "", nil, "tenant", "get", slug)
	if code != 0 || !strings.Contains(out, `"mandatory"`) || !strings.Contains(out, "<redacted>") {
		t.Fatalf("get: %d %s", code, out)
	}
	code, out, _ = hallpass(t, "", nil, "tenant", "list")
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil {
		t.Fatalf("list: %d %s", code, out)
	}
	found := false
	for _, tn := range list {
		found = found || tn["slug"] == slug
	}
	if !found {
		t.Fatalf("list lacks %s", slug)
	}

	// Invalid settings: non-zero exit, the key named, nothing written.
	for _, tc := range []struct{ patch, key string }{
		{`{"ACCOUNT_EMAIL_VERIFICATION":"sometimes"}`, "ACCOUNT_EMAIL_VERIFICATION"},
		{`{"NOT_A_SETTING":true}`, "NOT_A_SETTING"},
		{`{"HEADLESS_CLIENTS":["desktop"]}`, "HEADLESS_CLIENTS"},
		{`not json`, ""},
	} {
		code, _, errOut = hallpass(t, tc.patch, nil, "tenant", "update", slug, "--settings", "-")
		if code != 1 || !strings.Contains(errOut, tc.key) {
			t.Errorf("update %s: exit %d, stderr %q", tc.patch, code, errOut)
		}
	}
	code, out, _ = hallpass(t, "", nil, "tenant", "get", slug)
	if code != 0 || !strings.Contains(out, `"settings_version": 2`) {
		t.Fatalf("a rejected update wrote something: %s", out)
	}
	bad := testenv.Slug("cli-bad")
	code, _, errOut = hallpass(t, `{"ACCOUNT_LOGIN_METHODS":["fingerprint"]}`, nil, "tenant", "create", bad, "--settings", "-")
	if code != 1 || !strings.Contains(errOut, "ACCOUNT_LOGIN_METHODS") {
		t.Fatalf("create with bad settings: %d %q", code, errOut)
	}
	if code, _, errOut = hallpass(t, "", nil, "tenant", "get", bad); code != 1 || !strings.Contains(errOut, "not found") {
		t.Fatalf("a rejected create left a tenant: %d %q", code, errOut)
	}
}

func TestCLIUsageAndConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"no slug", nil, []string{"tenant", "get"}, 2, "SLUG is required"},
		{"unknown command", nil, []string{"frobnicate"}, 2, "unknown command"},
		{"unknown tenant subcommand", nil, []string{"tenant", "explode", "x"}, 2, "unknown subcommand"},
		{"missing file", nil, []string{"tenant", "create", "x-missing", "--settings", "/nonexistent/file.json"}, 1, "no such file"},
		{"no database configured", map[string]string{"HALLPASS_DATABASE_URL": ""}, []string{"tenant", "list"}, 1, "HALLPASS_DATABASE_URL"},
		{"database down", map[string]string{"HALLPASS_DATABASE_URL": "postgres://x:y@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"}, []string{"tenant", "list"}, 1, "not reachable"},
		{"bad master key", map[string]string{"HALLPASS_MASTER_KEY": "short"}, []string{"tenant", "list"}, 1, "HALLPASS_MASTER_KEY"},
		{"bad admin email", nil, []string{"admin", "create", "not-an-email"}, 1, "invalid email"},
		{"bad public url", map[string]string{"HALLPASS_PUBLIC_URL": "ftp://x"}, []string{"tenant", "list"}, 2, "HALLPASS_PUBLIC_URL"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := hallpass(t, "", tc.env, tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.want) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, tc.code, errOut, tc.want)
			}
			if strings.Contains(errOut, ":y@") {
				t.Fatalf("password leaked in error: %s", errOut)
			}
		})
	}
	if code, out, _ := hallpass(t, "", nil, "help"); code != 0 || !strings.Contains(out, "tenant create") {
		t.Fatalf("help: %d %s", code, out)
	}
}

func TestAdminCreateAndDemo(t *testing.T) {
	email := testenv.Slug("admin") + "@example.com"
	code, out, errOut := hallpass(t, "", nil, "admin", "create", email)
	if code != 0 {
		t.Fatalf("admin create: %d %s", code, errOut)
	}
	i := strings.Index(out, "password (shown once")
	if i < 0 {
		t.Fatalf("no password printed: %s", out)
	}
	password := strings.TrimSpace(out[strings.LastIndex(out, ":")+1:])
	if len(password) != 20 {
		t.Fatalf("password %q", password)
	}
	pool := testenv.Pool(t)
	var hash string
	if err := pool.QueryRow(context.Background(), `SELECT password_hash FROM console_users WHERE email_folded = lower($1)`, email).Scan(&hash); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$") || strings.Contains(hash, password) {
		t.Fatalf("stored hash %q", hash)
	}
	if ok, _, err := passwords.DefaultHasher().Verify(hash, password); !ok || err != nil {
		t.Fatalf("printed password does not verify: %v", err)
	}
	if code, _, errOut = hallpass(t, "", nil, "admin", "create", strings.ToUpper(email)); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("duplicate admin (case-insensitive): %d %s", code, errOut)
	}
	code, _, _ = hallpass(t, "correct horse battery staple\n", nil, "admin", "create", "stdin-"+email, "--password-stdin")
	if code != 0 {
		t.Fatal("admin create --password-stdin failed")
	}

	// demo is idempotent: the second run creates nothing and prints no password.
	code, out, errOut = hallpass(t, "", nil, "demo")
	if code != 0 || !strings.Contains(out, "curl -s http://127.0.0.1:8000/t/demo/_allauth/app/v1/config") {
		t.Fatalf("demo: %d %s %s", code, out, errOut)
	}
	code, out2, _ := hallpass(t, "", nil, "demo")
	if code != 0 || strings.Contains(out2, "created tenant") || strings.Contains(out2, "password:") {
		t.Fatalf("second demo run: %d %s", code, out2)
	}
	code, out, _ = hallpass(t, "", nil, "tenant", "get", "demo")
	if code != 0 || !strings.Contains(out, `"mandatory"`) {
		t.Fatalf("demo tenant: %s", out)
	}
}

func TestRoutesCommand(t *testing.T) {
	code, out, errOut := hallpass(t, "", nil, "routes")
	var routes []map[string]string
	if code != 0 || json.Unmarshal([]byte(out), &routes) != nil || len(routes) < 40 {
		t.Fatalf("routes: %d %s %s", code, errOut, out)
	}
	found := false
	for _, r := range routes {
		found = found || (r["path"] == "/_allauth/{client}/v1/auth/code/request" && r["enabled_when"] == "ACCOUNT_LOGIN_BY_CODE_ENABLED")
	}
	if !found {
		t.Fatalf("auth/code/request rule missing: %s", out)
	}
}

// admin reset-mfa removes a console user's factors and sessions, audited;
// an unknown address is an error.
func TestAdminResetMFA(t *testing.T) {
	email := testenv.Slug("mfa-admin") + "@example.com"
	if code, _, errOut := hallpass(t, "", nil, "admin", "create", email); code != 0 {
		t.Fatalf("admin create: %d %s", code, errOut)
	}
	ctx := context.Background()
	pool := testenv.Pool(t)
	var id uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT id FROM console_users WHERE email_folded = lower($1)`, email).Scan(&id); err != nil {
		t.Fatal(err)
	}
	store, settings := mfa.NewConsoleStore(pool, testenv.Sealer(t), nil), tenants.DefaultSettings()
	secret := mfa.NewTOTPSecret()
	if _, err := store.ActivateTOTP(ctx, id, secret, mfa.TOTPCode(secret, time.Now(), settings), settings); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GenerateRecoveryCodes(ctx, id, settings); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := hallpass(t, "", nil, "admin", "reset-mfa", strings.ToUpper(email))
	if code != 0 || !strings.Contains(out, "2 authenticator(s) removed") {
		t.Fatalf("reset-mfa: %d %s %s", code, out, errOut)
	}
	var left, audited int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM console_authenticators WHERE user_id = $1`, id).Scan(&left); err != nil {
		t.Fatal(err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = 'console.mfa.reset' AND target = $1`, id.String()).Scan(&audited); err != nil {
		t.Fatal(err)
	}
	if left != 0 || audited != 1 {
		t.Fatalf("%d authenticators left, %d audit entries", left, audited)
	}
	if code, _, errOut := hallpass(t, "", nil, "admin", "reset-mfa", "nobody-"+email); code != 1 || !strings.Contains(errOut, "no console user") {
		t.Fatalf("unknown user: %d %s", code, errOut)
	}
}
