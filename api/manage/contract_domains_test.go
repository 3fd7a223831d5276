package manage_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// contractTXT answers the domain challenges the fixtures set (txtRecords,
// domains_test.go).
var contractTXT = &txtRecords{m: map[string][]string{}}

// claimDomain claims a new domain for on, its challenge answered.
func claimDomain(t *testing.T, w *World, on *tenants.Tenant) string {
	t.Helper()
	w.Env.Assembly.Manage.SetTXTResolver(contractTXT)
	d := strings.ToLower(testenv.Slug("c")) + ".contract.example"
	dom, err := w.Env.Store.AddDomain(context.Background(), on.Slug, d, "contract")
	if err != nil {
		t.Fatal(err)
	}
	contractTXT.mu.Lock()
	contractTXT.m[tenants.ChallengePrefix+d] = []string{dom.VerificationToken}
	contractTXT.mu.Unlock()
	return d
}

// Fixtures of the custom domains operations (see contract_test.go).
func init() {
	fixture("listDomains", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		return Call{Params: map[string]string{"slug": on.Slug}}
	})
	fixture("addDomain", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		return Call{Params: map[string]string{"slug": on.Slug},
			Body: map[string]any{"domain": strings.ToLower(testenv.Slug("n")) + ".contract.example"}}
	})
	fixture("verifyDomain", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		return Call{Params: map[string]string{"slug": on.Slug, "domain": claimDomain(t, w, on)}}
	})
	fixture("removeDomain", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		return Call{Params: map[string]string{"slug": on.Slug, "domain": claimDomain(t, w, on)}}
	})
}
