package tenants

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// ErrMalformedHost is returned for a Host header that is not a valid host name.
var ErrMalformedHost = errors.New("malformed host")

// Resolver ties a request to a tenant by its Host: `{slug}.{base domain}`
// or a verified custom domain. Hosts that belong to the platform itself (the
// base domain, the public URL's host, IP addresses, reserved names) resolve to
// no tenant, and the path prefix /t/{slug}/ applies there.
type Resolver struct {
	cache         *Cache
	baseDomain    string
	platformHosts map[string]bool
}

// NewResolver returns a resolver for tenants under baseDomain; platformHosts
// are extra host names that serve the platform (e.g. the public URL's host).
func NewResolver(cache *Cache, baseDomain string, platformHosts ...string) *Resolver {
	r := &Resolver{cache: cache, baseDomain: strings.ToLower(strings.TrimSuffix(baseDomain, ".")), platformHosts: map[string]bool{}}
	for _, h := range platformHosts {
		r.platformHosts[strings.ToLower(h)] = true
	}
	return r
}

// ResolveHost returns the tenant a Host header names, or (nil, nil) when the
// host is the platform's own.
func (r *Resolver) ResolveHost(ctx context.Context, hostHeader string) (*Tenant, error) {
	host, err := HostName(hostHeader)
	if err != nil {
		return nil, err
	}
	if host == "" || host == r.baseDomain || r.platformHosts[host] || net.ParseIP(host) != nil {
		return nil, nil
	}
	if label, ok := strings.CutSuffix(host, "."+r.baseDomain); ok {
		if strings.Contains(label, ".") {
			return nil, fmt.Errorf("%w: host %q", ErrNotFound, host)
		}
		if reservedSlugs[label] {
			return nil, nil
		}
		return r.cache.BySlug(ctx, label)
	}
	return r.cache.ByDomain(ctx, host)
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
