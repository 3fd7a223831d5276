package accounts

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/tenants"
)

// logoPath is where a tenant's logo is served under its base, by its
// content-addressed name (tenants.Logo.FileName).
const logoPath = Prefix + "branding/"

// SettingsBranding is Pages.Branding for tenants that brand their pages
// with HALLPASS_BRANDING: the product name, the logo served from the
// tenant's own host (LogoURL relative to the tenant's base; the layout
// puts the request's prefix in front), and the primary colour with the
// derived WCAG AA text and link colours ahead of the custom CSS
// (tenants.Branding.Stylesheet).
func SettingsBranding(t *tenants.Tenant) Branding {
	b := t.Settings.Branding
	out := Branding{ProductName: b.ProductName, PrimaryColor: b.PrimaryColor, CustomCSS: b.Stylesheet()}
	if b.Logo != nil {
		out.LogoURL = logoPath + b.Logo.FileName()
	}
	return out
}

// brand is the request's Branding with its logo addressed as the browser
// addresses the tenant (under /t/{slug} by path, at the root by host).
func (r *Request) brand() Branding {
	b := r.Pages.branding(r.Tenant)
	if strings.HasPrefix(b.LogoURL, logoPath) {
		b.LogoURL = r.Path(b.LogoURL)
	}
	return b
}

// registerLogo serves GET /accounts/branding/{name}: the tenant's logo
// under its current content-addressed name, cached as immutable; any other
// name (an older hash, a guess) falls through to 404. No session or CSRF
// cookie is touched, so the answer can be cached.
func (p *Pages) registerLogo(r fiber.Router) {
	r.Get(logoPath+":name", func(c *fiber.Ctx) error {
		tg := p.served(c)
		if tg == nil {
			return c.Next()
		}
		logo := tg.Tenant.Settings.Branding.Logo
		if logo == nil || c.Params("name") != logo.FileName() {
			return c.Next()
		}
		c.Set(fiber.HeaderContentType, logo.ContentType)
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
		c.Set("X-Content-Type-Options", "nosniff")
		c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; sandbox")
		return c.Send(logo.Data)
	})
}
