package tenants_test

import (
	"context"
	"errors"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/tenants"
)

// Fuzz tests of Host and domain handling (issues #11, #16): HostName and
// ResolveHost tie every request to a tenant and its configured base URL,
// NormalizeDomain and ValidateSlug guard what tenants may claim.

// hostSeeds are Host header values a server meets: the platform, tenants by
// subdomain and custom domain, ports, IP literals, and malformed ones.
var hostSeeds = []string{
	"", " ", "hallpass.test", "demo.localhost:8000", "acme.hallpass.test", "ACME.HallPass.Test:8443",
	"acme.hallpass.test.", "auth.acme.example", "auth.acme.example:443", "127.0.0.1", "127.0.0.1:8000",
	"[::1]", "[::1]:8000", "[2001:db8::1]:443", "[::ffff:192.0.2.1]", "bad_host.hallpass.test", "evil.com/../x",
	"host:99999", "host:0", "host:", "[::1", "[::1]x", "[::1]:", "[fe80::1%eth0]:80", "a..b", ".", "..", "-a.com",
	"a-.com", "xn--bcher-kva.example", "bücher.example", "a.b.c.d.e.f.g.h", strings.Repeat("a", 63) + ".com",
	strings.Repeat("a", 64) + ".com", strings.Repeat("a.", 126) + "a", " acme.hallpass.test ", "acme.hallpass.test:80:80",
	"acme.hallpass.test\t", "acme\x00.hallpass.test", "1.2.3.4.5", "0x7f.1", "::1", "[]", "[1.2.3.4]",
}

// asciiSpace is what strings.TrimSpace trims within ASCII.
const asciiSpace = " \t\n\v\f\r"

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// asciiLower lower-cases A-Z only, as DNS names compare.
func asciiLower(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// dnsChars is what a host name may hold once lower-cased.
var dnsChars = regexp.MustCompile(`^[a-z0-9.-]+$`)

func FuzzHostName(f *testing.F) {
	for _, h := range hostSeeds {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, header string) {
		h, err := tenants.HostName(header)
		if err != nil {
			if !errors.Is(err, tenants.ErrMalformedHost) {
				t.Fatalf("HostName(%q): error %v is not ErrMalformedHost", header, err)
			}
			if h != "" {
				t.Fatalf("HostName(%q) = %q with error %v", header, h, err)
			}
			return
		}
		if h == "" {
			if strings.TrimSpace(header) != "" {
				t.Fatalf("HostName(%q) = \"\" without an error for a non-blank header", header)
			}
			return
		}
		if h != strings.ToLower(h) {
			t.Fatalf("HostName(%q) = %q, not lower case", header, h)
		}
		// A DNS name or IP literal is ASCII: the name must come from the
		// header by ASCII lower-casing alone, never by Unicode case folding
		// or trimming of Unicode spaces.
		if v := strings.Trim(header, asciiSpace); !isASCII(v) || !strings.Contains(asciiLower(v), h) {
			t.Fatalf("HostName(%q) = %q: accepted a header that is not an ASCII host name", header, h)
		}
		if ip := net.ParseIP(h); ip != nil {
			if strings.Contains(h, ":") { // IPv6: only from a bracketed literal
				if again, err := tenants.HostName("[" + h + "]"); err != nil || again != h {
					t.Fatalf("HostName([%s]) = %q, %v; want %q", h, again, err, h)
				}
			}
			return
		}
		if !dnsChars.MatchString(h) {
			t.Fatalf("HostName(%q) = %q: not [a-z0-9.-] and not an IP", header, h)
		}
		if len(h) > 253 || strings.HasSuffix(h, ".") || strings.HasPrefix(h, ".") || strings.Contains(h, "..") {
			t.Fatalf("HostName(%q) = %q is not a DNS name", header, h)
		}
		for _, label := range strings.Split(h, ".") {
			if len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
				t.Fatalf("HostName(%q) = %q: bad label %q", header, h, label)
			}
		}
		// A host name is its own Host header, with or without a port.
		if again, err := tenants.HostName(h); err != nil || again != h {
			t.Fatalf("HostName(%q) = %q, %v; not idempotent", h, again, err)
		}
		if again, err := tenants.HostName(h + ":8443"); err != nil || again != h {
			t.Fatalf("HostName(%q) = %q, %v; the port is not dropped", h+":8443", again, err)
		}
	})
}

func FuzzNormalizeDomain(f *testing.F) {
	for _, h := range hostSeeds {
		f.Add(h)
	}
	for _, d := range []string{"auth.acme.example", "Auth.ACME.example.", "localhost", "acme", "a.b", "1.2.3.4", "co.uk"} {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, domain string) {
		d, err := tenants.NormalizeDomain(domain)
		if err != nil {
			if !errors.Is(err, tenants.ErrInvalidDomain) {
				t.Fatalf("NormalizeDomain(%q): error %v is not ErrInvalidDomain", domain, err)
			}
			return
		}
		if !dnsChars.MatchString(d) || len(d) > 253 {
			t.Fatalf("NormalizeDomain(%q) = %q: not a lower-case DNS name", domain, d)
		}
		if v := strings.Trim(domain, asciiSpace); !isASCII(v) || !strings.HasPrefix(asciiLower(v), d) {
			t.Fatalf("NormalizeDomain(%q) = %q: accepted a name that is not an ASCII DNS name", domain, d)
		}
		labels := strings.Split(d, ".")
		if len(labels) < 2 {
			t.Fatalf("NormalizeDomain(%q) = %q: fewer than two labels", domain, d)
		}
		for _, l := range labels {
			if l == "" || len(l) > 63 || strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
				t.Fatalf("NormalizeDomain(%q) = %q: bad label %q", domain, d, l)
			}
		}
		if again, err := tenants.NormalizeDomain(d); err != nil || again != d {
			t.Fatalf("NormalizeDomain(%q) = %q, %v; not idempotent", d, again, err)
		}
		// A claimable domain must be reachable: the resolver reads it from Host.
		if h, err := tenants.HostName(d); err != nil || h != d {
			t.Fatalf("HostName(%q) = %q, %v; a valid custom domain does not resolve", d, h, err)
		}
	})
}

// documentedSlug is ValidateSlug's documented rule: a DNS label, lower case,
// 1-63 characters.
var documentedSlug = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

func FuzzValidateSlug(f *testing.F) {
	for _, s := range []string{"acme", "demo", "a", "0", "a-b", "acme-corp-2", "www", "console", "t", "A", "-a", "a-",
		"a_b", "a.b", "acme ", "", strings.Repeat("a", 63), strings.Repeat("a", 64), "ácme", "acme\n", "acme\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, slug string) {
		err := tenants.ValidateSlug(slug)
		if err != nil {
			if !errors.Is(err, tenants.ErrInvalidSlug) {
				t.Fatalf("ValidateSlug(%q): error %v is not ErrInvalidSlug", slug, err)
			}
			if documentedSlug.MatchString(slug) && !strings.Contains(err.Error(), "reserved") {
				t.Fatalf("ValidateSlug(%q) rejects a well-formed slug: %v", slug, err)
			}
			return
		}
		if !documentedSlug.MatchString(slug) {
			t.Fatalf("ValidateSlug accepted %q, which does not match %s", slug, documentedSlug)
		}
		// The slug must work both ways a tenant is addressed: as the first
		// label of {slug}.{base domain} and as a /t/{slug}/ path segment.
		host := slug + ".hallpass.test"
		if h, err := tenants.HostName(host + ":8000"); err != nil || h != host {
			t.Fatalf("HostName(%q) = %q, %v", host+":8000", h, err)
		}
		if d, err := tenants.NormalizeDomain(host); err != nil || d != host {
			t.Fatalf("NormalizeDomain(%q) = %q, %v", host, d, err)
		}
	})
}

// memLoader is a tenants.Loader over fixed tenants, so the resolver can be
// fuzzed without a database.
type memLoader map[string]*tenants.Tenant

func (m memLoader) Get(_ context.Context, slug string) (*tenants.Tenant, error) {
	if t, ok := m[slug]; ok {
		return t, nil
	}
	return nil, tenants.ErrNotFound
}

func (m memLoader) GetByDomain(_ context.Context, domain string) (*tenants.Tenant, error) {
	for _, t := range m {
		for _, d := range t.Domains {
			if d.Domain == domain && d.Verified() {
				return t, nil
			}
		}
	}
	return nil, tenants.ErrNotFound
}

// FuzzResolveHost (issue #16): whatever the Host header, the resolver never
// panics, reaches a tenant only at one of its own hosts ({slug}.{base} or a
// verified custom domain), the platform only at the public URL's host, and
// the base URL it gives is built from configuration: one of the tenant's
// configured base URLs, never the header's spelling.
func FuzzResolveHost(f *testing.F) {
	for _, h := range hostSeeds {
		f.Add(h)
	}
	for _, h := range []string{"acme.hallpass.test", "ACME.hallpass.test.:1", "auth.acme.example", "Auth.Acme.Example:80",
		"pending.acme.example", "bravo.hallpass.test", "www.hallpass.test", "x.acme.hallpass.test", "auth.platform.example",
		"AUTH.platform.example.:8443", "hallpass.test", "10.0.0.66", "[::1]:8443", "evil.example", "acme.hallpass.test.evil.example",
		"acme.hallpass.test:8443@evil.example", "acme.hallpass.test#evil", "acme.hallpass.test, evil.example"} {
		f.Add(h)
	}
	verified := time.Now()
	acme := &tenants.Tenant{Slug: "acme", Domains: []tenants.Domain{{Domain: "auth.acme.example", VerifiedAt: &verified},
		{Domain: "pending.acme.example"}}}
	bravo := &tenants.Tenant{Slug: "bravo"}
	addr := tenants.MustAddressing("https://auth.platform.example:8443", "hallpass.test")
	r := tenants.NewResolver(tenants.NewCache(memLoader{"acme": acme, "bravo": bravo}, time.Minute), addr)
	own := map[*tenants.Tenant][]string{acme: {"acme.hallpass.test", "auth.acme.example"}, bravo: {"bravo.hallpass.test"}}
	f.Fuzz(func(t *testing.T, header string) {
		target, err := r.ResolveHost(context.Background(), header)
		host, herr := tenants.HostName(header)
		if err != nil {
			if target.Tenant != nil || target.BaseURL() != "" {
				t.Fatalf("ResolveHost(%q) failed (%v) but named %v", header, err, target)
			}
			if !errors.Is(err, tenants.ErrMalformedHost) && !errors.Is(err, tenants.ErrUnknownHost) && !errors.Is(err, tenants.ErrNotFound) {
				t.Fatalf("ResolveHost(%q): unexpected error %v", header, err)
			}
			return
		}
		if herr != nil {
			t.Fatalf("ResolveHost(%q) accepted a Host HostName refuses: %v", header, herr)
		}
		if target.Tenant == nil {
			if host != "auth.platform.example" || target.BaseURL() != "" {
				t.Fatalf("ResolveHost(%q) = the platform, for host %q", header, host)
			}
			return
		}
		if !slices.Contains(own[target.Tenant], host) {
			t.Fatalf("ResolveHost(%q) = %s, which does not own %q", header, target.Tenant.Slug, host)
		}
		base := target.BaseURL()
		if base != "https://"+host+":8443" || !slices.Contains(addr.BaseURLs(target.Tenant), base) || target.Prefix != "" {
			t.Fatalf("ResolveHost(%q): base %q is not one of %s's configured bases", header, base, target.Tenant.Slug)
		}
		// The same tenant host spelled any other way gives the same base.
		if again, err := r.ResolveHost(context.Background(), strings.ToUpper(host)+".:1"); err != nil || again.BaseURL() != base {
			t.Fatalf("ResolveHost(%q) base %q, but %q gives %q, %v", header, base, strings.ToUpper(host)+".:1", again.BaseURL(), err)
		}
	})
}
