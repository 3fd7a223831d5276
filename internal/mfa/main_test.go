package mfa

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// fixture is a tenant with its settings and an MFA store.
type fixture struct {
	store    *Store
	tenantID uuid.UUID
	settings *tenants.Settings
}

func newFixture(t *testing.T, settings string) *fixture {
	t.Helper()
	pool := testenv.Pool(t)
	tn, err := tenants.NewStore(pool, testenv.Sealer(t), nil).Create(context.Background(),
		tenants.CreateInput{Slug: testenv.Slug(t.Name()), Name: "Acme Corp", Settings: []byte(settings)}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{store: NewStore(pool, testenv.Sealer(t)), tenantID: tn.ID, settings: tn.Settings}
}

func (f *fixture) newUser(t *testing.T) int64 {
	t.Helper()
	name := strings.ToLower(testenv.Slug("user"))
	var id int64
	err := f.store.pool.QueryRow(context.Background(), `INSERT INTO users (tenant_id, id, username, username_folded, password_hash)
		VALUES ($1, next_user_id($1), $2, $2, '') RETURNING id`, f.tenantID, name).Scan(&id)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// rawData returns the stored (sealed) data of every authenticator of a user.
func (f *fixture) rawData(t *testing.T, userID int64) []string {
	t.Helper()
	rows, err := f.store.pool.Query(context.Background(), `SELECT data FROM authenticators WHERE tenant_id = $1 AND user_id = $2`,
		f.tenantID, userID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// wantCode fails unless err is an *Error with the code and param.
func wantCode(t *testing.T, err error, code, param string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code || e.Param != param {
		t.Fatalf("want *Error %s (param %q), got %v", code, param, err)
	}
	if e.Message == "" || e.Message == e.Code {
		t.Fatalf("error %s has no message", code)
	}
}
