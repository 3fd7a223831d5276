package egress

import (
	"errors"
	"net/netip"
	"testing"
)

func TestPublic(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		public bool
	}{
		{"93.184.216.34", true},
		{"2606:2800:220:1:248:1893:25c8:1946", true},
		{"127.0.0.1", false},
		{"::1", false},
		{"10.1.2.3", false},
		{"172.16.0.1", false},
		{"192.168.1.1", false},
		{"169.254.169.254", false}, // cloud metadata
		{"100.64.0.1", false},      // CGNAT
		{"0.0.0.0", false},
		{"::", false},
		{"224.0.0.1", false},
		{"fd00::1", false},
		{"fe80::1", false},
		{"::ffff:127.0.0.1", false}, // IPv4-mapped loopback
		{"64:ff9b::7f00:1", false},  // NAT64 of 127.0.0.1
		{"64:ff9b:1::a00:1", false}, // local-use NAT64
		{"192.0.2.1", false},        // documentation
		{"2001:db8::1", false},      // documentation
		{"240.0.0.1", false},        // reserved
		{"fec0::1", false},          // site-local
		{"198.18.0.1", false},       // benchmarking
		{"8.8.8.8", true},
	} {
		if got := Public(netip.MustParseAddr(tc.addr)); got != tc.public {
			t.Errorf("Public(%s) = %v, want %v", tc.addr, got, tc.public)
		}
	}
}

func TestDialControl(t *testing.T) {
	forbidden := errors.New("forbidden")
	control := DialControl(forbidden)
	for _, addr := range []string{"127.0.0.1:443", "[::1]:443", "[64:ff9b::a9fe:a9fe]:80", "not an address"} {
		if err := control("tcp", addr, nil); !errors.Is(err, forbidden) {
			t.Errorf("%s: %v, want the forbidden error", addr, err)
		}
	}
	if err := control("tcp", "8.8.8.8:443", nil); err != nil {
		t.Errorf("public address refused: %v", err)
	}
}
