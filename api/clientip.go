package api

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/clientip"
)

// ClientIP is the client's address as allauth determines it for the tenant:
// ALLAUTH_TRUSTED_CLIENT_IP_HEADER if set; else, with
// ALLAUTH_TRUSTED_PROXY_COUNT = N, the N-th address from the right of
// X-Forwarded-For; else the peer address (which the platform's own trusted
// proxies may have set: clientip.Peer). Header values are never believed
// beyond that, and anything that is not an IP address is ignored.
func ClientIP(c *fiber.Ctx) string {
	t := Tenant(c)
	if t == nil {
		return clientip.Peer(c)
	}
	return clientip.ForTenant(c, t.Settings.TrustedClientIPHeader, t.Settings.TrustedProxyCount)
}
