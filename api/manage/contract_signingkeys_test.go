package manage_test

import (
	"context"
	"testing"

	"github.com/hallpass/hallpass/tenants"
)

// Fixtures of the signing keys operations (see contract_test.go).
func init() {
	fixture("listSigningKeys", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		return Call{Params: map[string]string{"slug": on.Slug}}
	})
	fixture("rotateSigningKey", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		return Call{Params: map[string]string{"slug": on.Slug}, Body: map[string]any{}}
	})
	// Retiring consumes a key: a new one each time.
	fixture("retireSigningKey", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		ctx := context.Background()
		fresh, err := w.Env.Store.Get(ctx, on.Slug)
		if err != nil {
			t.Fatal(err)
		}
		k, err := w.Env.Keys.Rotate(ctx, fresh, "", 0, "contract")
		if err != nil {
			t.Fatal(err)
		}
		return Call{Params: map[string]string{"slug": on.Slug, "kid": k.Kid}}
	})
}
