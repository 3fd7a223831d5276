// Package clientip finds the address of the client a request comes from,
// as the platform's own reverse proxies report it.
package clientip

import (
	"net"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Peer is the client's address as the platform sees it: the connection's
// peer, or, when the peer is one of the app's trusted proxies (Fiber's
// EnableTrustedProxyCheck with TrustedProxies and ProxyHeader), the
// address the proxies report: the right-most entry of ProxyHeader that is
// not itself a trusted proxy. Entries to its left were sent by the client
// and are never believed.
//
// Fiber's own c.IP() returns the header's whole value as received (or, with
// EnableIPValidation, its left-most address): behind a proxy that appends
// to X-Forwarded-For, the client chooses it, and a per-IP rate limit keyed
// by it is no limit. When the header is missing, or its entry that counts
// is not an IP address, Peer is the proxy's own address.
func Peer(c *fiber.Ctx) string {
	peer, _ := netip.AddrFromSlice(c.Context().RemoteIP())
	peer = peer.Unmap()
	cfg := c.App().Config()
	if cfg.ProxyHeader == "" || !c.IsProxyTrusted() {
		return peer.String()
	}
	trusted := trustedSet(cfg)
	entries := strings.Split(c.Get(cfg.ProxyHeader), ",")
	for i := len(entries) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(entries[i]))
		if err != nil {
			break
		}
		a = a.Unmap().WithZone("")
		if !trusted(a) {
			return a.String()
		}
	}
	return peer.String()
}

// trustedSet tells whether an address is one of cfg's trusted proxies.
// With the check off, any peer counts as a proxy but no address in the
// header does: Peer then takes the header's right-most address.
func trustedSet(cfg fiber.Config) func(netip.Addr) bool {
	var prefixes []netip.Prefix
	for _, p := range cfg.TrustedProxies {
		if !cfg.EnableTrustedProxyCheck {
			break
		}
		if strings.Contains(p, "/") {
			if pr, err := netip.ParsePrefix(p); err == nil {
				prefixes = append(prefixes, pr.Masked())
			}
		} else if a, err := netip.ParseAddr(p); err == nil {
			prefixes = append(prefixes, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return func(a netip.Addr) bool {
		for _, p := range prefixes {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
}

// ForTenant is the client's address as allauth determines it for a tenant:
// the trusted client IP header (ALLAUTH_TRUSTED_CLIENT_IP_HEADER) if header
// is set; else, with proxyCount = N (ALLAUTH_TRUSTED_PROXY_COUNT), the N-th
// address from the right of X-Forwarded-For; else Peer. Header values are
// never believed beyond that, and anything that is not an IP address is
// ignored.
func ForTenant(c *fiber.Ctx, header string, proxyCount int) string {
	peer := Peer(c)
	if header != "" {
		if ip := cleanIP(c.Get(header)); ip != "" {
			return ip
		}
		return peer
	}
	if n := proxyCount; n > 0 {
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
