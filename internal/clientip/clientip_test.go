package clientip_test

import (
	"net/http/httptest"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/clientip"
)

// Peer believes only what the trusted proxies wrote: the right-most
// address of X-Forwarded-For that is not a proxy of the platform's.
func TestPeer(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  fiber.Config
		xff  string
		want string
	}{
		{name: "no proxy header configured", cfg: fiber.Config{}, xff: "203.0.113.1", want: "0.0.0.0"},
		{name: "peer not trusted", cfg: trusting("192.0.2.1"), xff: "203.0.113.1", want: "0.0.0.0"},
		{name: "one proxy", cfg: trusting("0.0.0.0"), xff: "203.0.113.1", want: "203.0.113.1"},
		{name: "spoofed left-most entries", cfg: trusting("0.0.0.0"), xff: "6.6.6.6, 7.7.7.7,203.0.113.1", want: "203.0.113.1"},
		{name: "garbage on the left", cfg: trusting("0.0.0.0"), xff: "not-an-ip, 203.0.113.1", want: "203.0.113.1"},
		{name: "two proxies", cfg: trusting("0.0.0.0", "10.0.0.0/8"), xff: "6.6.6.6, 203.0.113.1, 10.1.2.3", want: "203.0.113.1"},
		{name: "ipv6 client", cfg: trusting("0.0.0.0"), xff: "2001:db8::1", want: "2001:db8::1"},
		{name: "mapped ipv4", cfg: trusting("0.0.0.0"), xff: "::ffff:203.0.113.9", want: "203.0.113.9"},
		{name: "missing header", cfg: trusting("0.0.0.0"), xff: "", want: "0.0.0.0"},
		{name: "proxy wrote garbage", cfg: trusting("0.0.0.0"), xff: "203.0.113.1, unknown", want: "0.0.0.0"},
		{name: "only proxies", cfg: trusting("0.0.0.0", "10.0.0.0/8"), xff: "10.0.0.1", want: "0.0.0.0"},
		{name: "check off: right-most", cfg: fiber.Config{ProxyHeader: fiber.HeaderXForwardedFor}, xff: "6.6.6.6, 203.0.113.1", want: "203.0.113.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.DisableStartupMessage = true
			app := fiber.New(tc.cfg)
			var got string
			app.Get("/", func(c *fiber.Ctx) error {
				got = clientip.Peer(c)
				return nil
			})
			req := httptest.NewRequest("GET", "/", nil)
			if tc.xff != "" {
				req.Header.Set(fiber.HeaderXForwardedFor, tc.xff)
			}
			if _, err := app.Test(req); err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("Peer = %q, want %q", got, tc.want)
			}
		})
	}
}

func trusting(proxies ...string) fiber.Config {
	return fiber.Config{EnableTrustedProxyCheck: true, TrustedProxies: proxies, ProxyHeader: fiber.HeaderXForwardedFor}
}
