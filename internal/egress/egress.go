// Package egress is the rule for connections Hallpass makes to hosts a
// tenant names (an OpenID provider's server, a webhook endpoint): only
// public unicast addresses, checked on the address actually dialled, after
// DNS resolution, so that a name resolving to an internal address — at
// save or, rebound, at connection time — cannot reach the platform's own
// network.
package egress

import (
	"fmt"
	"net/netip"
	"syscall"
)

// Public reports whether a is a public unicast address: not loopback,
// private (RFC 1918, ULA), link-local (cloud metadata services live
// there), CGNAT, NAT64 (it reaches IPv4 internals), documentation,
// multicast, unspecified or reserved.
func Public(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsMulticast() || a.IsUnspecified() || a.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64 can reach IPv4 internals
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("fec0::/10"),
}

// DialControl is a net.Dialer Control function that refuses a connection
// to an address that is not Public, with an error wrapping forbidden.
func DialControl(forbidden error) func(network, address string, _ syscall.RawConn) error {
	return func(network, address string, _ syscall.RawConn) error {
		ap, err := netip.ParseAddrPort(address)
		if err != nil || !Public(ap.Addr()) {
			return fmt.Errorf("%w: %s", forbidden, address)
		}
		return nil
	}
}
