package ratelimit

import "testing"

// A sign-in is remembered by its IPv4 address, or its IPv6 address's /64
// (temporary addresses change within it); anything else is never known.
func TestIPNetwork(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.9":             "203.0.113.9",
		" 203.0.113.9 ":           "203.0.113.9",
		"::ffff:203.0.113.9":      "203.0.113.9",
		"2001:db8:1:2:3:4:5:6":    "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1":    "2001:db8:1:2::/64",
		"fe80::1%eth0":            "fe80::/64",
		"":                        "",
		"unknown":                 "",
		"203.0.113.9, 198.51.0.1": "",
	} {
		if got := IPNetwork(in); got != want {
			t.Errorf("IPNetwork(%q) = %q, want %q", in, got, want)
		}
	}
}
