package manage_test

import (
	"context"
	"strconv"
	"testing"

	"github.com/hallpass/hallpass/tenants"
)

// Fixtures of the settings operations (see contract_test.go).
func init() {
	fixture("getSettings", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		return Call{Params: map[string]string{"slug": on.Slug}}
	})
	fixture("patchSettings", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		fresh, err := w.Env.Store.Get(context.Background(), on.Slug)
		if err != nil {
			t.Fatal(err)
		}
		return Call{Params: map[string]string{"slug": on.Slug}, Body: map[string]any{"ACCOUNT_PREVENT_ENUMERATION": true},
			Headers: []string{"If-Match", `"` + strconv.Itoa(fresh.SettingsVersion) + `"`}}
	})
	fixture("listSettingsHistory", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		return Call{Params: map[string]string{"slug": on.Slug}}
	})
}
