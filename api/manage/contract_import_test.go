package manage_test

import (
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/tenants"
)

// importLine is one user line of a bulk import, a fresh user each call.
func importLine() string {
	id := uuid.NewString()[:12]
	return fmt.Sprintf(`{"user":{"source_id":"c-%s","is_active":true,"date_joined":"2024-01-02T03:04:05Z","password_hash":%q,`+
		`"emails":[{"email":"c-%s@example.com","verified":true,"primary":true}]}}`, id, bcryptHash, id) + "\n"
}

var ndjson = []string{"Content-Type", "application/x-ndjson"}

func init() {
	fixture("importUsers", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		return Call{Params: map[string]string{"slug": on.Slug}, Body: importLine(), Headers: ndjson,
			Check: func(t *testing.T, r *apitest.Response) {
				if _, err := uuid.Parse(fmt.Sprint(r.JSON["id"])); err != nil {
					t.Errorf("job id: %s", r.Body)
				}
			}}
	})
	fixture("getUserImport", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		r := call(w.Env, "POST", "/tenants/"+on.Slug+"/users/import", w.key(t, on, []apikeys.Scope{apikeys.UsersWrite}), importLine(), ndjson...)
		if r.Code != 202 {
			t.Fatalf("queue an import: %d %s", r.Code, r.Body)
		}
		return Call{Params: map[string]string{"slug": on.Slug, "job": fmt.Sprint(r.JSON["id"])}}
	})
}
