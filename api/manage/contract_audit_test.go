package manage_test

import (
	"testing"

	"github.com/hallpass/hallpass/tenants"
)

// Fixtures of the audit operations (see contract_test.go).
func init() {
	fixture("listAuditEvents", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		return Call{Params: map[string]string{"slug": on.Slug}, Query: map[string][]string{"limit": {"5"}}}
	})
}
