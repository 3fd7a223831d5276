package api

import (
	"net/url"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/origins"
	"github.com/hallpass/hallpass/tenants"
)

// corsHeaders applies CORS for the tenant's frontend origins: an allowed
// Origin gets credentials; its preflight (OPTIONS) is answered here, and
// answered reports that it was.
func corsHeaders(c *fiber.Ctx, t *tenants.Tenant) (answered bool, err error) {
	origin := c.Get(fiber.HeaderOrigin)
	if origin == "" || !allowedOrigin(t, c, origin) {
		return false, nil
	}
	c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
	c.Set(fiber.HeaderAccessControlAllowCredentials, "true")
	c.Vary(fiber.HeaderOrigin)
	if c.Method() != fiber.MethodOptions {
		return false, nil
	}
	c.Set(fiber.HeaderAccessControlAllowMethods, "GET, POST, PUT, PATCH, DELETE, OPTIONS")
	c.Set(fiber.HeaderAccessControlAllowHeaders, "accept, authorization, content-type, user-agent, x-csrftoken, x-requested-with, x-session-token, x-email-verification-key, x-password-reset-key")
	c.Set(fiber.HeaderAccessControlMaxAge, "86400")
	return true, c.SendStatus(fiber.StatusNoContent)
}

// allowedOrigin reports whether origin may call the tenant's API with
// credentials: the request's own origin, the origins of the tenant's
// frontend URLs, or HALLPASS_CORS_ALLOWED_ORIGINS.
func allowedOrigin(t *tenants.Tenant, c *fiber.Ctx, origin string) bool {
	return origins.Allowed(t.Settings, TenantOrigin(c), origin)
}

// SafeRedirect reports whether a frontend may be sent to target after a
// flow (allauth's is_safe_url): a path on the API's own origin, or an
// absolute http(s) URL on an origin allowedOrigin accepts.
func SafeRedirect(c *fiber.Ctx, target string) bool {
	if target == "" || strings.ContainsAny(target, "\\\x00\r\n\t") {
		return false
	}
	u, err := url.Parse(target)
	if err != nil || u.User != nil {
		return false
	}
	if u.Scheme == "" && u.Host == "" {
		return strings.HasPrefix(target, "/") && !strings.HasPrefix(target, "//")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return false
	}
	return allowedOrigin(Tenant(c), c, u.Scheme+"://"+u.Host)
}
