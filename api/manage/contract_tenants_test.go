package manage_test

import (
	"context"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// Fixtures of the tenants operations (see contract_test.go).
func init() {
	fixture("listTenants", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		return Call{Query: map[string][]string{"limit": {"2"}}}
	})
	fixture("createTenant", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		slug := testenv.Slug("contract-new")
		return Call{Body: map[string]any{"slug": slug, "name": "New"}, Check: func(t *testing.T, r *apitest.Response) {
			if r.JSON["slug"] != slug {
				t.Errorf("createTenant answered %s", r.Body)
			}
		}}
	})
	fixture("getTenant", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		return Call{Params: map[string]string{"slug": on.Slug}, Check: func(t *testing.T, r *apitest.Response) {
			if r.JSON["id"] != on.ID.String() || r.JSON["slug"] != on.Slug {
				t.Errorf("getTenant %s answered %s", on.Slug, r.Body)
			}
		}}
	})
	fixture("renameTenant", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		return Call{Params: map[string]string{"slug": on.Slug}, Body: map[string]any{"name": "Renamed " + on.Slug}}
	})
	// Deleting consumes a tenant: a new one each time.
	fixture("deleteTenant", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		tn, err := w.Env.Store.Create(context.Background(), tenants.CreateInput{Slug: testenv.Slug("contract-del"), Settings: []byte(`{}`)}, "contract")
		if err != nil {
			t.Fatal(err)
		}
		return Call{Params: map[string]string{"slug": tn.Slug}}
	})
}
