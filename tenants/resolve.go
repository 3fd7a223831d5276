package tenants

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/hallpass/hallpass/internal/failure"
)

// ErrMalformedHost is returned for a Host header that is not a valid host name.
var ErrMalformedHost = failure.NewFormSentinel(http.StatusBadRequest, "invalid_host", "Malformed Host header.", "malformed host")

// ErrUnknownHost is returned for a well-formed Host the platform does not
// answer on: no tenant can ever be reached there (an IP address or name that
// is not the public URL's, the bare base domain, a reserved label, a name
// nested under a tenant's host, no Host at all).
var ErrUnknownHost = failure.NewFormSentinel(http.StatusBadRequest, "invalid_host", "This host is not served here.", "host not served")

// Resolver ties a request to a tenant by its Host: `{slug}.{base domain}`
// or a verified custom domain. The public URL's host serves the platform
// (console, health, the /t/{slug}/ prefix); every other Host is refused.
type Resolver struct {
	cache *Cache
	addr  *Addressing
}

// NewResolver returns a resolver for the tenants published under addr.
func NewResolver(cache *Cache, addr *Addressing) *Resolver {
	return &Resolver{cache: cache, addr: addr}
}

// Addressing is where the resolver's platform is published.
func (r *Resolver) Addressing() *Addressing { return r.addr }

// ResolveHost returns the tenant a Host header names, with the canonical
// host it matched, or the zero Target when the host is the platform's own.
// A malformed Host is ErrMalformedHost; one the platform never answers on
// ErrUnknownHost; a tenant-shaped name nobody holds ErrNotFound.
func (r *Resolver) ResolveHost(ctx context.Context, hostHeader string) (Target, error) {
	host, err := HostName(hostHeader)
	if err != nil {
		return Target{}, err
	}
	if host == "" {
		return Target{}, fmt.Errorf("%w: no Host", ErrUnknownHost)
	}
	if host == r.addr.publicHost {
		return Target{}, nil
	}
	if host == r.addr.baseDomain || net.ParseIP(host) != nil {
		return Target{}, fmt.Errorf("%w: %q", ErrUnknownHost, host)
	}
	if label, ok := strings.CutSuffix(host, "."+r.addr.baseDomain); ok {
		if strings.Contains(label, ".") || reservedSlugs[label] {
			return Target{}, fmt.Errorf("%w: %q", ErrUnknownHost, host)
		}
		t, err := r.cache.BySlug(ctx, label)
		if err != nil {
			return Target{}, err
		}
		return Target{Tenant: t, host: r.addr.SlugHost(t.Slug), addr: r.addr}, nil
	}
	t, err := r.cache.ByDomain(ctx, host)
	if err != nil {
		return Target{}, err
	}
	// The base is the domain as the tenant holds it, never the header.
	for _, d := range t.Domains {
		if d.Verified() && d.Domain == host {
			return Target{Tenant: t, host: d.Domain, addr: r.addr}, nil
		}
	}
	return Target{}, fmt.Errorf("%w: domain %q", ErrNotFound, host)
}

// ResolvePath returns the tenant named by a /t/{slug}/ prefix (which the
// platform's own host serves).
func (r *Resolver) ResolvePath(ctx context.Context, slug string) (Target, error) {
	t, err := r.BySlug(ctx, slug)
	if err != nil {
		return Target{}, err
	}
	return Target{Tenant: t, Prefix: "/t/" + t.Slug, addr: r.addr}, nil
}

// BySlug returns the tenant named by a /t/{slug}/ prefix.
func (r *Resolver) BySlug(ctx context.Context, slug string) (*Tenant, error) {
	if ValidateSlug(slug) != nil {
		return nil, fmt.Errorf("%w: %q", ErrNotFound, slug)
	}
	return r.cache.BySlug(ctx, slug)
}

// HostName extracts the lower-cased host name from a Host header value,
// without port; it rejects anything that is not a DNS name or an IP literal.
func HostName(hostHeader string) (string, error) {
	// ASCII only, before any case folding: Unicode lower-casing would map
	// e.g. the Kelvin sign to "k" and route a look-alike host to a tenant.
	if !isASCII(hostHeader) {
		return "", fmt.Errorf("%w: %q", ErrMalformedHost, hostHeader)
	}
	h := strings.ToLower(strings.TrimSpace(hostHeader))
	if h == "" {
		return "", nil
	}
	if strings.HasPrefix(h, "[") { // IPv6 literal, maybe with port
		end := strings.IndexByte(h, ']')
		if end < 0 || net.ParseIP(h[1:end]) == nil {
			return "", fmt.Errorf("%w: %q", ErrMalformedHost, hostHeader)
		}
		rest := h[end+1:]
		if rest != "" && !validPort(strings.TrimPrefix(rest, ":")) || rest != "" && rest[0] != ':' {
			return "", fmt.Errorf("%w: %q", ErrMalformedHost, hostHeader)
		}
		return h[1:end], nil
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		if !validPort(h[i+1:]) {
			return "", fmt.Errorf("%w: %q", ErrMalformedHost, hostHeader)
		}
		h = h[:i]
	}
	h = strings.TrimSuffix(h, ".")
	if len(h) == 0 || len(h) > 253 {
		return "", fmt.Errorf("%w: %q", ErrMalformedHost, hostHeader)
	}
	for _, label := range strings.Split(h, ".") {
		if !labelPattern.MatchString(label) {
			return "", fmt.Errorf("%w: %q", ErrMalformedHost, hostHeader)
		}
	}
	return h, nil
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 {
		return false
	}
	n := 0
	for _, c := range p {
		if c < '0' || c > '9' {
			return false
		}
		n = n*10 + int(c-'0')
	}
	return n > 0 && n <= 65535
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
