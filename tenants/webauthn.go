package tenants

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/go-webauthn/webauthn/webauthn"
)

// WebAuthnConfig returns the tenant's WebAuthn relying party: its id is
// HALLPASS_WEBAUTHN_RP_ID, else the host of the tenant's frontend (the first
// absolute HEADLESS_FRONTEND_URLS entry), else fallbackHost (the host the API
// is reached on). Allowed origins are HALLPASS_WEBAUTHN_ORIGINS, else the
// frontend URLs' and CORS origins, else the fallback origin. The result has
// been checked by go-webauthn.
func (s *Settings) WebAuthnConfig(displayName, fallbackOrigin string) (*webauthn.Config, error) {
	fallback, err := url.Parse(fallbackOrigin)
	if err != nil || fallback.Host == "" {
		return nil, fmt.Errorf("webauthn: fallback origin %q is not absolute", fallbackOrigin)
	}
	origins := slices.Clone(s.WebAuthnOrigins)
	if len(origins) == 0 {
		origins = s.frontendOrigins()
	}
	if len(origins) == 0 {
		origins = []string{fallback.Scheme + "://" + fallback.Host}
	}
	rpID := s.WebAuthnRPID
	if rpID == "" {
		u, _ := url.Parse(origins[0])
		rpID = u.Hostname()
	}
	for _, o := range origins {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("webauthn: origin %q is not absolute", o)
		}
		// Browsers only accept an RP id that is the origin's host or a
		// registrable suffix of it.
		host := u.Hostname()
		if host != rpID && !strings.HasSuffix(host, "."+rpID) {
			return nil, fmt.Errorf("webauthn: origin %s is not within relying party id %q", o, rpID)
		}
		if u.Scheme != "https" && !s.MFAWebAuthnAllowInsecureOrigin && host != "localhost" {
			return nil, fmt.Errorf("webauthn: origin %s is not https (set MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN for development)", o)
		}
	}
	cfg := &webauthn.Config{RPID: rpID, RPDisplayName: displayName, RPOrigins: origins}
	if _, err := webauthn.New(cfg); err != nil {
		return nil, errors.Join(errors.New("webauthn: invalid relying party"), err)
	}
	return cfg, nil
}

// frontendOrigins are the distinct origins of the absolute frontend URLs
// (sorted by URL name, for a stable first entry) and the CORS origins.
func (s *Settings) frontendOrigins() []string {
	names := make([]string, 0, len(s.FrontendURLs))
	for name := range s.FrontendURLs {
		names = append(names, name)
	}
	slices.Sort(names)
	var out []string
	add := func(raw string) {
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return
		}
		o := u.Scheme + "://" + u.Host
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	for _, n := range names {
		add(s.FrontendURLs[n])
	}
	for _, o := range s.CORSAllowedOrigins {
		add(o)
	}
	return out
}
