package console_test

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/console"
)

// postMultipart sends the branding form as a browser does (multipart, with
// an optional logo file).
func (b *browser) postMultipart(path string, fields map[string]string, fileName string, file []byte) *response {
	b.e.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if _, ok := fields["_csrf"]; !ok {
		_ = w.WriteField("_csrf", b.csrf)
	}
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	if fileName != "" {
		fw, err := w.CreateFormFile("logo_file", fileName)
		if err != nil {
			b.e.t.Fatal(err)
		}
		_, _ = fw.Write(file)
	}
	_ = w.Close()
	req := httptest.NewRequest("POST", path, &body)
	req.Host = "console.test"
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set(fiber.HeaderXForwardedFor, b.ip)
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	res, err := b.e.app.Test(req, 20000)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	return &response{t: b.e.t, Code: res.StatusCode, Header: res.Header, Body: string(raw)}
}

func testPNG(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 24, 12))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The branding form saves HALLPASS_BRANDING field by field (logo uploaded
// as a file), refuses unsafe CSS and SVG logos next to their fields while
// keeping the input, previews drafts in a sandboxed document with its own
// CSP, and an empty form removes the override.
func TestBrandingEditor(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("brand")
	admin := e.user("brand-admin", false)
	e.grant(tn, admin, console.RoleAdmin)
	b := e.session(admin)
	base := "/console/t/" + tn.Slug + "/settings/branding"

	page := b.get(base).status(200)
	page.contains(`data-testid="branding-form"`, `enctype="multipart/form-data"`, `name="product_name"`, `name="primary_color"`,
		`name="logo_file"`, `name="custom_css"`, `name="brand-preview"`, `sandbox=""`, `for="b-custom_css"`)
	b.get("/console/t/" + tn.Slug + "/settings/headless").status(200).contains(`href="` + base + `"`) // a tab like the others

	version := func() string { return fmt.Sprint(e.reload(tn.Slug).SettingsVersion) }
	res := b.postMultipart(base, map[string]string{"version": version(), "product_name": "Acme Pay", "primary_color": "#FFD700",
		"custom_css": ".acc-card { border-radius: 0 }"}, "logo.png", testPNG(t)).status(303)
	if res.Location() != base {
		t.Fatalf("went to %q", res.Location())
	}
	got := e.reload(tn.Slug).Settings.Branding
	if got.ProductName != "Acme Pay" || got.PrimaryColor != "#ffd700" || got.OnPrimaryColor != "#000000" ||
		got.Logo == nil || !bytes.Equal(got.Logo.Data, testPNG(t)) || got.CustomCSS != ".acc-card { border-radius: 0 }" {
		t.Fatalf("saved %+v", got)
	}
	b.get(base).status(200).contains(`data-testid="current-logo"`, `value="Acme Pay"`, "Saved as settings version")

	// The saved look, in the preview document.
	pv := b.get(base+"/preview").status(200).contains("Acme Pay", "--acc-primary:#ffd700;--acc-on-primary:#000000", ".acc a,.acc .acc-link-button{color:#",
		".acc-card { border-radius: 0 }", "--acc-border:", `src="data:image/png;base64,`)
	csp := pv.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "style-src 'nonce-") || !strings.Contains(csp, "frame-ancestors 'self'") ||
		pv.Header.Get("X-Frame-Options") != "SAMEORIGIN" {
		t.Fatalf("preview headers: %v", pv.Header)
	}
	nonce := csp[strings.Index(csp, "'nonce-")+7:]
	nonce = nonce[:strings.Index(nonce, "'")]
	pv.contains(`<style nonce="` + nonce + `">`)

	// A draft preview changes nothing; a bad draft shows why.
	before := e.reload(tn.Slug).SettingsVersion
	b.postMultipart(base+"/preview", map[string]string{"product_name": "Draft Co", "primary_color": "#0b6e4f"}, "", nil).status(200).
		contains("Draft Co", "--acc-primary:#0b6e4f").lacks("Acme Pay")
	b.postMultipart(base+"/preview", map[string]string{"custom_css": `@import "https://evil.example/x.css";`}, "", nil).status(200).
		contains(`data-testid="preview-problems"`, "@import").lacks("evil.example/x.css\";</style>")
	if e.reload(tn.Slug).SettingsVersion != before {
		t.Fatal("a preview saved")
	}

	// Refusals: next to their field, input kept (escaped), nothing saved.
	bad := b.postMultipart(base, map[string]string{"version": version(), "product_name": "Acme <b>Pay</b>", "primary_color": "#FFD700",
		"custom_css": "body { background: url(https://evil.example/t.png) }"}, "", nil).status(422)
	bad.contains(`data-testid="error-custom_css"`, "url() is not allowed", `value="Acme &lt;b&gt;Pay&lt;/b&gt;"`,
		"body { background: url(https://evil.example/t.png) }", `name="custom_css" rows="10" spellcheck="false" aria-describedby="b-custom_css-hint b-custom_css-error" aria-invalid="true"`).lacks("<b>Pay</b>")
	svg := []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>`)
	b.postMultipart(base, map[string]string{"version": version(), "product_name": "Acme Pay"}, "logo.svg", svg).status(422).
		contains(`data-testid="error-logo"`, "SVG is not accepted")
	b.postMultipart(base, map[string]string{"version": version(), "primary_color": "blue"}, "", nil).status(422).
		contains(`data-testid="error-primary_color"`, "hex colour")
	if after := e.reload(tn.Slug).Settings.Branding; after.ProductName != "Acme Pay" || after.CustomCSS != got.CustomCSS {
		t.Fatalf("a refused form changed the branding: %+v", after)
	}

	// A stale form is refused; removing the logo keeps the rest.
	b.postMultipart(base, map[string]string{"version": "1", "product_name": "Old"}, "", nil).status(409)
	b.postMultipart(base, map[string]string{"version": version(), "product_name": "Acme Pay", "primary_color": "#ffd700",
		"custom_css": got.CustomCSS, "remove_logo": "1"}, "", nil).status(303)
	if after := e.reload(tn.Slug).Settings.Branding; after.Logo != nil || after.ProductName != "Acme Pay" {
		t.Fatalf("remove logo: %+v", after)
	}
	// The empty form is Hallpass's own look: the override goes.
	b.postMultipart(base, map[string]string{"version": version()}, "", nil).status(303)
	if _, set := e.reload(tn.Slug).Overrides["HALLPASS_BRANDING"]; set {
		t.Fatal("the empty form pinned {}")
	}
	b.postMultipart(base, map[string]string{"version": version()}, "", nil).status(303)
	b.get(base).status(200).contains("Nothing changed")

	// A viewer sees the form and the preview but cannot save.
	viewer := e.user("brand-viewer", false)
	e.grant(tn, viewer, console.RoleViewer)
	vb := e.session(viewer)
	vb.get(base).status(200).contains("view-only").lacks(`data-testid="save-branding"`)
	vb.postMultipart(base, map[string]string{"version": version(), "product_name": "Nope"}, "", nil).status(403)
}
