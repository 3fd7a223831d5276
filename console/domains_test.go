package console_test

import (
	"context"
	"errors"
	"net"
	"net/url"
	"slices"
	"testing"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// A domain is added with inline checks, shows the TXT record to publish,
// verifies only when the record holds the token (as the resolver answers),
// and is removed with the change published to every node's cache.
func TestDomainLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tn, other := e.tenant("domains"), e.tenant("domains-other")
	admin := e.user("domains-admin", false)
	e.grant(tn, admin, console.RoleAdmin)
	b := e.session(admin)
	page := "/console/t/" + tn.Slug + "/domains"

	b.get(page).status(200).contains(`data-testid="empty-domains"`, tn.Slug+".hallpass.test")
	b.post(page, url.Values{"domain": {"https://nope"}}).status(422).contains(`data-testid="domain-error"`, "host name")
	b.post(page, url.Values{"domain": {"api.hallpass.test"}}).status(422).contains("belongs to the platform")
	theirs := testenv.Slug("theirs") + ".example.com"
	if _, err := e.store.AddDomain(ctx, other.Slug, theirs, "test"); err != nil {
		t.Fatal(err)
	}
	// Only a verified domain is another tenant's (issue #16; an unverified
	// claim used to block it here too: TestUnverifiedDomainClaimsDoNotBlock).
	if err := e.store.MarkDomainVerified(ctx, other.Slug, theirs, "test"); err != nil {
		t.Fatal(err)
	}
	b.post(page, url.Values{"domain": {theirs}}).status(422).contains("verified by another tenant")

	domain := testenv.Slug("auth") + ".example.com"
	b.post(page, url.Values{"domain": {" " + domain + ". "}}).status(303)
	tn = e.reload(tn.Slug)
	if len(tn.Domains) != 1 || tn.Domains[0].Domain != domain {
		t.Fatalf("domains %+v", tn.Domains)
	}
	token := tn.Domains[0].VerificationToken
	b.get(page).status(200).contains(domain+" added", "_hallpass-challenge."+domain, token, "TXT", "pending verification", `data-testid="verify-domain"`)

	challenge := "_hallpass-challenge." + domain
	e.dns.set(challenge, dnsAnswer{err: &net.DNSError{Err: "no such host", Name: challenge, IsNotFound: true}})
	b.post(page+"/verify", url.Values{"domain": {domain}}).status(422).contains(`data-testid="verify-error"`, "No TXT record at "+challenge)
	e.dns.set(challenge, dnsAnswer{records: []string{"v=spf1 -all", "hallpass-verify=wrong"}})
	b.post(page+"/verify", url.Values{"domain": {domain}}).status(422).contains("has 2 TXT records, but none is the token")
	e.dns.set(challenge, dnsAnswer{err: &net.DNSError{Err: "i/o timeout", Name: challenge, IsTimeout: true}})
	b.post(page+"/verify", url.Values{"domain": {domain}}).status(422).contains("lookup of " + challenge + " failed (timed out)")
	if _, err := e.store.GetByDomain(ctx, domain); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("an unverified domain routes: %v", err)
	}
	e.dns.set(challenge, dnsAnswer{records: []string{"other", " " + token + " "}})
	b.post(page+"/verify", url.Values{"domain": {domain}}).status(303)
	b.get(page).status(200).contains(domain+" is verified", "verified").lacks(`data-testid="verify-domain"`)
	if got, err := e.store.GetByDomain(ctx, domain); err != nil || got.ID != tn.ID {
		t.Fatalf("the verified domain does not route to the tenant: %v", err)
	}
	b.post(page+"/verify", url.Values{"domain": {domain}}).status(303)

	// Another tenant's domain is not found here, for verify and remove alike.
	b.post(page+"/verify", url.Values{"domain": {theirs}}).status(404)
	b.post(page+"/remove", url.Values{"domain": {theirs}}).status(404)
	if _, err := e.store.Get(ctx, other.Slug); err != nil || len(e.reload(other.Slug).Domains) != 1 {
		t.Fatal("the other tenant's domain changed")
	}

	before := len(e.changes.all())
	b.post(page+"/remove", url.Values{"domain": {domain}}).status(303)
	b.get(page).status(200).contains(domain+" was removed", `data-testid="empty-domains"`)
	if _, err := e.store.GetByDomain(ctx, domain); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("a removed domain still routes: %v", err)
	}
	changes := e.changes.all()[before:]
	if len(changes) != 1 || changes[0].ID != tn.ID || !slices.Contains(changes[0].Domains, domain) {
		t.Fatalf("published %+v", changes)
	}
	actions := e.auditActions(tn.ID)
	for _, want := range []string{"tenant.domain.add", "tenant.domain.verify", "tenant.domain.remove"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit lacks %s: %v", want, actions)
		}
	}

	// A viewer sees the record but no buttons.
	viewer := e.user("domains-viewer", false)
	e.grant(tn, viewer, console.RoleViewer)
	if _, err := e.store.AddDomain(ctx, tn.Slug, "pending-"+domain, "test"); err != nil {
		t.Fatal(err)
	}
	e.session(viewer).get(page).status(200).contains("_hallpass-challenge.pending-"+domain).lacks(`data-testid="verify-domain"`, `data-testid="remove-domain"`, `data-testid="add-domain"`)
}
