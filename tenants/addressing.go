package tenants

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// ErrInvalidAddressing is returned for a public URL or base domain the
// platform cannot be published under.
var ErrInvalidAddressing = errors.New("invalid addressing")

// Addressing is where the platform and its tenants are published, from
// configuration alone (HALLPASS_PUBLIC_URL, HALLPASS_BASE_DOMAIN). Every
// absolute URL Hallpass emits for a tenant — links in mail, the JWT
// issuer, provider callbacks, the WebAuthn origin, the OpenAPI servers
// entry — is built from it, never from a request's Host.
type Addressing struct {
	scheme     string // "http" or "https"
	publicHost string // the public URL's host name, lower case, without port
	publicAuth string // the public URL's host[:port] as written, lower case
	port       string // the public URL's explicit port, or ""
	baseDomain string
}

// NewAddressing checks and holds the platform's public URL (an absolute
// http(s) URL naming a host, optionally a port, and no path, query or user)
// and the base domain tenants' hosts are {slug}.{baseDomain} under.
func NewAddressing(publicURL, baseDomain string) (*Addressing, error) {
	u, err := url.Parse(strings.TrimSuffix(publicURL, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("%w: public URL %q must be an absolute http(s) URL of a host (and port), without a path", ErrInvalidAddressing, publicURL)
	}
	host, err := HostName(u.Host)
	if err != nil || host == "" {
		return nil, fmt.Errorf("%w: public URL %q: the host is not a DNS name or IP address", ErrInvalidAddressing, publicURL)
	}
	base, err := HostName(baseDomain)
	if err != nil || base == "" || net.ParseIP(base) != nil || strings.Contains(baseDomain, ":") {
		return nil, fmt.Errorf("%w: base domain %q must be a DNS name", ErrInvalidAddressing, baseDomain)
	}
	return &Addressing{scheme: u.Scheme, publicHost: host, publicAuth: strings.ToLower(u.Host), port: u.Port(), baseDomain: base}, nil
}

// MustAddressing is NewAddressing for values known to be valid (tests,
// constants); it panics on an invalid one.
func MustAddressing(publicURL, baseDomain string) *Addressing {
	a, err := NewAddressing(publicURL, baseDomain)
	if err != nil {
		panic(err)
	}
	return a
}

// PublicOrigin is the platform's origin, e.g. "https://auth.example.com".
func (a *Addressing) PublicOrigin() string { return a.scheme + "://" + a.publicAuth }

// PublicHost is the host name the platform itself (console, /t/{slug}/)
// answers on.
func (a *Addressing) PublicHost() string { return a.publicHost }

// BaseDomain is the domain tenants' own hosts live under.
func (a *Addressing) BaseDomain() string { return a.baseDomain }

// Secure reports whether the platform is published over https.
func (a *Addressing) Secure() bool { return a.scheme == "https" }

// PathBase is a tenant's base URL by path prefix: "{public}/t/{slug}".
func (a *Addressing) PathBase(slug string) string { return a.PublicOrigin() + "/t/" + slug }

// SlugHost is a tenant's own host name: "{slug}.{base domain}".
func (a *Addressing) SlugHost(slug string) string { return slug + "." + a.baseDomain }

// HostBase is the base URL of a tenant reached at host (its slug host or a
// verified custom domain): the platform's scheme and port, that host.
func (a *Addressing) HostBase(host string) string {
	if a.port != "" {
		return a.scheme + "://" + host + ":" + a.port
	}
	return a.scheme + "://" + host
}

// BaseURLs are every base URL tenant t is published under: by path, by its
// slug host, and by each verified custom domain.
func (a *Addressing) BaseURLs(t *Tenant) []string {
	out := []string{a.PathBase(t.Slug), a.HostBase(a.SlugHost(t.Slug))}
	for _, d := range t.Domains {
		if d.Verified() {
			out = append(out, a.HostBase(d.Domain))
		}
	}
	return out
}

// Target is what a request addresses: a tenant, how (Prefix is "/t/{slug}"
// when by path, "" when by host) and the canonical host it was reached at.
// The zero Target is the platform itself.
type Target struct {
	Tenant *Tenant
	Prefix string
	// host is the tenant's configured host name the request matched (its
	// slug host or a verified domain as stored), "" when by path.
	host string
	addr *Addressing
}

// BaseURL is the tenant's base URL for this request, from configuration:
// "{public}/t/{slug}" by path, "{scheme}://{host}[:{port}]" by host, with
// the platform's scheme and port. "" for the platform itself.
func (t Target) BaseURL() string {
	switch {
	case t.Tenant == nil || t.addr == nil:
		return ""
	case t.host != "":
		return t.addr.HostBase(t.host)
	default:
		return t.addr.PathBase(t.Tenant.Slug)
	}
}
