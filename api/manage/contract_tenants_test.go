package manage_test

import (
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/tenants"
)

// Fixtures of the tenants operations (see contract_test.go).
func init() {
	fixture("getTenant", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		return Call{Params: map[string]string{"slug": on.Slug}, Check: func(t *testing.T, r *apitest.Response) {
			if r.JSON["id"] != on.ID.String() || r.JSON["slug"] != on.Slug {
				t.Errorf("getTenant %s answered %s", on.Slug, r.Body)
			}
		}}
	})
}
