package accounts

import (
	"net/url"
	"strings"

	"github.com/hallpass/hallpass/internal/origins"
	"github.com/hallpass/hallpass/tenants"
)

// SafeNext reports whether raw, a `next` parameter, may be followed after a
// page's flow, and returns where to go: a path under the tenant's base
// (prefix, "/t/{slug}" when addressed by path, "" by host) on its own
// origin, or an absolute http(s) URL on the tenant's own origin (own) or
// one of its frontend URLs' origins. Everything else is refused: other
// hosts, scheme-relative ("//evil"), backslashes ("/\evil"), a scheme
// without a host ("https:evil"), user info ("https://x@evil"), control
// characters, and paths that only become one of those once decoded.
func SafeNext(s *tenants.Settings, own, prefix, raw string) (string, bool) {
	if raw == "" || len(raw) > 2048 || raw != strings.TrimSpace(raw) {
		return "", false
	}
	for i := 0; i < len(raw); i++ {
		if b := raw[i]; b < 0x20 || b == 0x7f || b == '\\' {
			return "", false
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Opaque != "" {
		return "", false
	}
	// A decoded form that a browser or a later unescape could read as
	// another host is refused as that host would be.
	decoded, err := url.PathUnescape(raw)
	if err != nil || strings.ContainsAny(decoded, "\\\x00\r\n\t") {
		return "", false
	}
	if u.Scheme == "" && u.Host == "" {
		if !strings.HasPrefix(raw, "/") || strings.HasPrefix(raw, "//") || strings.HasPrefix(u.Path, "//") ||
			strings.HasPrefix(decoded, "//") || strings.Contains(decoded, "/../") || strings.HasSuffix(decoded, "/..") {
			return "", false
		}
		if prefix != "" && u.Path != prefix && !strings.HasPrefix(u.Path, prefix+"/") {
			return "", false // another tenant's pages, or the platform's
		}
		return raw, true
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return "", false
	}
	origin := strings.ToLower(u.Scheme + "://" + u.Host)
	if !origins.Frontend(s, own, origin) {
		return "", false
	}
	if prefix != "" && origin == strings.ToLower(own) && u.Path != prefix && !strings.HasPrefix(u.Path, prefix+"/") {
		return "", false
	}
	return u.String(), true
}
