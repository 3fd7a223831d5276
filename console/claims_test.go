package console_test

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// Issue #16 item 5: an unverified custom-domain claim blocked every other
// tenant for good, so any console user could squat a customer's domain.
// Only a verified domain is exclusive: unverified claims coexist, the first
// tenant to prove ownership gets the name and the others' claims go.
func TestUnverifiedDomainClaimsDoNotBlock(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a, b := e.tenant("claim-owner"), e.tenant("claim-squat")
	owner, squatter := e.user("claim-owner", false), e.user("claim-squatter", false)
	e.grant(a, owner, console.RoleAdmin)
	e.grant(b, squatter, console.RoleAdmin)
	atA, atB := e.session(owner), e.session(squatter)
	pageA, pageB := "/console/t/"+a.Slug+"/domains", "/console/t/"+b.Slug+"/domains"
	domain := testenv.Slug("acme") + ".example.com"

	// B claims the customer's domain first; A can still claim it.
	atB.post(pageB, url.Values{"domain": {domain}}).status(303)
	atA.post(pageA, url.Values{"domain": {domain}}).status(303)
	atA.get(pageA).status(200).contains(domain, "pending verification", `data-testid="claim-expiry"`, "not exclusive")
	atA.post(pageA, url.Values{"domain": {domain}}).status(422).contains("listed below already")
	tokenA, tokenB := e.reload(a.Slug).Domains[0].VerificationToken, e.reload(b.Slug).Domains[0].VerificationToken
	if tokenA == tokenB {
		t.Fatal("two claims share a token")
	}

	// The customer publishes A's token: B cannot verify with it, A can.
	challenge := "_hallpass-challenge." + domain
	e.dns.set(challenge, dnsAnswer{records: []string{tokenA}})
	atB.post(pageB+"/verify", url.Values{"domain": {domain}}).status(422).contains("none is the token")
	atA.post(pageA+"/verify", url.Values{"domain": {domain}}).status(303)
	if got, err := e.store.GetByDomain(ctx, domain); err != nil || got.ID != a.ID {
		t.Fatalf("the domain routes to %v (%v), want A", got, err)
	}

	// Verified, it is A's alone: B's pending claim was dropped (and B is
	// told in its audit log), and nobody can claim it again.
	if d := e.reload(b.Slug).Domains; len(d) != 0 {
		t.Fatalf("B still holds %+v", d)
	}
	atB.get(pageB).status(200).contains(`data-testid="empty-domains"`)
	if !slices.Contains(e.auditActions(b.ID), "tenant.domain.drop") {
		t.Fatalf("B's audit log: %v", e.auditActions(b.ID))
	}
	atB.post(pageB, url.Values{"domain": {domain}}).status(422).contains("verified by another tenant")
	atB.post(pageB+"/verify", url.Values{"domain": {domain}}).status(404)
	if _, err := e.store.AddDomain(ctx, b.Slug, strings.ToUpper(domain), "test"); !errors.Is(err, tenants.ErrDomainTaken) {
		t.Fatalf("claim of a verified domain: %v", err)
	}
}

// An unverified claim lapses after tenants.DomainClaimTTL: it is no longer
// listed or verifiable, and the next claim of the name deletes it.
func TestUnverifiedDomainClaimsLapse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	old, fresh := e.tenant("lapse-old"), e.tenant("lapse-new")
	u := e.user("lapse", false)
	e.grant(old, u, console.RoleAdmin)
	e.grant(fresh, u, console.RoleAdmin)
	b := e.session(u)
	domain := testenv.Slug("lapse") + ".example.com"
	pageOld := "/console/t/" + old.Slug + "/domains"
	b.post(pageOld, url.Values{"domain": {domain}}).status(303)
	age := func(d string) {
		t.Helper()
		if _, err := e.pool.Exec(ctx, `UPDATE tenant_domains SET created_at = now() - $2::interval WHERE tenant_id = $1`, old.ID, d); err != nil {
			t.Fatal(err)
		}
	}
	age("6 days 23 hours")
	b.get(pageOld).status(200).contains(domain, "pending verification")
	age("7 days 1 minute")
	b.get(pageOld).status(200).contains(`data-testid="empty-domains"`).lacks(domain)
	b.post(pageOld+"/verify", url.Values{"domain": {domain}}).status(404)
	if err := e.store.MarkDomainVerified(ctx, old.Slug, domain, "test"); !errors.Is(err, tenants.ErrNotFound) {
		t.Fatalf("a lapsed claim was verified: %v", err)
	}

	b.post("/console/t/"+fresh.Slug+"/domains", url.Values{"domain": {domain}}).status(303)
	var rows int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM tenant_domains WHERE domain = $1`, domain).Scan(&rows); err != nil || rows != 1 {
		t.Fatalf("%d claim rows (%v), want the fresh one only", rows, err)
	}
}

// Who may create tenants: platform admins always; other console users only
// when the platform allows (Config.TenantsPerUser), and no more than that
// many, even in parallel.
func TestWhoMayCreateTenants(t *testing.T) {
	ctx := context.Background()
	created := func(e *env, slug string) bool {
		_, err := e.store.Get(ctx, slug)
		return err == nil
	}

	// By default only platform admins create tenants.
	e := newEnv(t, func(c *console.Config) { c.TenantsPerUser = 0 })
	customer, admin := e.user("creator", false), e.user("creator-admin", true)
	b := e.session(customer)
	b.get("/console/tenants/new").status(403).contains("Only platform admins")
	b.get("/console/tenants/check-slug?slug=free").status(403)
	slug := testenv.Slug("refused")
	b.post("/console/tenants", url.Values{"slug": {slug}}).status(403).contains("Only platform admins")
	if created(e, slug) {
		t.Fatal("a customer created a tenant")
	}
	e.session(admin).post("/console/tenants", url.Values{"slug": {slug}}).status(303)
	if !created(e, slug) {
		t.Fatal("the platform admin could not create a tenant")
	}

	// Allowed with a limit of 2.
	e = newEnv(t, func(c *console.Config) { c.TenantsPerUser = 2 })
	customer = e.user("capped", false)
	b = e.session(customer)
	for range 2 {
		b.post("/console/tenants", url.Values{"slug": {testenv.Slug("capped")}}).status(303)
	}
	b.get("/console/tenants/new").status(403).contains("You own 2 tenants")
	slug = testenv.Slug("capped")
	b.post("/console/tenants", url.Values{"slug": {slug}}).status(403).contains("You own 2 tenants")
	if created(e, slug) {
		t.Fatal("created past the limit")
	}

	// Parallel creations cannot pass the limit together.
	racer := e.user("racer", false)
	const n = 6
	slugs := make([]string, n)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		slugs[i] = testenv.Slug("race")
		rb := e.session(racer)
		wg.Go(func() { codes[i] = rb.post("/console/tenants", url.Values{"slug": {slugs[i]}}).Code })
	}
	wg.Wait()
	made := 0
	for i := range n {
		if codes[i] == 303 {
			made++
		}
		if (codes[i] == 303) != created(e, slugs[i]) {
			t.Errorf("%s: answered %d, exists %v", slugs[i], codes[i], created(e, slugs[i]))
		}
	}
	owned, err := e.con.Users().OwnedTenants(ctx, racer.ID)
	if made != 2 || owned != 2 {
		t.Fatalf("%d parallel creations succeeded, racer owns %d (%v); want 2", made, owned, err)
	}
}
