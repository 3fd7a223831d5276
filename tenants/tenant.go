// Package tenants holds the platform's tenants: their identity, their
// allauth-named settings, where they are stored, and how a request is tied to
// one (by Host or by /t/{slug}/ prefix) through an in-process cache that every
// node invalidates over Redis pub/sub.
package tenants

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/failure"
	"github.com/hallpass/hallpass/internal/pgtext"
)

// Tenant is one customer environment: its own users, settings and keys.
type Tenant struct {
	ID   uuid.UUID
	Slug string
	Name string
	// Settings are the effective settings: allauth's defaults with Overrides applied.
	Settings *Settings
	// Overrides is the settings document as the customer wrote it (secrets in
	// clear; held in memory only, sealed in the database).
	Overrides       map[string]any
	SettingsVersion int
	// SettingsClamped lists the stored settings that exceed a bound added
	// after they were written, each with the safe value Settings holds
	// instead; the next write of the settings must fix them.
	SettingsClamped []*SettingsError
	Domains         []Domain
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Domain is a custom domain a tenant has claimed; it routes to the tenant
// only once its ownership has been verified.
type Domain struct {
	Domain            string     `json:"domain"`
	VerificationToken string     `json:"verification_token"`
	VerifiedAt        *time.Time `json:"verified_at"`
	CreatedAt         time.Time  `json:"created_at"`
}

// Verified reports whether the domain routes to its tenant.
func (d Domain) Verified() bool { return d.VerifiedAt != nil }

// ExpiresAt is when an unverified claim lapses (DomainClaimTTL after it was
// made); a verified domain does not expire.
func (d Domain) ExpiresAt() time.Time { return d.CreatedAt.Add(DomainClaimTTL) }

// Errors returned by the store and the resolver.
var (
	ErrNotFound      = failure.NewFormSentinel(http.StatusNotFound, "unknown_tenant", "Unknown tenant.", "tenant not found")
	ErrSlugTaken     = errors.New("slug is already taken")
	ErrDomainTaken   = errors.New("domain is already claimed")
	ErrInvalidSlug   = errors.New("invalid slug")
	ErrInvalidName   = errors.New("invalid name")
	ErrInvalidDomain = errors.New("invalid domain")
	// ErrStaleSettings: a conditional settings write found another version.
	ErrStaleSettings = errors.New("settings changed since that version")
)

var slugPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// reservedSlugs would collide with platform hosts or paths.
var reservedSlugs = map[string]bool{
	"www": true, "api": true, "console": true, "admin": true, "static": true,
	"assets": true, "t": true, "mail": true, "status": true, "docs": true,
	"healthz": true, "readyz": true, "platform": true, "hallpass": true,
}

// ValidateSlug checks that slug can name a tenant: a DNS label, lower case,
// not reserved by the platform.
func ValidateSlug(slug string) error {
	if !slugPattern.MatchString(slug) {
		return fmt.Errorf("%w %q: use 1-63 lower-case letters, digits and inner hyphens", ErrInvalidSlug, slug)
	}
	if reservedSlugs[slug] {
		return fmt.Errorf("%w %q: reserved by the platform", ErrInvalidSlug, slug)
	}
	return nil
}

// ValidateName checks a tenant's display name.
func ValidateName(name string) error {
	if strings.TrimSpace(name) == "" || len(name) > 200 {
		return fmt.Errorf("%w: 1-200 characters", ErrInvalidName)
	}
	if !pgtext.Valid(name) || strings.ContainsFunc(name, unicode.IsControl) {
		return fmt.Errorf("%w: no control characters or invalid UTF-8", ErrInvalidName)
	}
	return nil
}

var labelPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// NormalizeDomain lower-cases a host name, drops a trailing dot and checks
// that it is a syntactically valid multi-label DNS name.
func NormalizeDomain(domain string) (string, error) {
	if !isASCII(domain) {
		return "", fmt.Errorf("%w %q: use the ASCII (punycode) form", ErrInvalidDomain, domain)
	}
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(domain)), ".")
	if len(d) == 0 || len(d) > 253 {
		return "", fmt.Errorf("%w %q", ErrInvalidDomain, domain)
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return "", fmt.Errorf("%w %q: needs at least two labels", ErrInvalidDomain, domain)
	}
	for _, l := range labels {
		if !labelPattern.MatchString(l) {
			return "", fmt.Errorf("%w %q", ErrInvalidDomain, domain)
		}
	}
	return d, nil
}
