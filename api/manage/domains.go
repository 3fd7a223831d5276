package manage

import (
	"errors"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/tenants"
)

// DomainOut is one of a tenant's custom domains. Until it is verified it
// does not route to the tenant: publish TXT record ChallengeName with the
// value VerificationToken, then verify, before ExpiresAt.
type DomainOut struct {
	Domain            string     `json:"domain"`
	Verified          bool       `json:"verified"`
	VerifiedAt        *time.Time `json:"verified_at,omitempty"`
	ChallengeName     string     `json:"challenge_name"`
	VerificationToken string     `json:"verification_token"`
	CreatedAt         time.Time  `json:"created_at"`
	// ExpiresAt is when an unverified claim lapses (absent once verified).
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// DomainList is every custom domain of a tenant.
type DomainList struct {
	Items []DomainOut `json:"items"`
}

// DomainAdd is the body that claims a custom domain.
type DomainAdd struct {
	Domain string `json:"domain"`
}

// SetTXTResolver changes how domain verification looks up DNS. Call it
// before serving (tests answer from a map).
func (a *API) SetTXTResolver(r tenants.TXTResolver) { a.cfg.TXT = r }

func (h domainHandlers) domainOperations() []Operation {
	return []Operation{
		{ID: "listDomains", Method: http.MethodGet, Path: "/tenants/{slug}/domains", Scope: apikeys.DomainsRead,
			Summary: "List a tenant's custom domains", Status: http.StatusOK, Response: DomainList{}, Handle: h.listDomains},
		{ID: "addDomain", Method: http.MethodPost, Path: "/tenants/{slug}/domains", Scope: apikeys.DomainsWrite,
			Summary: "Claim a custom domain (unverified)", Request: DomainAdd{}, Status: http.StatusCreated, Response: DomainOut{},
			Handle: h.addDomain},
		{ID: "verifyDomain", Method: http.MethodPost, Path: "/tenants/{slug}/domains/{domain}/verify", Scope: apikeys.DomainsWrite,
			Summary: "Verify a custom domain by its DNS TXT record", Status: http.StatusOK, Response: DomainOut{}, Handle: h.verifyDomain},
		{ID: "removeDomain", Method: http.MethodDelete, Path: "/tenants/{slug}/domains/{domain}", Scope: apikeys.DomainsWrite,
			Summary: "Remove a custom domain", Status: http.StatusNoContent, Handle: h.removeDomain},
	}
}

func domainOut(d tenants.Domain) DomainOut {
	out := DomainOut{Domain: d.Domain, Verified: d.Verified(), ChallengeName: tenants.ChallengePrefix + d.Domain,
		VerificationToken: d.VerificationToken, CreatedAt: d.CreatedAt.UTC()}
	if d.VerifiedAt != nil {
		v := d.VerifiedAt.UTC()
		out.VerifiedAt = &v
	} else {
		e := d.ExpiresAt().UTC()
		out.ExpiresAt = &e
	}
	return out
}

// freshTenant reads the request's tenant from the store, not the cache: a
// domain added a moment ago on another node is listed.
func (h domainHandlers) freshTenant(c *fiber.Ctx, r *Request) (*tenants.Tenant, error) {
	t, err := h.cfg.Store.Get(c.UserContext(), r.Tenant.Slug)
	if err != nil {
		return nil, tenantError(err, "")
	}
	return t, nil
}

func (h domainHandlers) listDomains(c *fiber.Ctx, r *Request) error {
	t, err := h.freshTenant(c, r)
	if err != nil {
		return err
	}
	out := DomainList{Items: make([]DomainOut, 0, len(t.Domains))}
	for _, d := range t.Domains {
		out.Items = append(out.Items, domainOut(d))
	}
	return c.JSON(out)
}

func (h domainHandlers) addDomain(c *fiber.Ctx, r *Request) error {
	var in DomainAdd
	if err := decodeBody(c, &in); err != nil {
		return err
	}
	d, err := tenants.NormalizeDomain(in.Domain)
	if err != nil {
		return Invalid("The domain is not a valid host name.", FieldError{Field: "/domain", Code: "invalid_domain",
			Message: "a host name such as auth.example.com: letters, digits and hyphens, at least two labels, no scheme or path"})
	}
	if h.cfg.Addressing != nil && h.cfg.Addressing.Owns(d) {
		return Invalid("The domain belongs to the platform.", FieldError{Field: "/domain", Code: "platform_domain",
			Message: d + " belongs to the platform: the tenant is reached there already"})
	}
	dom, err := h.cfg.Store.AddDomain(c.UserContext(), r.Tenant.Slug, d, r.Key.Actor())
	if errors.Is(err, tenants.ErrDomainTaken) {
		// This tenant's claim, or another tenant's verified domain: the
		// answer does not say which tenant holds it.
		return &Error{Status: http.StatusConflict, Code: "domain_taken", Detail: d + " is claimed by this tenant already or verified by another."}
	}
	if err != nil {
		return tenantError(err, "")
	}
	c.Location(Prefix + "/tenants/" + r.Tenant.Slug + "/domains/" + dom.Domain)
	return c.Status(http.StatusCreated).JSON(domainOut(dom))
}

func (h domainHandlers) verifyDomain(c *fiber.Ctx, r *Request) error {
	t, err := h.freshTenant(c, r)
	if err != nil {
		return err
	}
	dom, err := h.cfg.Store.VerifyDomain(c.UserContext(), t, c.Params("domain"), h.cfg.TXT, r.Key.Actor())
	switch {
	case errors.Is(err, tenants.ErrNotFound):
		return NotFound("domain")
	case errors.Is(err, tenants.ErrChallengeMissing):
		return &Error{Status: http.StatusUnprocessableEntity, Code: "domain_not_verified",
			Detail: "The TXT record " + tenants.ChallengePrefix + "<domain> does not hold the verification token (yet); DNS changes can take a while."}
	case errors.Is(err, tenants.ErrDomainTaken):
		return &Error{Status: http.StatusConflict, Code: "domain_taken", Detail: "Another tenant verified this domain first."}
	case err != nil:
		return err
	}
	return c.JSON(domainOut(dom))
}

func (h domainHandlers) removeDomain(c *fiber.Ctx, r *Request) error {
	d, err := tenants.NormalizeDomain(c.Params("domain"))
	if err != nil {
		return NotFound("domain")
	}
	err = h.cfg.Store.RemoveDomain(c.UserContext(), r.Tenant.ID, d, r.Actor(c))
	if errors.Is(err, tenants.ErrNotFound) {
		return NotFound("domain")
	}
	if err != nil {
		return err
	}
	return c.SendStatus(http.StatusNoContent)
}
