package mfapages

import (
	"fmt"
	"strings"

	"github.com/boombuler/barcode/qr"
)

// qrQuietZone is the white border around a QR code, in modules (ISO/IEC
// 18004 asks for four).
const qrQuietZone = 4

// QRCodeSVG renders text (an otpauth:// URI) as a QR code in SVG markup,
// encoded server-side by boombuler/barcode (the library pquerna/otp's
// Key.Image uses) at error-correction level M. The SVG is inline markup,
// not a fetched image, so it needs no img-src in the pages' CSP, and its
// one path has no script or style: black modules on a white square,
// scalable to any size. title labels it for assistive technology.
func QRCodeSVG(text, title string) (string, error) {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return "", err
	}
	n := code.Bounds().Dx()
	size := n + 2*qrQuietZone
	var path strings.Builder
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if r, _, _, _ := code.At(x, y).RGBA(); r == 0 {
				fmt.Fprintf(&path, "M%d %dh1v1h-1z", x+qrQuietZone, y+qrQuietZone)
			}
		}
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" role="img" aria-label="%s" shape-rendering="crispEdges" class="qr">`,
		size, size, size*5, size*5, escapeAttr(title))
	fmt.Fprintf(&sb, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="%s"/></svg>`, size, size, path.String())
	return sb.String(), nil
}

// escapeAttr escapes text for a double-quoted attribute.
func escapeAttr(s string) string {
	return strings.NewReplacer(`&`, "&amp;", `"`, "&quot;", `<`, "&lt;", `>`, "&gt;").Replace(s)
}
