package mfapages

import (
	"image"
	"image/color"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	gzqr "github.com/makiuchi-d/gozxing/qrcode"

	domain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/tenants"
)

var moduleRE = regexp.MustCompile(`M(\d+) (\d+)h1v1h-1z`)

// rasterize draws the SVG's modules at scale pixels each, as a browser
// would show them.
func rasterize(t *testing.T, svg string, scale int) image.Image {
	t.Helper()
	vb := regexp.MustCompile(`viewBox="0 0 (\d+) (\d+)"`).FindStringSubmatch(svg)
	if vb == nil {
		t.Fatalf("no viewBox: %s", svg[:min(len(svg), 200)])
	}
	size, _ := strconv.Atoi(vb[1])
	img := image.NewGray(image.Rect(0, 0, size*scale, size*scale))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	for _, m := range moduleRE.FindAllStringSubmatch(svg, -1) {
		x, _ := strconv.Atoi(m[1])
		y, _ := strconv.Atoi(m[2])
		for dy := 0; dy < scale; dy++ {
			for dx := 0; dx < scale; dx++ {
				img.SetGray(x*scale+dx, y*scale+dy, color.Gray{})
			}
		}
	}
	return img
}

// The TOTP activation QR code is the otpauth URI the headless API gives
// (internal/mfa's TOTPURL), encoded by the library: a QR reader decodes
// the SVG back to exactly that URI, with the tenant's digits and period.
func TestQRCodeSVGDecodes(t *testing.T) {
	for _, doc := range []string{`{}`, `{"MFA_TOTP_DIGITS": 8, "MFA_TOTP_PERIOD": 60, "MFA_TOTP_ISSUER": "Acme & Co"}`} {
		s, err := tenants.ParseSettings([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		uri := domain.TOTPURL(domain.NewTOTPSecret(), "ada+x@example.com", "Acme <Pay>", s)
		svg, err := QRCodeSVG(uri, `Scan with "your" app`)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(svg, `<svg xmlns="http://www.w3.org/2000/svg"`) || !strings.Contains(svg, `aria-label="Scan with &quot;your&quot; app"`) ||
			strings.Contains(svg, "<script") || strings.Contains(svg, "style=") {
			t.Fatalf("svg: %s", svg[:200])
		}
		bmp, err := gozxing.NewBinaryBitmapFromImage(rasterize(t, svg, 4))
		if err != nil {
			t.Fatal(err)
		}
		res, err := gzqr.NewQRCodeReader().Decode(bmp, nil)
		if err != nil {
			t.Fatalf("the QR code does not decode: %v", err)
		}
		if res.GetText() != uri {
			t.Fatalf("decoded %q, want %q", res.GetText(), uri)
		}
	}
}
