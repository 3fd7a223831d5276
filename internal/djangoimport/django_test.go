package djangoimport_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/djangoimport"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/mfa/webauthntest"
	"github.com/hallpass/hallpass/internal/portable"
	"github.com/hallpass/hallpass/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// What populate.py made.
const (
	totpSecret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
	rcSeed     = "5f0b1e2d3c4a59687f6e5d4c3b2a19080706050403020100ffeeddccbbaa99887766554433221100aabb"
)

func password(name string) string { return name + "-pw-lètmein" }

// addWebAuthn adds a WebAuthn authenticator to ann in the source, as
// allauth 65 stores one: {"name", "credential": the browser's registration
// response}, made by a software authenticator.
func addWebAuthn(t *testing.T, source string) {
	t.Helper()
	a := webauthntest.New("https://app.example", "app.example")
	resp, err := a.Create([]byte(`{"publicKey":{"rp":{"id":"app.example","name":"x"},"challenge":"AAECAwQFBgcICQoLDA0ODw",
		"user":{"id":"MQ","name":"ann","displayName":"ann"},"pubKeyCredParams":[{"type":"public-key","alg":-7}]}}`), true, false)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(map[string]any{"name": "YubiKey", "credential": json.RawMessage(resp)})
	sourceExec(t, source, `INSERT INTO mfa_authenticator (type, data, user_id) SELECT 'webauthn', $1::jsonb, id FROM auth_user WHERE username = 'ann'`, string(data))
}

func sourceExec(t *testing.T, dsn, sql string, args ...any) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

func hashOf(t *testing.T, env *apitest.Env, username string) string {
	t.Helper()
	var h string
	if err := testenv.Pool(t).QueryRow(context.Background(), `SELECT password_hash FROM users WHERE tenant_id = $1 AND username = $2`,
		env.Tenant.ID, username).Scan(&h); err != nil {
		t.Fatal(err)
	}
	return h
}

func isPending(r *apitest.Response) bool {
	flows, _ := r.Path("data.flows").([]any)
	for _, f := range flows {
		if m, _ := f.(map[string]any); m["id"] == "mfa_authenticate" && m["is_pending"] == true {
			return true
		}
	}
	return false
}

// TestImportDjango imports a database Django and allauth built: a dry run
// writes nothing; the import writes every user but two, reported by row
// (an unknown hash format, an address of another user); every user signs
// in through the headless API with their Django password, in every format
// Django writes, and their hash is re-hashed to argon2id; ann answers the
// TOTP challenge from her imported secret and, in another session, spends
// an imported recovery code (one allauth marked used is refused); a second
// run updates instead of duplicating.
func TestImportDjango(t *testing.T) {
	ctx := context.Background()
	source := djangoSource(t)
	addWebAuthn(t, source)
	// A custom user model's column: reported, not imported.
	sourceExec(t, source, `ALTER TABLE auth_user ADD COLUMN shoe_size integer`)
	env := apitest.New(t, apitest.Settings{
		"ACCOUNT_LOGIN_METHODS": []string{"email", "username"},
		"MFA_SUPPORTED_TYPES":   []string{"totp", "recovery_codes", "webauthn"},
		"HALLPASS_USER_FIELDS":  []map[string]any{{"name": "first_name", "type": "string"}},
		// Every user's wrong password comes from one address.
		"ACCOUNT_RATE_LIMITS": map[string]string{"login_failed": "100/m/ip,5/5m/key"},
	})
	pool := testenv.Pool(t)
	w := portable.NewWriter(pool, testenv.Sealer(t))
	w.DryRun = true
	dry, err := djangoimport.Run(ctx, w, env.Tenant, djangoimport.Options{Source: source, Batch: 5})
	if err != nil {
		t.Fatal(err)
	}
	w.Close(ctx)
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE tenant_id = $1`, env.Tenant.ID).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the dry run wrote %d users (%v)", n, err)
	}
	if dry.Written.UsersCreated != 10 || len(dry.Skipped) != 2 {
		t.Fatalf("dry run report: %+v", dry)
	}
	w.DryRun = false
	rep, err := djangoimport.Run(ctx, w, env.Tenant, djangoimport.Options{Source: source, Batch: 5})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(rep, "", "  ")
	t.Logf("report:\n%s", b)
	want := djangoimport.Written{UsersCreated: 10, Emails: 3, SocialAccounts: 2, Authenticators: 3}
	if rep.Written != want || rep.Read["auth_user"] != 12 || rep.Read["account_emailaddress"] != 3 ||
		rep.Read["socialaccount_socialaccount"] != 2 || rep.Read["mfa_authenticator"] != 3 {
		t.Fatalf("written %+v, want %+v; read %v", rep.Written, want, rep.Read)
	}
	if len(rep.Skipped) != 2 || rep.Skipped[0].Row != 11 || !strings.Contains(rep.Skipped[0].Reason, `algorithm "crypt"`) ||
		rep.Skipped[1].Row != 12 || !strings.Contains(rep.Skipped[1].Reason, "email ann@example.com belongs to another user of the tenant") {
		t.Fatalf("skipped: %+v", rep.Skipped)
	}
	if rep.IgnoredColumns["shoe_size"] == "" || rep.IgnoredColumns["is_staff"] == "" {
		t.Fatalf("ignored columns: %v", rep.IgnoredColumns)
	}
	if dry.Written != rep.Written {
		t.Fatalf("the dry run said %+v, the run did %+v", dry.Written, rep.Written)
	}

	// Every format Django wrote signs in, and is re-hashed.
	for _, name := range []string{"ben", "cat", "dan", "eve", "fay", "gus", "hal", "ivy"} {
		before := hashOf(t, env, name)
		fe := env.Client("app")
		fe.Do("POST", "auth/login", `{"username":"`+name+`","password":"`+password(name)+`x"}`).Status(400)
		fe.Do("POST", "auth/login", `{"username":"`+name+`","password":"`+password(name)+`"}`).Status(200)
		after := hashOf(t, env, name)
		if !strings.HasPrefix(after, "$argon2id$") || after == before {
			t.Fatalf("%s: hash %.20s… became %.20s…, want argon2id", name, before, after)
		}
		env.Client("app").Do("POST", "auth/login", `{"username":"`+name+`","password":"`+password(name)+`"}`).Status(200)
	}
	// ben signs in with his verified address too.
	env.Client("app").Do("POST", "auth/login", `{"email":"ben@example.com","password":"`+password("ben")+`"}`).Status(200)
	// jay: inactive, no usable password.
	env.Client("app").Do("POST", "auth/login", `{"username":"jay","password":"x"}`).Status(400)

	// ann: TOTP from the imported secret.
	fe := env.Client("app")
	res := fe.Do("POST", "auth/login", `{"email":"ann@example.com","password":"`+password("ann")+`"}`).Status(401)
	if !isPending(res) {
		t.Fatalf("ann's login does not ask for a second factor: %s", res.Body)
	}
	fe.Do("POST", "auth/2fa/authenticate", `{"code":"`+mfa.TOTPCode(totpSecret, time.Now(), env.Tenant.Settings)+`"}`).Status(200)
	if h := hashOf(t, env, "ann"); !strings.HasPrefix(h, "$argon2id$") {
		t.Fatalf("ann's hash is %.20s…", h)
	}
	// ann, another session: recovery codes derived from allauth's seed; 0
	// and 2 were used in Django (used_mask 5), so after spending 1 there
	// are 7 left.
	codes := mfa.AllauthRecoveryCodes(rcSeed, 10, 8)
	fe = env.Client("app")
	fe.Do("POST", "auth/login", `{"email":"ann@example.com","password":"`+password("ann")+`"}`).Status(401)
	fe.Do("POST", "auth/2fa/authenticate", `{"code":"`+codes[0]+`"}`).Status(400)
	fe.Do("POST", "auth/2fa/authenticate", `{"code":"`+codes[2]+`"}`).Status(400)
	fe.Do("POST", "auth/2fa/authenticate", `{"code":"`+codes[1]+`"}`).Status(200)
	res = fe.Do("GET", "account/authenticators", "").Status(200)
	if body := string(res.Body); !strings.Contains(body, `"YubiKey"`) || !strings.Contains(body, `"unused_code_count":7`) {
		t.Fatalf("ann's authenticators: %s", body)
	}
	// first_name is a declared field: the profile; last_name is not: private metadata.
	var profile, private string
	if err := pool.QueryRow(ctx, `SELECT profile::text, private_metadata::text FROM users WHERE tenant_id = $1 AND username = 'ann'`,
		env.Tenant.ID).Scan(&profile, &private); err != nil {
		t.Fatal(err)
	}
	if profile != `{"first_name": "Ann"}` || private != `{"last_name": "Lee"}` {
		t.Fatalf("profile %s, private metadata %s", profile, private)
	}

	// Again: updates, no duplicates.
	again, err := djangoimport.Run(ctx, w, env.Tenant, djangoimport.Options{Source: source})
	if err != nil {
		t.Fatal(err)
	}
	if again.Written.UsersCreated != 0 || again.Written.UsersUpdated != 10 || len(again.Skipped) != 2 {
		t.Fatalf("second run: %+v", again)
	}
	for table, want := range map[string]int{"users": 10, "email_addresses": 3, "social_accounts": 2, "authenticators": 3} {
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM `+table+` WHERE tenant_id = $1`, env.Tenant.ID).Scan(&n); err != nil || n != want {
			t.Errorf("%s: %d rows after the second run, want %d (%v)", table, n, want, err)
		}
	}
	env.Client("app").Do("POST", "auth/login", `{"username":"cat","password":"`+password("cat")+`"}`).Status(200)
}

// Sources that are not what the importer reads fail with a message that
// says why, before anything is written.
func TestImportDjangoBadSources(t *testing.T) {
	ctx := context.Background()
	env := apitest.New(t, apitest.Settings{})
	w := portable.NewWriter(testenv.Pool(t), testenv.Sealer(t))
	// Hallpass's own database is no Django database.
	_, err := djangoimport.Run(ctx, w, env.Tenant, djangoimport.Options{Source: testenv.DatabaseURL(t)})
	if err == nil || !strings.Contains(err.Error(), "not a Django project's database") {
		t.Fatalf("not Django: %v", err)
	}
	_, err = djangoimport.Run(ctx, w, env.Tenant, djangoimport.Options{Source: testenv.DatabaseURL(t), UserTable: "users; DROP TABLE x"})
	if err == nil || !strings.Contains(err.Error(), "not a plain table name") {
		t.Fatalf("bad table name: %v", err)
	}
	_, err = djangoimport.Run(ctx, w, env.Tenant, djangoimport.Options{Source: "postgres://nobody@127.0.0.1:1/none?connect_timeout=2"})
	if err == nil || !strings.Contains(err.Error(), "connect to the source database") {
		t.Fatalf("unreachable: %v", err)
	}
}
