package portable_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pquerna/otp/totp"

	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/mfa/webauthntest"
	"github.com/hallpass/hallpass/internal/portable"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const seed = "5f0b1e2d3c4a59687f6e5d4c3b2a19080706050403020100ffeeddccbbaa99887766554433221100aabb"

// Codes Python computed from seed with allauth 65's generate_codes.
var seedCodes = []string{"40858326", "05152357", "92250983", "70777245", "34847507", "98140651", "42295339", "33366652", "77244956", "79522567"}

func TestAllauthRecoveryCodes(t *testing.T) {
	if got := mfa.AllauthRecoveryCodes(seed, 10, 8); !slices.Equal(got, seedCodes) {
		t.Fatalf("codes %v, want %v", got, seedCodes)
	}
}

func newTenant(t *testing.T, pool *pgxpool.Pool, settings string) *tenants.Tenant {
	t.Helper()
	tn, err := tenants.NewStore(pool, testenv.Sealer(t), nil).Create(context.Background(),
		tenants.CreateInput{Slug: testenv.Slug("portable"), Settings: []byte(settings)}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// registration is a browser's registration response, as allauth stores
// it in a webauthn authenticator's "credential".
func registration(t *testing.T) json.RawMessage {
	t.Helper()
	a := webauthntest.New("https://app.example", "app.example")
	opts := `{"publicKey":{"rp":{"id":"app.example","name":"x"},"challenge":"AAECAwQFBgcICQoLDA0ODw","user":{"id":"NDI","name":"ann","displayName":"ann"},"pubKeyCredParams":[{"type":"public-key","alg":-7}]}}`
	resp, err := a.Create([]byte(opts), true, true)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func users(t *testing.T, reg json.RawMessage) []portable.User {
	joined := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	return []portable.User{{
		SourceID: "django:1", Username: "ann", IsActive: true, DateJoined: joined,
		PasswordHash: "pbkdf2_sha256$260000$salt$" + strings.Repeat("A", 43) + "=",
		Emails:       []portable.Email{{Email: "Ann@Example.com", Verified: true, Primary: true}, {Email: "ann2@example.com"}},
		Socials:      []portable.Social{{Provider: "google", UID: "g-1", ExtraData: json.RawMessage(`{"name":"Ann"}`)}},
		Authenticators: []portable.Authenticator{
			{Type: "totp", Data: json.RawMessage(`{"secret":"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"}`)},
			{Type: "recovery_codes", Data: json.RawMessage(`{"seed":"` + seed + `","used_mask":5}`)},
			{Type: "webauthn", Data: json.RawMessage(`{"name":"Key","credential":` + string(reg) + `}`)},
		},
		Profile: json.RawMessage(`{"first_name":"Ann"}`),
	}, {
		SourceID: "django:2", Username: "bob", IsActive: false, DateJoined: joined, PasswordHash: "!unusable",
		Emails: []portable.Email{{Email: "bob@example.com", Primary: true}},
	}, {
		SourceID: "django:3", Username: "carl", DateJoined: joined, PasswordHash: "crypt$$deadbeef",
	}, {
		SourceID: "django:4", Username: "dora", DateJoined: joined, PasswordHash: "!",
		Emails: []portable.Email{{Email: "ANN@example.com"}},
	}}
}

func count(t *testing.T, pool *pgxpool.Pool, tn *tenants.Tenant, table string) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), fmt.Sprintf(`SELECT count(*) FROM %s WHERE tenant_id = $1`, table), tn.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A batch is written whole but for the users that cannot be (an unknown
// hash format, an email of an earlier user), whose reasons the report
// gives; a second run updates instead of duplicating; a dry run writes
// nothing; imported secrets are sealed and usable.
func TestWriterBatch(t *testing.T) {
	ctx := context.Background()
	pool := testenv.Pool(t)
	tn := newTenant(t, pool, `{}`)
	reg := registration(t)
	dry := portable.NewWriter(pool, testenv.Sealer(t))
	dry.DryRun = true
	rep, err := dry.Write(ctx, tn, users(t, reg))
	if err != nil {
		t.Fatal(err)
	}
	dry.Close(ctx)
	if rep.Created != 2 || len(rep.Skipped) != 2 || count(t, pool, tn, "users") != 0 {
		t.Fatalf("dry run: %+v, %d users", rep, count(t, pool, tn, "users"))
	}
	w := portable.NewWriter(pool, testenv.Sealer(t))
	rep, err = w.Write(ctx, tn, users(t, reg))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(rep)
	t.Logf("report: %s", b)
	if rep.Created != 2 || rep.Updated != 0 || rep.Emails != 3 || rep.Socials != 1 || rep.Authenticators != 3 {
		t.Fatalf("report %s", b)
	}
	if len(rep.Skipped) != 2 || rep.Skipped[0].Index != 2 || !strings.Contains(rep.Skipped[0].Reason, `algorithm "crypt"`) ||
		rep.Skipped[1].Index != 3 || !strings.Contains(rep.Skipped[1].Reason, "ann@example.com also belongs to an earlier user") {
		t.Fatalf("skipped %s", b)
	}
	var audited int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'users.import'
		AND details->>'created' = '2' AND details->>'skipped' = '2'`, tn.ID).Scan(&audited); err != nil || audited != 1 {
		t.Fatalf("audit events of the batch: %d, %v (the dry run records none)", audited, err)
	}
	if strings.Contains(string(b), "deadbeef") {
		t.Fatalf("the report shows a hash: %s", b)
	}
	var id int64
	var data string
	if err := pool.QueryRow(ctx, `SELECT u.id, a.data FROM users u JOIN authenticators a ON a.tenant_id = u.tenant_id AND a.user_id = u.id
		WHERE u.tenant_id = $1 AND u.source_id = 'django:1' AND a.type = 'totp'`, tn.ID).Scan(&id, &data); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(data, "JBSWY3DP") {
		t.Fatal("the TOTP secret is stored in clear")
	}
	store := mfa.NewStore(pool, testenv.Sealer(t))
	code, _ := totp.GenerateCode("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", time.Now())
	if _, err := store.AuthenticateTOTP(ctx, tn.ID, id, code, tn.Settings); err != nil {
		t.Fatalf("imported TOTP: %v", err)
	}
	if _, err := store.UseRecoveryCode(ctx, tn.ID, id, seedCodes[0]); err == nil {
		t.Fatal("a code used in allauth (used_mask bit 0) was accepted")
	}
	if _, err := store.UseRecoveryCode(ctx, tn.ID, id, seedCodes[1]); err != nil {
		t.Fatalf("unused imported recovery code: %v", err)
	}
	list, err := store.List(ctx, tn.ID, id)
	if err != nil || len(list) != 3 {
		t.Fatalf("authenticators %v %v", list, err)
	}
	// Again, with dora's clash gone and bob's address changed.
	again := users(t, reg)
	again[3].Emails = nil
	again[1].Emails = []portable.Email{{Email: "bob@new.example", Verified: true, Primary: true}}
	rep, err = w.Write(ctx, tn, again)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Created != 1 || rep.Updated != 2 || len(rep.Skipped) != 1 {
		t.Fatalf("second run: %+v", rep)
	}
	if n := count(t, pool, tn, "users"); n != 3 {
		t.Fatalf("%d users after the second run", n)
	}
	if n := count(t, pool, tn, "email_addresses"); n != 3 {
		t.Fatalf("%d addresses after the second run", n)
	}
	if n := count(t, pool, tn, "authenticators"); n != 3 {
		t.Fatalf("%d authenticators after the second run", n)
	}
	if n := count(t, pool, tn, "social_accounts"); n != 1 {
		t.Fatalf("%d social accounts after the second run", n)
	}
	// Another tenant's import may not take ann's social account or key: only within a tenant.
	other := newTenant(t, pool, `{}`)
	if rep, err := w.Write(ctx, other, users(t, reg)[:1]); err != nil || rep.Created != 1 {
		t.Fatalf("other tenant: %+v %v", rep, err)
	}
	// A user of the tenant whose social account another import claims is skipped.
	clash := []portable.User{{SourceID: "x:9", DateJoined: time.Now(), PasswordHash: "!", Socials: []portable.Social{{Provider: "google", UID: "g-1"}}}}
	if rep, err := w.Write(ctx, tn, clash); err != nil || len(rep.Skipped) != 1 || !strings.Contains(rep.Skipped[0].Reason, "belongs to another user") {
		t.Fatalf("social clash: %+v %v", rep, err)
	}
}
