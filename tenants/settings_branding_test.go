package tenants_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/tenants"
)

// pngLogo is a w×h PNG as a data: URI.
func pngLogo(t *testing.T, w, h int) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	img.Set(0, 0, color.RGBA{R: 200, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}

func jpegLogo(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 8, 8)), nil); err != nil {
		t.Fatal(err)
	}
	return "data:image/jpeg;base64," + base64.StdEncoding.EncodeToString(buf.Bytes())
}

func TestBrandingAccepted(t *testing.T) {
	logo := pngLogo(t, 32, 16)
	s := mustParse(t, doc{"HALLPASS_BRANDING": map[string]any{
		"product_name":  "  Acme <Pay>  ",
		"logo":          logo,
		"primary_color": "#FFD700",
		"custom_css": `.acc-card { border-radius: 0; box-shadow: 0 1px 2px rgb(0 0 0 / .2) }
@media (max-width: 480px) { .acc-card { padding: calc(1rem + 2px) } }
:root { --acc-radius: 4px } a:not(.btn):hover { color: var(--acc-primary) }
@keyframes fade { from { opacity: 0 } to { opacity: 1 } }
.x::before { content: "</div>" }`,
	}})
	b := s.Branding
	if b.ProductName != "Acme <Pay>" {
		t.Errorf("product name %q", b.ProductName)
	}
	if b.Logo == nil || b.Logo.ContentType != "image/png" || len(b.Logo.Hash) != 16 ||
		b.Logo.FileName() != "logo-"+b.Logo.Hash+".png" || b.Logo.DataURI() != logo {
		t.Fatalf("logo %+v", b.Logo)
	}
	if b.PrimaryColor != "#ffd700" || b.OnPrimaryColor != "#000000" {
		t.Errorf("colours %q on %q", b.OnPrimaryColor, b.PrimaryColor)
	}
	// Gold is far too light for text on white: the accent is darkened.
	if b.AccentColor == b.PrimaryColor || contrastOnWhite(t, b.AccentColor) < tenants.MinTextContrast {
		t.Errorf("accent %q", b.AccentColor)
	}
	// The document round-trips, logo included.
	raw, err := json.Marshal(s.Document())
	if err != nil {
		t.Fatal(err)
	}
	again, err := tenants.ParseSettings(raw)
	if err != nil {
		t.Fatal(err)
	}
	if again.Branding.Logo.Hash != b.Logo.Hash || again.Branding.CustomCSS != b.CustomCSS || again.Branding.ProductName != b.ProductName {
		t.Errorf("round trip changed the branding: %+v", again.Branding)
	}
	if d := mustParse(t, doc{}).Document()["HALLPASS_BRANDING"]; len(d.(map[string]any)) != 0 {
		t.Errorf("default branding %v", d)
	}
	if j := mustParse(t, doc{"HALLPASS_BRANDING": map[string]any{"logo": jpegLogo(t)}}).Branding.Logo; j == nil || !strings.HasSuffix(j.FileName(), ".jpg") {
		t.Errorf("jpeg logo %+v", j)
	}
}

func contrastOnWhite(t *testing.T, hex string) float64 {
	t.Helper()
	var r, g, b uint8
	if _, err := fmt.Sscanf(hex, "#%02x%02x%02x", &r, &g, &b); err != nil {
		t.Fatal(err)
	}
	return tenants.ContrastRatio(tenants.RelativeLuminance(r, g, b), 1)
}

func TestContrastMath(t *testing.T) {
	// WCAG's own reference points.
	if got := tenants.ContrastRatio(tenants.RelativeLuminance(0, 0, 0), tenants.RelativeLuminance(255, 255, 255)); got != 21 {
		t.Errorf("black on white = %v, want 21", got)
	}
	if got := tenants.ContrastRatio(0.5, 0.5); got != 1 {
		t.Errorf("same colour = %v, want 1", got)
	}
	for _, c := range []struct {
		hex  string
		want float64 // contrast on white, as WebAIM's checker gives it
	}{
		{"#767676", 4.54}, {"#777777", 4.48}, {"#0000ff", 8.59}, {"#ff0000", 4.0}, {"#1a73e8", 4.50},
	} {
		if got := contrastOnWhite(t, c.hex); math.Abs(got-c.want) > 0.01 {
			t.Errorf("%s on white = %.3f, want %.2f", c.hex, got, c.want)
		}
	}
	for _, c := range []struct {
		in, primary, on, accent string
	}{
		{"#000", "#000000", "#ffffff", "#000000"},
		{"#FFFFFF", "#ffffff", "#000000", ""},
		{"#767676", "#767676", "#ffffff", "#767676"}, // 4.54 on white: kept
		{"#777777", "#777777", "#000000", ""},        // 4.48: darkened
		{"#1a73e8", "#1a73e8", "#ffffff", "#1a73e8"},
		{"#ffd700", "#ffd700", "#000000", ""},
	} {
		p, on, acc, err := tenants.BrandColors(c.in)
		if err != nil {
			t.Fatalf("%s: %v", c.in, err)
		}
		if p != c.primary || on != c.on || (c.accent != "" && acc != c.accent) {
			t.Errorf("%s: got %s %s %s", c.in, p, on, acc)
		}
		if ratio := contrastOnWhite(t, on); ratio < 1 {
			t.Fatal(ratio)
		}
		if got := pairContrast(t, p, on); got < tenants.MinTextContrast {
			t.Errorf("%s: text %s on it is %.2f:1", c.in, on, got)
		}
		if got := contrastOnWhite(t, acc); got < tenants.MinTextContrast {
			t.Errorf("%s: accent %s is %.2f:1 on white", c.in, acc, got)
		}
	}
	// Every grey and a sweep of hues: one of black or white always passes AA,
	// and the accent always does on white.
	for v := 0; v < 256; v += 3 {
		for _, hex := range []string{hexOf(v, v, v), hexOf(v, 255-v, 128), hexOf(255, v, 0), hexOf(0, v, 255)} {
			p, on, acc, err := tenants.BrandColors(hex)
			if err != nil {
				t.Fatal(err)
			}
			if pairContrast(t, p, on) < tenants.MinTextContrast || contrastOnWhite(t, acc) < tenants.MinTextContrast {
				t.Fatalf("%s: on %s, accent %s", hex, on, acc)
			}
		}
	}
}

func hexOf(r, g, b int) string {
	const digits = "0123456789abcdef"
	out := []byte{'#'}
	for _, c := range []int{r, g, b} {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func pairContrast(t *testing.T, a, b string) float64 {
	t.Helper()
	var r1, g1, b1, r2, g2, b2 uint8
	if _, err := fmt.Sscanf(a, "#%02x%02x%02x", &r1, &g1, &b1); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscanf(b, "#%02x%02x%02x", &r2, &g2, &b2); err != nil {
		t.Fatal(err)
	}
	return tenants.ContrastRatio(tenants.RelativeLuminance(r1, g1, b1), tenants.RelativeLuminance(r2, g2, b2))
}

func TestBrandingRefused(t *testing.T) {
	svg := "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString([]byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`))
	pngBytes, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(pngLogo(t, 4, 4), "data:image/png;base64,"))
	big := "data:image/png;base64," + base64.StdEncoding.EncodeToString(append(pngBytes, make([]byte, tenants.MaxLogoBytes)...))
	cases := []struct {
		name  string
		value any
		want  string
	}{
		{"not an object", "acme", "object"},
		{"unknown key", map[string]any{"colour": "#fff"}, `unknown key`},
		{"name with newline", map[string]any{"product_name": "Acme\nPay"}, "product_name: must not contain control characters"},
		{"long name", map[string]any{"product_name": strings.Repeat("a", 81)}, "product_name: must be at most 80"},
		{"bad colour", map[string]any{"primary_color": "blue"}, `primary_color: must be a hex colour`},
		{"short hex", map[string]any{"primary_color": "#12"}, `primary_color: must be a hex colour`},
		{"colour not hex", map[string]any{"primary_color": "#12345g"}, `primary_color: must be a hex colour`},
		{"svg logo", map[string]any{"logo": svg}, "logo: SVG is not accepted"},
		{"logo url", map[string]any{"logo": "https://cdn.example.com/logo.png"}, "logo: must be a data: URI"},
		{"logo not base64", map[string]any{"logo": "data:image/png,abc"}, "logo: must be a base64 data: URI"},
		{"logo gif", map[string]any{"logo": "data:image/gif;base64,R0lGODlhAQABAAAAACw="}, `logo: must be image/png, image/jpeg or image/webp, not "image/gif"`},
		{"logo lies about its type", map[string]any{"logo": strings.Replace(jpegLogo(t), "image/jpeg", "image/png", 1)}, "logo: is not a valid image/png image"},
		{"logo too big", map[string]any{"logo": big}, "logo: must be at most 64 KiB"},
		{"logo too wide", map[string]any{"logo": pngLogo(t, 2049, 1)}, "logo: must be at most 2048x2048 pixels"},
		{"logo garbage base64", map[string]any{"logo": "data:image/png;base64,%%%"}, "logo: is not valid base64"},
	}
	css := []struct{ css, want string }{
		{`@import "https://evil.example/x.css";`, "at-rule @import is not allowed"},
		{`@IMPORT url(x.css);`, "at-rule @IMPORT is not allowed"},
		{`@font-face { font-family: x; src: local(Arial) }`, "at-rule @font-face is not allowed"},
		{`@namespace svg "http://www.w3.org/2000/svg";`, "at-rule @namespace is not allowed"},
		{`body { background: url(https://evil.example/track.png) }`, "url() is not allowed"},
		{`body { background: url("https://evil.example/t.png") }`, "url() is not allowed"},
		{`body { background: URL( 'x.png' ) }`, "url() is not allowed"},
		{`body { background: image-set("x.png" 1x) }`, "function image-set) is not allowed"},
		{`body { width: expression(alert(1)) }`, "function expression) is not allowed"},
		{`body { behavior: url(x.htc) }`, "property behavior is not allowed"},
		{`body { behavior: none }`, "property behavior is not allowed"},
		{`body { -moz-binding: none }`, "property -moz-binding is not allowed"},
		{`body { color: red } </style><script>alert(1)</script>`, `must not contain "</style"`},
		{`body { color: red } </STYLE >`, `must not contain "</style"`},
		{`body { b\65havior: none }`, "must not escape"},
		{`body { background: u\72l(x.png) }`, "must not escape"},
		{`@\69mport "x.css";`, "must not escape"},
		{`body { content: attr(title) }`, "function attr) is not allowed"},
		{`body { foo: evil(1) }`, "function evil) is not allowed"},
		{`<!-- body { color: red } -->`, "HTML comment markers"},
		{`body { color: red `, "unclosed block"},
		{`body { color: red } }`, `unmatched "}"`},
		{`body::after { content: "unterminated`, ""},
		{`body { --x: url(x.png) }`, "url() is not allowed"},
		{strings.Repeat("a{}", 6000), "must be at most 16 KiB"},
	}
	for _, c := range css {
		cases = append(cases, struct {
			name  string
			value any
			want  string
		}{"css " + c.css[:min(len(c.css), 40)], map[string]any{"custom_css": c.css}, c.want})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := tenants.ParseSettings(doc{"HALLPASS_BRANDING": c.value}.json(t))
			if err == nil {
				t.Fatal("accepted")
			}
			es := settingsErrors(t, err)
			if len(es) != 1 || es[0].Key != "HALLPASS_BRANDING" || !strings.Contains(es[0].Error(), c.want) {
				t.Fatalf("got %v, want HALLPASS_BRANDING: ...%s...", err, c.want)
			}
		})
	}
}
