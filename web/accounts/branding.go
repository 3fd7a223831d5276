package accounts

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/tenants"
)

// Branding is how a tenant's pages look: its product's name, logo and
// colour, and optional extra CSS. Zero fields take the defaults.
type Branding struct {
	// ProductName heads every page and ends its title (default: the
	// tenant's name).
	ProductName string
	// LogoURL is the logo's address on the tenant's own origin: a path
	// ("/t/acme/…" or "/…"); anything else is ignored (no third-party
	// requests).
	LogoURL string
	// PrimaryColor is the buttons' and links' colour, "#rrggbb".
	PrimaryColor string
	// CustomCSS is appended to the pages' styles, served as a stylesheet
	// of the tenant's own (never inline: the CSP allows no inline style).
	// Whoever fills it limits it to the safe subset; the CSP keeps it from
	// loading anything from elsewhere.
	CustomCSS string
}

var hexColor = regexp.MustCompile(`^#[0-9a-fA-F]{6}$`)

// DefaultBranding is the look of a tenant that set none: its name, the
// platform's colour, no logo.
func DefaultBranding(t *tenants.Tenant) Branding {
	name := t.Name
	if name == "" {
		name = t.Slug
	}
	return Branding{ProductName: name}
}

// branding is the tenant's Branding, each field checked: a colour that is
// not "#rrggbb" and a logo that is not a path on our own origin are dropped.
func (p *Pages) branding(t *tenants.Tenant) Branding {
	def := DefaultBranding(t)
	b := def
	if p.Branding != nil {
		b = p.Branding(t)
	}
	if strings.TrimSpace(b.ProductName) == "" {
		b.ProductName = def.ProductName
	}
	if !hexColor.MatchString(b.PrimaryColor) {
		b.PrimaryColor = ""
	}
	if !strings.HasPrefix(b.LogoURL, "/") || strings.HasPrefix(b.LogoURL, "//") || strings.ContainsAny(b.LogoURL, "\\\"'<> \t\r\n") {
		b.LogoURL = ""
	}
	return b
}

// brandSheet is the tenant's stylesheet: the primary colour as custom
// properties (with a text colour that contrasts with it), then its CSS.
func brandSheet(b Branding) string {
	if b.PrimaryColor == "" && b.CustomCSS == "" {
		return ""
	}
	var s strings.Builder
	if b.PrimaryColor != "" {
		s.WriteString(":root{--acc-primary:" + strings.ToLower(b.PrimaryColor) + ";--acc-on-primary:" + onColor(b.PrimaryColor) + "}\n")
	}
	s.WriteString(b.CustomCSS)
	return s.String()
}

// onColor is black or white, whichever contrasts more with the colour
// (WCAG relative luminance).
func onColor(hex string) string {
	lum := 0.0
	for i, w := range []float64{0.2126, 0.7152, 0.0722} {
		v, _ := strconv.ParseUint(hex[1+2*i:3+2*i], 16, 8)
		c := float64(v) / 255
		if c <= 0.03928 {
			c /= 12.92
		} else {
			c = math.Pow((c+0.055)/1.055, 2.4)
		}
		lum += w * c
	}
	if (lum+0.05)/0.05 > 1.05/(lum+0.05) {
		return "#000000"
	}
	return "#ffffff"
}

// brandCSSURL is the address of the tenant's stylesheet with its content
// hash, "" when it has none.
func (p *Pages) brandCSSURL(r *Request) string {
	sheet := brandSheet(p.branding(r.Tenant))
	if sheet == "" {
		return ""
	}
	return r.Path(Prefix+"brand.css") + "?v=" + sheetVersion(sheet)
}

func sheetVersion(sheet string) string {
	sum := sha256.Sum256([]byte(sheet))
	return hex.EncodeToString(sum[:8])
}

// brandCSS serves the tenant's stylesheet: cached for good under its
// current version, not at all under any other.
func (p *Pages) brandCSS(c *fiber.Ctx) error {
	tg := p.served(c)
	if tg == nil {
		return c.Next()
	}
	sheet := brandSheet(p.branding(tg.Tenant))
	c.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
	c.Set("X-Content-Type-Options", "nosniff")
	if c.Query("v") == sheetVersion(sheet) {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	return c.SendString(sheet)
}
