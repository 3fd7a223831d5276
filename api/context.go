package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/tenants"
)

type (
	tenantKey    struct{}
	prefixKey    struct{}
	clientKey    struct{}
	requestIDKey struct{}
)

// Client kinds, as in allauth's URL tree.
const (
	ClientBrowser = "browser"
	ClientApp     = "app"
)

// SetTenant ties the request to a tenant; prefix is the path prefix the
// request came through ("/t/{slug}"), empty when addressed by Host.
func SetTenant(c *fiber.Ctx, t *tenants.Tenant, prefix string) {
	c.Locals(tenantKey{}, t)
	c.Locals(prefixKey{}, prefix)
}

// Tenant returns the request's tenant, or nil on the platform host.
func Tenant(c *fiber.Ctx) *tenants.Tenant {
	t, _ := c.Locals(tenantKey{}).(*tenants.Tenant)
	return t
}

// TenantBaseURL is the tenant's base URL as this request addressed it, e.g.
// "https://acme.example.com" or "http://127.0.0.1:8000/t/acme".
func TenantBaseURL(c *fiber.Ctx) string {
	p, _ := c.Locals(prefixKey{}).(string)
	return c.BaseURL() + p
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
