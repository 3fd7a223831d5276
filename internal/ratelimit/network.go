package ratelimit

import (
	"net/netip"
	"strings"
)

// IPNetwork is what Hallpass counts a client address as: an IPv4 address as
// it is, an IPv6 address as its /64 network (one subscriber's allocation,
// whose temporary addresses a host rotates through at will); "" for
// anything that is not one address. Per-IP limits and the password lock's
// known addresses both use it.
func IPNetwork(ip string) string {
	a, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return ""
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, err := a.Prefix(64)
	if err != nil {
		return ""
	}
	return p.String()
}
