package console

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/tenants"
	"github.com/hallpass/hallpass/web"
)

// TXTResolver looks up DNS TXT records; *net.Resolver is one. Tests give
// the console their own.
type TXTResolver interface {
	LookupTXT(ctx context.Context, name string) ([]string, error)
}

// challengePrefix names the record that proves a domain's ownership:
// _hallpass-challenge.<domain> TXT <verification token>.
const challengePrefix = tenants.ChallengePrefix

// domainsView is the custom domains page.
type domainsView struct {
	Slug     string
	HostBase string
	Domains  []tenants.Domain
	CanEdit  bool
	CSRF     string
	// Domain is the add form's input; AddError its error.
	Domain   string
	AddError string
	// VerifyError explains a failed verification of VerifyDomain.
	VerifyDomain, VerifyError string
}

func (h tenantPages) domainsViewOf(r *request) domainsView {
	return domainsView{Slug: r.tenant.Slug, HostBase: r.tenant.Slug + "." + h.cfg.BaseDomain, Domains: r.tenant.Domains,
		CanEdit: r.canEdit(), CSRF: r.session.CSRF}
}

func (h tenantPages) renderDomains(r *request, status int, v domainsView) error {
	return h.render(r, status, "Custom domains", domainsPage(v), active("tenants", "domains"), crumbs(web.Crumb{Label: "Custom domains"}))
}

func (h tenantPages) domainsPage(r *request) error {
	return h.renderDomains(r, fiber.StatusOK, h.domainsViewOf(r))
}

// platformName reports whether d is the platform's own (its base domain or
// a name under it, or the console's host): those route by slug already.
func (h *Console) platformName(d string) bool {
	base := strings.ToLower(h.cfg.BaseDomain)
	return d == base || strings.HasSuffix(d, "."+base) || d == strings.ToLower(h.public.Hostname())
}

// addDomain claims a custom domain, unverified: the page then shows the TXT
// record that proves ownership.
func (h tenantPages) addDomain(r *request) error {
	v := h.domainsViewOf(r)
	v.Domain = strings.TrimSpace(r.c.FormValue("domain"))
	d, err := tenants.NormalizeDomain(v.Domain)
	switch {
	case err != nil:
		v.AddError = "Enter a host name such as auth.example.com (letters, digits and hyphens, at least two labels; no scheme or path)."
	case h.platformName(d):
		v.AddError = d + " belongs to the platform: the tenant is reached there already."
	case slices.ContainsFunc(r.tenant.Domains, func(x tenants.Domain) bool { return x.Domain == d }):
		v.AddError = d + " is listed below already."
	default:
		_, err = h.store.AddDomain(r.ctx(), r.tenant.Slug, d, actor(r.user))
		switch {
		case errors.Is(err, tenants.ErrDomainTaken):
			// Only a verified domain is exclusive; unverified claims of
			// other tenants never stand in the way.
			v.AddError = d + " is verified by another tenant."
		case err != nil:
			return err
		default:
			return h.redirectWith(r, tenantPath(r.tenant.Slug, "domains"), Flash{Kind: "success",
				Message: fmt.Sprintf("%s added. Publish the TXT record shown below, then press Verify within %d days: until it is verified "+
					"the claim is not exclusive, and the first tenant to verify the domain gets it.", d, int(tenants.DomainClaimTTL.Hours()/24))})
		}
	}
	return h.renderDomains(r, fiber.StatusUnprocessableEntity, v)
}

// tenantDomain finds the posted domain among the tenant's.
func tenantDomain(r *request) (tenants.Domain, error) {
	d, err := tenants.NormalizeDomain(r.c.FormValue("domain"))
	if err != nil {
		return tenants.Domain{}, errNotFound
	}
	i := slices.IndexFunc(r.tenant.Domains, func(x tenants.Domain) bool { return x.Domain == d })
	if i < 0 {
		return tenants.Domain{}, errNotFound
	}
	return r.tenant.Domains[i], nil
}

// verifyDomain looks the challenge record up and, when it holds the
// domain's token, marks the domain verified: from then on it routes to the
// tenant.
func (h tenantPages) verifyDomain(r *request) error {
	d, err := tenantDomain(r)
	if err != nil {
		return err
	}
	if d.Verified() {
		return h.redirectWith(r, tenantPath(r.tenant.Slug, "domains"), Flash{Kind: "info", Message: d.Domain + " is verified already."})
	}
	// The tenants store looks the record up and marks the domain verified,
	// as it does for the management API; this page only words the outcome.
	_, err = h.store.VerifyDomain(r.ctx(), r.tenant, d.Domain, h.cfg.TXT, actor(r.user))
	var missing *tenants.ChallengeError
	switch {
	case errors.As(err, &missing):
		v := h.domainsViewOf(r)
		v.VerifyDomain = d.Domain
		name, lerr := missing.Name, missing.Lookup
		var dnsErr *net.DNSError
		switch {
		case lerr != nil && errors.As(lerr, &dnsErr) && dnsErr.IsNotFound, lerr == nil && missing.Records == 0:
			v.VerifyError = "No TXT record at " + name + " yet. DNS changes can take a while to appear; try again in a few minutes."
		case lerr != nil:
			v.VerifyError = "The DNS lookup of " + name + " failed (" + shortDNSError(lerr) + "). Try again in a moment."
		default:
			v.VerifyError = fmt.Sprintf("%s has %d TXT record%s, but none is the token shown below. Check for typos or quotes around the value.",
				name, missing.Records, plural(missing.Records))
		}
		return h.renderDomains(r, fiber.StatusUnprocessableEntity, v)
	case errors.Is(err, tenants.ErrDomainTaken):
		v := h.domainsViewOf(r)
		v.VerifyDomain = d.Domain
		v.VerifyError = d.Domain + " was verified by another tenant first: remove it here."
		return h.renderDomains(r, fiber.StatusConflict, v)
	case err != nil:
		return err
	}
	return h.redirectWith(r, tenantPath(r.tenant.Slug, "domains"), Flash{Kind: "success",
		Message: d.Domain + " is verified: requests to it now reach this tenant."})
}

func shortDNSError(err error) string {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		if dnsErr.IsTimeout {
			return "timed out"
		}
		return dnsErr.Err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timed out"
	}
	return "error"
}

// removeDomain deletes one of the tenant's domains (the tenants store
// audits it and tells every node's tenant cache, so the name stops routing
// to the tenant at once).
func (h tenantPages) removeDomain(r *request) error {
	d, err := tenantDomain(r)
	if err != nil {
		return err
	}
	t := r.tenant
	err = h.store.RemoveDomain(r.ctx(), t.ID, d.Domain, operator(r))
	if errors.Is(err, tenants.ErrNotFound) {
		return errNotFound
	}
	if err != nil {
		return err
	}
	return h.redirectWith(r, tenantPath(t.Slug, "domains"), Flash{Kind: "success", Message: d.Domain + " was removed: it no longer reaches this tenant."})
}
