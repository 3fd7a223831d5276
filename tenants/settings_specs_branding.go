package tenants

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // DecodeConfig of JPEG logos
	_ "image/png"  // DecodeConfig of PNG logos
	"math"
	"strconv"
	"strings"
	"unicode"

	"github.com/tdewolff/parse/v2"
	"github.com/tdewolff/parse/v2/css"
)

// Bounds of HALLPASS_BRANDING.
const (
	// MaxLogoBytes caps the decoded logo: it is stored in the settings
	// document and served by every node from memory.
	MaxLogoBytes = 64 << 10
	// MaxLogoSide caps a logo's width and height in pixels.
	MaxLogoSide = 2048
	// MaxCustomCSSBytes caps the custom stylesheet.
	MaxCustomCSSBytes = 16 << 10
	// MaxProductNameLength caps the product name, in characters.
	MaxProductNameLength = 80
	// MinTextContrast is WCAG 2.x AA's contrast ratio for normal text.
	MinTextContrast = 4.5
)

// Branding is how a tenant's hosted account pages look (HALLPASS_BRANDING):
// everything is optional, and the zero value is Hallpass's own look.
type Branding struct {
	// ProductName replaces the tenant's name in page titles and headings.
	ProductName string
	// Logo is the uploaded logo, served from the tenant's host; nil = none.
	Logo *Logo
	// PrimaryColor is "#rrggbb" (lower case), the background of primary
	// buttons; "" = Hallpass's default.
	PrimaryColor string
	// OnPrimaryColor is the text colour on PrimaryColor: white where that
	// reaches MinTextContrast, else black (which then always does).
	OnPrimaryColor string
	// AccentColor is PrimaryColor darkened, if needed, until it reaches
	// MinTextContrast on a white page: links and focus rings use it.
	AccentColor string
	// CustomCSS is the tenant's stylesheet, checked at save (CheckCustomCSS).
	CustomCSS string
}

// Logo is an uploaded raster image.
type Logo struct {
	// ContentType is image/png, image/jpeg or image/webp.
	ContentType string
	// Data is the image as uploaded.
	Data []byte
	// Hash is a hex SHA-256 prefix of Data, for content-addressed URLs.
	Hash string
}

// FileName is the logo's content-addressed file name, e.g.
// "logo-0123abcd4567.png": a new logo gets a new URL, so the old one may be
// cached forever.
func (l *Logo) FileName() string {
	return "logo-" + l.Hash + logoExt[l.ContentType]
}

// DataURI is the logo as the data: URI the setting stores.
func (l *Logo) DataURI() string {
	return "data:" + l.ContentType + ";base64," + base64.StdEncoding.EncodeToString(l.Data)
}

var logoExt = map[string]string{"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}

// brandingKeys are the accepted keys of HALLPASS_BRANDING.
var brandingKeys = []string{"custom_css", "logo", "primary_color", "product_name"}

var brandingSpecs = []settingSpec{{
	key:  "HALLPASS_BRANDING",
	dflt: `{}`,
	decode: func(p *parser, v any) error {
		b, err := decodeBranding(v)
		if err == nil {
			p.s.Branding = b
		}
		return err
	},
	encode: func(s *Settings) any { return s.Branding.encode() },
}}

func decodeBranding(v any) (Branding, error) {
	m, err := asObject(v)
	if err != nil {
		return Branding{}, err
	}
	var b Branding
	var errs []error
	for _, k := range sortedKeys(m) {
		var err error
		switch k {
		case "product_name":
			b.ProductName, err = checkProductName(m[k])
		case "logo":
			b.Logo, err = decodeLogo(m[k])
		case "primary_color":
			var s string
			if s, err = asString(m[k]); err == nil && s != "" {
				b.PrimaryColor, b.OnPrimaryColor, b.AccentColor, err = BrandColors(s)
			}
		case "custom_css":
			var s string
			if s, err = asString(m[k]); err == nil {
				err = CheckCustomCSS(s)
				b.CustomCSS = s
			}
		default:
			err = fmt.Errorf("unknown key (known: %s)", quoteList(brandingKeys))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", k, err))
		}
	}
	if len(errs) > 0 {
		return Branding{}, errors.Join(errs...)
	}
	return b, nil
}

func (b Branding) encode() any {
	out := map[string]any{}
	if b.ProductName != "" {
		out["product_name"] = b.ProductName
	}
	if b.Logo != nil {
		out["logo"] = b.Logo.DataURI()
	}
	if b.PrimaryColor != "" {
		out["primary_color"] = b.PrimaryColor
	}
	if b.CustomCSS != "" {
		out["custom_css"] = b.CustomCSS
	}
	return out
}

func checkProductName(v any) (string, error) {
	s, err := asString(v)
	if err != nil {
		return "", err
	}
	s = strings.TrimSpace(s)
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", errors.New("must not contain control characters or line breaks")
	}
	if n := len([]rune(s)); n > MaxProductNameLength {
		return "", fmt.Errorf("must be at most %d characters (is %d)", MaxProductNameLength, n)
	}
	return s, nil
}

// decodeLogo accepts a base64 data: URI of a PNG, JPEG or WebP image whose
// bytes are what the URI says they are. SVG is refused: it can carry script
// and fetch other resources.
func decodeLogo(v any) (*Logo, error) {
	s, err := asNullableString(v)
	if err != nil || s == "" {
		return nil, err
	}
	const prefix = "data:"
	if !strings.HasPrefix(s, prefix) {
		return nil, errors.New(`must be a data: URI ("data:image/png;base64,...")`)
	}
	meta, payload, ok := strings.Cut(s[len(prefix):], ",")
	ct, enc, _ := strings.Cut(meta, ";")
	ct = strings.ToLower(ct)
	if !ok || enc != "base64" {
		return nil, errors.New(`must be a base64 data: URI ("data:image/png;base64,...")`)
	}
	if strings.Contains(ct, "svg") {
		return nil, errors.New("SVG is not accepted (it can run script); use PNG, JPEG or WebP")
	}
	if _, known := logoExt[ct]; !known {
		return nil, fmt.Errorf("must be image/png, image/jpeg or image/webp, not %q", ct)
	}
	if base64.StdEncoding.DecodedLen(len(payload)) > MaxLogoBytes+3 {
		return nil, fmt.Errorf("must be at most %d KiB", MaxLogoBytes>>10)
	}
	data, err := base64.StdEncoding.DecodeString(payload)
	if err != nil {
		return nil, errors.New("is not valid base64")
	}
	if len(data) > MaxLogoBytes {
		return nil, fmt.Errorf("must be at most %d KiB (is %d bytes)", MaxLogoBytes>>10, len(data))
	}
	if got := sniffImage(data); got != ct {
		return nil, fmt.Errorf("is not a valid %s image", ct)
	}
	if ct != "image/webp" {
		cfg, _, err := image.DecodeConfig(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("is not a valid %s image", ct)
		}
		if cfg.Width > MaxLogoSide || cfg.Height > MaxLogoSide {
			return nil, fmt.Errorf("must be at most %dx%d pixels (is %dx%d)", MaxLogoSide, MaxLogoSide, cfg.Width, cfg.Height)
		}
	}
	sum := sha256.Sum256(data)
	return &Logo{ContentType: ct, Data: data, Hash: hex.EncodeToString(sum[:8])}, nil
}

// sniffImage names the image type of data by its signature ("" if none of
// the accepted ones).
func sniffImage(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case bytes.HasPrefix(data, []byte{0xff, 0xd8, 0xff}):
		return "image/jpeg"
	case len(data) >= 16 && string(data[:4]) == "RIFF" && string(data[8:12]) == "WEBP" &&
		strings.HasPrefix(string(data[12:16]), "VP8"):
		return "image/webp"
	}
	return ""
}

// BrandColors validates a "#rgb" or "#rrggbb" colour and derives the text
// colour on it and the accent colour for text on a white page, both at
// least MinTextContrast: primary is the colour normalised to "#rrggbb".
func BrandColors(hex string) (primary, onPrimary, accent string, err error) {
	r, g, b, err := parseHexColor(hex)
	if err != nil {
		return "", "", "", err
	}
	primary = formatHex(r, g, b)
	l := RelativeLuminance(r, g, b)
	// White text where it passes (the usual look of a brand button), else
	// black. One of them always reaches 4.58:1 or more: the two ratios are
	// equal at L = sqrt(1.05*0.05) - 0.05, where both are about 4.58.
	onPrimary = "#ffffff"
	if ContrastRatio(l, 1) < MinTextContrast {
		onPrimary = "#000000"
	}
	// Too light for text on white: darken in small steps (scaling every
	// channel keeps the hue) until it passes; black always does.
	for ContrastRatio(RelativeLuminance(r, g, b), 1) < MinTextContrast {
		r, g, b = darken(r), darken(g), darken(b)
	}
	return primary, onPrimary, formatHex(r, g, b), nil
}

func darken(c uint8) uint8 {
	return uint8(math.Floor(float64(c) * 0.97))
}

func parseHexColor(s string) (r, g, b uint8, err error) {
	bad := fmt.Errorf("must be a hex colour such as \"#1a73e8\", not %q", s)
	if !strings.HasPrefix(s, "#") {
		return 0, 0, 0, bad
	}
	h := s[1:]
	if len(h) == 3 {
		h = string([]byte{h[0], h[0], h[1], h[1], h[2], h[2]})
	}
	if len(h) != 6 {
		return 0, 0, 0, bad
	}
	n, perr := strconv.ParseUint(h, 16, 32)
	if perr != nil {
		return 0, 0, 0, bad
	}
	return uint8(n >> 16), uint8(n >> 8), uint8(n), nil
}

func formatHex(r, g, b uint8) string {
	return fmt.Sprintf("#%02x%02x%02x", r, g, b)
}

// RelativeLuminance is WCAG 2.x's relative luminance of an sRGB colour,
// from 0 (black) to 1 (white).
func RelativeLuminance(r, g, b uint8) float64 {
	lin := func(c uint8) float64 {
		v := float64(c) / 255
		if v <= 0.04045 {
			return v / 12.92
		}
		return math.Pow((v+0.055)/1.055, 2.4)
	}
	return 0.2126*lin(r) + 0.7152*lin(g) + 0.0722*lin(b)
}

// ContrastRatio is WCAG 2.x's contrast ratio of two relative luminances,
// from 1 to 21.
func ContrastRatio(l1, l2 float64) float64 {
	if l1 < l2 {
		l1, l2 = l2, l1
	}
	return (l1 + 0.05) / (l2 + 0.05)
}

// allowedAtRules are the at-rules a custom stylesheet may use: none of them
// loads anything (@import, @font-face and @namespace do, or can).
var allowedAtRules = map[string]bool{
	"media": true, "supports": true, "keyframes": true, "layer": true, "container": true,
}

// allowedFunctions are the CSS functions a custom stylesheet may call:
// colours, maths, gradients, transforms and timing — nothing that loads a
// resource (url, image-set, src), runs script (expression) or reads
// attributes (attr).
var allowedFunctions = map[string]bool{}

func init() {
	for _, f := range strings.Fields(`rgb rgba hsl hsla hwb lab lch oklab oklch color color-mix light-dark
		calc min max clamp round mod rem abs sign var env
		linear-gradient radial-gradient conic-gradient repeating-linear-gradient repeating-radial-gradient repeating-conic-gradient
		translate translatex translatey translate3d translatez rotate rotatex rotatey rotatez rotate3d
		scale scalex scaley scale3d scalez skew skewx skewy matrix matrix3d perspective
		cubic-bezier steps minmax repeat fit-content
		blur brightness contrast drop-shadow grayscale hue-rotate invert opacity saturate sepia
		not is where has nth-child nth-last-child nth-of-type nth-last-of-type lang dir`) {
		allowedFunctions[f] = true
	}
}

// refusedProperties run code or load resources in some browsers.
var refusedProperties = map[string]bool{"behavior": true, "behaviour": true, "-moz-binding": true}

// CheckCustomCSS accepts a stylesheet that can only restyle the page: it
// is tokenised with a CSS lexer and refused if it loads anything (@import,
// url(), image-set()), could run script (expression(), behavior,
// -moz-binding), could leave a <style> element, uses an at-rule or function
// outside the allowlists, or hides a name behind escapes.
func CheckCustomCSS(src string) error {
	if len(src) > MaxCustomCSSBytes {
		return fmt.Errorf("must be at most %d KiB (is %d bytes)", MaxCustomCSSBytes>>10, len(src))
	}
	if strings.Contains(strings.ToLower(src), "</style") {
		return errors.New("must not contain \"</style\"")
	}
	if strings.ContainsRune(src, 0) {
		return errors.New("must not contain NUL characters")
	}
	l := css.NewLexer(parse.NewInputString(src))
	depth := 0
	for {
		tt, data := l.Next()
		text := string(data)
		lower := strings.ToLower(text)
		switch tt {
		case css.ErrorToken:
			if depth != 0 {
				return errors.New("has an unclosed block")
			}
			return nil
		case css.URLToken, css.BadURLToken:
			return errors.New("must not load resources (url() is not allowed)")
		case css.BadStringToken:
			return errors.New("has an unterminated string")
		case css.CDOToken, css.CDCToken:
			return errors.New("must not contain HTML comment markers")
		case css.AtKeywordToken:
			if strings.Contains(text, `\`) {
				return fmt.Errorf("must not escape characters in at-rule %s", text)
			}
			if !allowedAtRules[strings.TrimPrefix(lower, "@")] {
				return fmt.Errorf("at-rule %s is not allowed (allowed: @container, @keyframes, @layer, @media, @supports)", text)
			}
		case css.FunctionToken:
			name := strings.TrimSuffix(lower, "(")
			if strings.Contains(name, `\`) {
				return fmt.Errorf("must not escape characters in function %s", text)
			}
			switch name {
			case "url", "expression", "image-set", "-webkit-image-set", "src", "image", "element", "-moz-element", "attr":
				return fmt.Errorf("function %s) is not allowed (it loads resources or runs code)", name)
			}
			if !allowedFunctions[name] {
				return fmt.Errorf("function %s) is not allowed", name)
			}
		case css.IdentToken, css.HashToken, css.CustomPropertyNameToken, css.DimensionToken:
			if strings.Contains(text, `\`) {
				return fmt.Errorf("must not escape characters in %q", text)
			}
			if refusedProperties[lower] {
				return fmt.Errorf("property %s is not allowed (it runs code)", text)
			}
			if lower == "expression" {
				return errors.New("expression is not allowed (it runs code)")
			}
		case css.DelimToken:
			if text == `\` {
				return errors.New("must not contain a stray backslash")
			}
			if text == "<" {
				return errors.New("must not contain \"<\" outside strings")
			}
		case css.LeftBraceToken:
			depth++
		case css.RightBraceToken:
			depth--
			if depth < 0 {
				return errors.New("has an unmatched \"}\"")
			}
		}
	}
}

// Stylesheet is the tenant's page stylesheet: the brand colours as the
// hosted pages' custom properties (--acc-primary, --acc-on-primary), links
// and focus rings in AccentColor when the primary colour is too light for
// text on white, then the custom CSS. "" when neither is set.
func (b Branding) Stylesheet() string {
	var sb strings.Builder
	if b.PrimaryColor != "" {
		sb.WriteString(":root{--acc-primary:" + b.PrimaryColor + ";--acc-on-primary:" + b.OnPrimaryColor + "}\n")
		if b.AccentColor != b.PrimaryColor {
			sb.WriteString(".acc a,.acc .acc-link-button{color:" + b.AccentColor + "}.acc :focus-visible{outline-color:" + b.AccentColor + "}\n")
		}
	}
	sb.WriteString(b.CustomCSS)
	return sb.String()
}

// StylesheetName is Stylesheet's content-addressed file name, e.g.
// "brand-0123abcd4567.css" ("" when there is no stylesheet).
func (b Branding) StylesheetName() string {
	css := b.Stylesheet()
	if css == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(css))
	return "brand-" + hex.EncodeToString(sum[:8]) + ".css"
}
