package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/export"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

const roundTripSettings = `{"ACCOUNT_LOGIN_METHODS":["email"],"ACCOUNT_SIGNUP_FIELDS":["email*","password1*"],
	"ACCOUNT_EMAIL_VERIFICATION":"none","ACCOUNT_RATE_LIMITS":false,"MFA_SUPPORTED_TYPES":["totp","recovery_codes"],
	"MFA_ALLOW_UNVERIFIED_EMAIL":true,"MFA_TOTP_TOLERANCE":1,
	"HALLPASS_USER_FIELDS":[{"name":"first_name","type":"string","signup":true}],
	"SOCIALACCOUNT_PROVIDERS":{"github":{"APPS":[{"client_id":"gh-client","secret":"gh-secret-value"}]}}}`

// The round trip of issue 22 point 4: users made through the headless API
// (passwords, addresses, TOTP, recovery codes, a social account, profile
// and metadata) are exported, imported into a new tenant, and sign in there
// with their passwords, their TOTP and their recovery codes; a second export
// equals the first but for the fields docs/EXPORT.md lists.
func TestExportImportRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	passFile := filepath.Join(dir, "pass")
	if err := os.WriteFile(passFile, []byte("a long export passphrase\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src, dst := testenv.Slug("rt-src"), testenv.Slug("rt-dst")
	if code, _, errOut := hallpass(t, roundTripSettings, nil, "tenant", "create", src, "--settings", "-"); code != 0 {
		t.Fatal(errOut)
	}
	n := startNode(t)
	const pw = "round trip horse battery"
	var secret string
	var codes []any
	for i := range 3 {
		email := fmt.Sprintf("rt%d@example.com", i)
		code, res := n.call(t, src, "POST", "auth/signup", "", fmt.Sprintf(`{"email":%q,"password":%q,"first_name":"Ada %d"}`, email, pw, i))
		if code != 200 {
			t.Fatalf("signup %d: %d %v", i, code, res)
		}
		if i != 0 {
			continue
		}
		token, _ := jsonAt(res, "meta", "session_token").(string)
		_, res = n.call(t, src, "GET", "account/authenticators/totp", token, "")
		secret, _ = jsonAt(res, "meta", "secret").(string)
		totp := mfa.TOTPCode(secret, time.Now().Add(-30*time.Second), tenants.DefaultSettings())
		if code, res := n.call(t, src, "POST", "account/authenticators/totp", token, `{"code":"`+totp+`"}`); code != 200 {
			t.Fatalf("activate totp: %d %v", code, res)
		}
		_, res = n.call(t, src, "GET", "account/authenticators/recovery-codes", token, "")
		codes, _ = jsonAt(res, "data", "unused_codes").([]any)
		if len(codes) == 0 {
			t.Fatalf("recovery codes: %v", res)
		}
	}
	// A connected account, a second address and metadata (the management
	// API's writes, done here directly).
	pool := testenv.Pool(t)
	key, _ := seal.ParseKey("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
	sealer, _ := seal.New(key)
	srcTenant, err := tenants.NewStore(pool, sealer, nil).Get(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := social.NewAccounts(pool).Connect(ctx, nil, srcTenant.ID, 2, "github", "gh-1", map[string]any{"login": "ada"}); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `UPDATE users SET public_metadata = '{"plan":"pro"}', private_metadata = '{"crm":42}'
		WHERE tenant_id = $1 AND id = 1`, srcTenant.ID); err != nil {
		t.Fatal(err)
	}

	first := filepath.Join(dir, "first.jsonl")
	code, _, errOut := hallpass(t, "", nil, "export", "--tenant", src, "--out", first, "--passphrase-file", passFile, "--settings-secrets", "sealed")
	if code != 0 || !strings.Contains(errOut, `"users":3`) {
		t.Fatalf("export: %d %s", code, errOut)
	}
	raw, _ := os.ReadFile(first)
	for _, held := range []string{`"profile":{"first_name":"Ada 0"}`, `"public_metadata":{"plan":"pro"}`, `"private_metadata":{"crm":42}`,
		`"provider":"github","uid":"gh-1","extra_data":{"login":"ada"}`, `"type":"recovery_codes"`, `"type":"totp"`, `"client_id":"gh-client"`} {
		if !bytes.Contains(raw, []byte(held)) {
			t.Fatalf("the export lacks %s:\n%s", held, raw)
		}
	}
	for _, clear := range []string{secret, "gh-secret-value", codes[0].(string)} {
		if bytes.Contains(raw, []byte(clear)) {
			t.Fatalf("%q is in clear in the export", clear)
		}
	}
	// A wrong passphrase and an altered copy write nothing.
	if code, _, _ := hallpass(t, "", nil, "tenant", "create", dst); code != 0 {
		t.Fatal("create dst")
	}
	wrong := filepath.Join(dir, "wrong")
	_ = os.WriteFile(wrong, []byte("not the passphrase"), 0o600)
	if code, _, errOut := hallpass(t, "", nil, "import", "hallpass", "--tenant", dst, first, "--passphrase-file", wrong); code != 1 || !strings.Contains(errOut, "wrong passphrase") {
		t.Fatalf("wrong passphrase: %d %s", code, errOut)
	}
	altered := filepath.Join(dir, "altered.jsonl")
	_ = os.WriteFile(altered, bytes.Replace(raw, []byte(`"rt2@example.com"`), []byte(`"rt9@example.com"`), 1), 0o600)
	if code, _, errOut := hallpass(t, "", nil, "import", "hallpass", "--tenant", dst, altered, "--passphrase-file", passFile); code != 1 ||
		!strings.Contains(errOut, "line 6: digest mismatch: lines 1 to 5 were altered") || !strings.Contains(errOut, "nothing was imported") {
		t.Fatalf("altered: %d %s", code, errOut)
	}
	truncated := filepath.Join(dir, "truncated.jsonl")
	_ = os.WriteFile(truncated, raw[:bytes.LastIndexByte(raw[:len(raw)-1], '\n')+1], 0o600)
	if code, _, errOut := hallpass(t, "", nil, "import", "hallpass", "--tenant", dst, truncated, "--passphrase-file", passFile); code != 1 || !strings.Contains(errOut, "truncated") {
		t.Fatalf("truncated: %d %s", code, errOut)
	}
	var users int
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE t.slug = $1`, dst).Scan(&users)
	if users != 0 {
		t.Fatalf("%d users written from bad files", users)
	}

	// The real import, twice (a re-run updates).
	for round := range 2 {
		code, out, errOut := hallpass(t, "", nil, "import", "hallpass", "--tenant", dst, first, "--passphrase-file", passFile)
		if code != 0 {
			t.Fatalf("import %d: %d %s %s", round, code, out, errOut)
		}
		var rep struct{ Report export.Report }
		_ = json.Unmarshal([]byte(out), &rep)
		if rep.Report.Created+rep.Report.Updated != 3 || len(rep.Report.Skipped) != 0 || (round == 1 && rep.Report.Updated != 3) {
			t.Fatalf("import %d: %s", round, out)
		}
	}
	second := filepath.Join(dir, "second.jsonl")
	if code, _, errOut := hallpass(t, "", nil, "export", "--tenant", dst, "--out", second, "--passphrase-file", passFile, "--settings-secrets", "sealed"); code != 0 {
		t.Fatalf("second export: %d %s", code, errOut)
	}
	compareExports(t, first, second, []byte("a long export passphrase"))

	// Everyone signs in on the new tenant with their password; the first
	// with TOTP, then with a recovery code.
	for i := 1; i < 3; i++ {
		if code, res := n.call(t, dst, "POST", "auth/login", "", fmt.Sprintf(`{"email":"rt%d@example.com","password":%q}`, i, pw)); code != 200 {
			t.Fatalf("login %d: %d %v", i, code, res)
		}
	}
	login := func() string {
		code, res := n.call(t, dst, "POST", "auth/login", "", fmt.Sprintf(`{"email":"rt0@example.com","password":%q}`, pw))
		token, _ := jsonAt(res, "meta", "session_token").(string)
		if code != 401 || token == "" {
			t.Fatalf("login with MFA: %d %v", code, res)
		}
		return token
	}
	token := login()
	totp := mfa.TOTPCode(secret, time.Now(), tenants.DefaultSettings())
	if code, res := n.call(t, dst, "POST", "auth/2fa/authenticate", token, `{"code":"`+totp+`"}`); code != 200 {
		t.Fatalf("totp: %d %v", code, res)
	}
	token = login()
	if code, res := n.call(t, dst, "POST", "auth/2fa/authenticate", token, `{"code":"`+codes[1].(string)+`"}`); code != 200 {
		t.Fatalf("recovery code: %d %v", code, res)
	}

	// An export without its secrets (the default), applied to a tenant
	// that has them: its settings keep the secrets the file left out.
	plain := filepath.Join(dir, "plain.jsonl")
	if code, _, errOut := hallpass(t, "", nil, "export", "--tenant", src, "--out", plain, "--passphrase-file", passFile); code != 0 {
		t.Fatalf("export without secrets: %d %s", code, errOut)
	}
	if raw, _ := os.ReadFile(plain); bytes.Contains(raw, []byte(`"secret"`)) {
		t.Fatal("an export without secrets holds one")
	}
	third := testenv.Slug("rt-third")
	if code, _, errOut := hallpass(t, roundTripSettings, nil, "tenant", "create", third, "--settings", "-"); code != 0 {
		t.Fatal(errOut)
	}
	code, out, errOut := hallpass(t, "", nil, "import", "hallpass", "--tenant", third, plain, "--passphrase-file", passFile)
	if code != 0 || !strings.Contains(out, `"created": 3`) {
		t.Fatalf("import without secrets: %d %s %s", code, out, errOut)
	}
	again, err := tenants.NewStore(pool, sealer, nil).Get(ctx, third)
	if err != nil {
		t.Fatal(err)
	}
	if app := again.Overrides["SOCIALACCOUNT_PROVIDERS"].(map[string]any)["github"].(map[string]any)["APPS"].([]any)[0].(map[string]any); app["secret"] != "gh-secret-value" {
		t.Fatalf("the app's secret after the import: %v", app)
	}
}

// compareExports reads two exports and checks they hold the same settings
// and users, byte for byte once the fields that differ by design are
// blanked: the header's tenant, time, salt and check, the digests, each
// user's source_id, and the sealed data (compared opened).
func compareExports(t *testing.T, a, b string, pass []byte) {
	t.Helper()
	read := func(path string) (export.Header, []string) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		r, err := export.NewReader(f, pass)
		if err != nil {
			t.Fatal(err)
		}
		settings, _ := json.Marshal(r.Settings())
		lines := []string{string(settings)}
		for {
			u, err := r.Next()
			if err != nil {
				if err.Error() != "EOF" {
					t.Fatal(err)
				}
				break
			}
			u.SourceID = ""
			line, _ := json.Marshal(u)
			lines = append(lines, string(line))
		}
		c, _ := json.Marshal(r.Counts())
		return r.Header(), append(lines, string(c))
	}
	ha, la := read(a)
	hb, lb := read(b)
	if ha.KDF.Salt == hb.KDF.Salt || ha.Tenant == hb.Tenant {
		t.Fatalf("headers: %+v %+v", ha, hb)
	}
	if strings.Join(la, "\n") != strings.Join(lb, "\n") {
		t.Fatalf("the exports differ:\n%s\n---\n%s", strings.Join(la, "\n"), strings.Join(lb, "\n"))
	}
}
