// Package origins says which web origins a tenant trusts: its own (the
// origin of its base URL), the origins of its frontend URLs
// (HEADLESS_FRONTEND_URLS) and, for the headless API's CORS, the extra
// origins of HALLPASS_CORS_ALLOWED_ORIGINS. The headless API and the hosted
// pages ask it the same question.
package origins

import (
	"net/url"
	"slices"
	"strings"

	"github.com/hallpass/hallpass/tenants"
)

// Of returns the origin ("scheme://host[:port]", lower case) of an absolute
// http(s) URL, or "" when raw is not one.
func Of(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	return strings.ToLower(u.Scheme + "://" + u.Host)
}

// Frontend reports whether origin is the tenant's own (own, the origin of
// its base URL) or the origin of one of its frontend URLs.
func Frontend(s *tenants.Settings, own, origin string) bool {
	o := strings.ToLower(strings.TrimSuffix(origin, "/"))
	if o == "" {
		return false
	}
	if o == strings.ToLower(own) {
		return true
	}
	for _, raw := range s.FrontendURLs {
		if u, err := url.Parse(raw); err == nil && u.Host != "" && strings.ToLower(u.Scheme+"://"+u.Host) == o {
			return true
		}
	}
	return false
}

// Allowed reports whether origin may call the tenant's API with
// credentials: Frontend's origins, or one of HALLPASS_CORS_ALLOWED_ORIGINS.
func Allowed(s *tenants.Settings, own, origin string) bool {
	if Frontend(s, own, origin) {
		return true
	}
	o := strings.ToLower(strings.TrimSuffix(origin, "/"))
	return slices.ContainsFunc(s.CORSAllowedOrigins, func(a string) bool { return strings.ToLower(a) == o })
}
