package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/tenants"
)

type (
	tenantKey    struct{}
	targetKey    struct{}
	clientKey    struct{}
	requestIDKey struct{}
)

// Client kinds, as in allauth's URL tree.
const (
	ClientBrowser = "browser"
	ClientApp     = "app"
)

// SetTenant ties the request to the tenant the resolver found, with how it
// was addressed (by Host or by the /t/{slug}/ prefix).
func SetTenant(c *fiber.Ctx, target tenants.Target) {
	c.Locals(tenantKey{}, target.Tenant)
	c.Locals(targetKey{}, &target)
}

// Tenant returns the request's tenant, or nil on the platform host.
func Tenant(c *fiber.Ctx) *tenants.Tenant {
	t, _ := c.Locals(tenantKey{}).(*tenants.Tenant)
	return t
}

// Target is how the request addressed its tenant (nil on the platform
// host): the tenant, and the /t/{slug} prefix when addressed by path.
func Target(c *fiber.Ctx) *tenants.Target {
	t, _ := c.Locals(targetKey{}).(*tenants.Target)
	return t
}

// TenantBaseURL is the tenant's canonical base URL, from configuration
// alone, e.g. "https://acme.example.com" or "https://auth.example.com/t/acme":
// links in mail, the JWT issuer and callbacks are built from it, so no
// request header (Host, X-Forwarded-*) can steer them.
func TenantBaseURL(c *fiber.Ctx) string {
	if t, ok := c.Locals(targetKey{}).(*tenants.Target); ok {
		return t.BaseURL()
	}
	return ""
}

// TenantOrigin is the scheme and host of TenantBaseURL, e.g.
// "https://auth.example.com" for a tenant addressed by path.
func TenantOrigin(c *fiber.Ctx) string {
	base := TenantBaseURL(c)
	if i := strings.Index(base, "://"); i >= 0 {
		if j := strings.IndexByte(base[i+3:], '/'); j >= 0 {
			return base[:i+3+j]
		}
	}
	return base
}

// TenantPath is the path prefix the tenant was reached through ("/t/{slug}"),
// "" when addressed by Host.
func TenantPath(c *fiber.Ctx) string {
	if t, ok := c.Locals(targetKey{}).(*tenants.Target); ok {
		return t.Prefix
	}
	return ""
}

// SetClient records which headless client tree the request is in.
func SetClient(c *fiber.Ctx, client string) { c.Locals(clientKey{}, client) }

// Client returns "browser" or "app" for headless requests.
func Client(c *fiber.Ctx) string {
	s, _ := c.Locals(clientKey{}).(string)
	return s
}

// RequestID returns the request's id (also sent as X-Request-ID).
func RequestID(c *fiber.Ctx) string {
	s, _ := c.Locals(requestIDKey{}).(string)
	return s
}
