// Package accounts serves the hosted account pages: allauth's own views
// (sign in, sign up, confirm an address, reset a password, …) at allauth's
// paths under each tenant's base, for tenants with HEADLESS_ONLY false. The
// pages run the same domain code as the headless API (internal/identity),
// share the browser client's session (the sessionid cookie) and CSRF
// contract (the csrftoken cookie, here echoed in the csrfmiddlewaretoken
// field), and are gated by the same settings: a feature off in settings is
// absent (404) here as there.
//
// The foundation is Pages (mounting, gating), Request (one page request:
// tenant, session, CSRF, rendering, redirects), the layout with its
// Branding, form fields tied to their errors, and the safe-`next` rule;
// each page is a file of its own. Another package adds pages through
// Module (the MFA pages).
package accounts

import (
	"log/slog"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/tenants"
	"github.com/hallpass/hallpass/web"
)

// Prefix is where the pages live under a tenant's base, as in allauth.
const Prefix = "/accounts/"

// DefaultRedirect is where a sign-in goes when no safe `next` was given:
// allauth redirects to Django's LOGIN_REDIRECT_URL, whose default
// ("/accounts/profile/") is a page allauth does not serve; a tenant
// without a frontend lands on its account's email page instead, the first
// of allauth's account management views.
const DefaultRedirect = Prefix + "email/"

// Pages serves the hosted account pages. Set its fields, then Register it
// on the tenant app (api/server's Config.Pages).
type Pages struct {
	// Accounts runs the account flows, the same instance the headless API
	// uses.
	Accounts *identity.Accounts
	// Branding returns a tenant's look; nil, or a zero field, means the
	// default (DefaultBranding).
	Branding func(*tenants.Tenant) Branding
	// Modules are pages other packages add (the MFA pages).
	Modules []Module
	// Log receives the errors a page could not answer otherwise (500s).
	Log *slog.Logger

	target func(*fiber.Ctx) *tenants.Target
}

// Module is a set of pages added to Pages by another package.
type Module interface {
	// Register adds the module's pages through r.
	Register(r Router)
}

// Gate is a condition on a tenant's settings a page is served under: a
// page whose gate is false is absent (the request falls through to 404).
type Gate func(s *tenants.Settings) bool

// Handler handles one page request.
type Handler func(r *Request) error

// Router registers pages: each handler runs for tenants with HEADLESS_ONLY
// false whose settings pass the page's gates, with the request's session
// loaded and, for a POST, its CSRF token checked.
type Router struct {
	r     fiber.Router
	pages *Pages
}

// Get registers a GET (and HEAD) page at path (relative to the tenant's
// base, e.g. "/accounts/login/").
func (rt Router) Get(path string, h Handler, gates ...Gate) {
	rt.r.Get(path, rt.pages.wrap(h, gates))
}

// Post registers a form post at path.
func (rt Router) Post(path string, h Handler, gates ...Gate) {
	rt.r.Post(path, rt.pages.wrap(h, gates))
}

// Page registers get for GET and post for POST at path, under the same gates.
func (rt Router) Page(path string, get, post Handler, gates ...Gate) {
	rt.Get(path, get, gates...)
	rt.Post(path, post, gates...)
}

// Pages is the Pages the router registers for.
func (rt Router) Pages() *Pages { return rt.pages }

// Register mounts the pages on the tenant app r; target tells how a
// request addressed its tenant (api.Target). It implements api/server's
// Pages.
func (p *Pages) Register(r fiber.Router, target func(*fiber.Ctx) *tenants.Target) {
	p.target = target
	static := web.ImmutableHandler()
	r.Get(Prefix+"static/*", func(c *fiber.Ctx) error {
		if p.served(c) == nil {
			return c.Next()
		}
		return static(c)
	})
	r.Get(Prefix+"brand.css", p.brandCSS)
	p.registerLogo(r)
	rt := Router{r: r, pages: p}
	p.registerCore(rt)
	for _, m := range p.Modules {
		m.Register(rt)
	}
}

// served returns the request's tenant target when the tenant serves pages
// (HEADLESS_ONLY false), nil otherwise.
func (p *Pages) served(c *fiber.Ctx) *tenants.Target {
	tg := p.target(c)
	if tg == nil || tg.Tenant == nil || tg.Tenant.Settings == nil || tg.Tenant.Settings.HeadlessOnly {
		return nil
	}
	return tg
}

// wrap turns a page handler into a Fiber handler: gating, the session and
// CSRF, and errors rendered as pages.
func (p *Pages) wrap(h Handler, gates []Gate) fiber.Handler {
	return func(c *fiber.Ctx) error {
		tg := p.served(c)
		if tg == nil {
			return c.Next()
		}
		for _, g := range gates {
			if !g(tg.Tenant.Settings) {
				return c.Next()
			}
		}
		r, err := p.begin(c, tg)
		if err == nil {
			err = h(r)
		}
		if err != nil {
			return r.fail(err)
		}
		return nil
	}
}
