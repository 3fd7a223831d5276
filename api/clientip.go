package api

import (
	"net"
	"strings"

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
	peer := clientip.Peer(c)
	t := Tenant(c)
	if t == nil {
		return peer
	}
	s := t.Settings
	if h := s.TrustedClientIPHeader; h != "" {
		if ip := cleanIP(c.Get(h)); ip != "" {
			return ip
		}
		return peer
	}
	if n := s.TrustedProxyCount; n > 0 {
		xff := strings.Split(c.Get(fiber.HeaderXForwardedFor), ",")
		if len(xff) >= n {
			if ip := cleanIP(xff[len(xff)-n]); ip != "" {
				return ip
			}
		}
	}
	return peer
}

func cleanIP(s string) string {
	ip := net.ParseIP(strings.TrimSpace(s))
	if ip == nil {
		return ""
	}
	return ip.String()
}
