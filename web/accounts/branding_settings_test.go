package accounts_test

import (
	"bytes"
	"encoding/base64"
	"image"
	"image/png"
	"regexp"
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/hallpass/hallpass/api/apitest"
)

// A tenant's HALLPASS_BRANDING reaches its pages: the product name, the
// logo served from the tenant's own base under a content-addressed name
// (immutable; any other name 404), and one stylesheet with the primary
// colour, the text colour derived for AA contrast, links darkened where the
// colour is too light, and the custom CSS.
func TestPagesBranding(t *testing.T) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 20, 10))); err != nil {
		t.Fatal(err)
	}
	logo := buf.Bytes()
	env := apitest.New(t, apitest.Settings{"HALLPASS_BRANDING": map[string]any{
		"product_name":  "Acme <Pay>",
		"primary_color": "#FFD700",
		"logo":          "data:image/png;base64," + base64.StdEncoding.EncodeToString(logo),
		"custom_css":    ".acc-card { border-radius: 0 }",
	}})
	b := newBrowser(t, env)
	page := b.get("/accounts/login/").status(200).contains("Sign In — Acme &lt;Pay&gt;", `alt="Acme &lt;Pay&gt;"`)
	src := regexp.MustCompile(`<img class="acc-logo" src="([^"]+)"`).FindStringSubmatch(page.body)
	css := regexp.MustCompile(`<link rel="stylesheet" href="([^"]*brand\.css[^"]*)"`).FindStringSubmatch(page.body)
	if src == nil || css == nil {
		t.Fatalf("no logo or brand stylesheet:\n%s", page.body)
	}
	if !strings.HasPrefix(src[1], "/t/"+env.Tenant.Slug+"/accounts/branding/logo-") || !strings.HasSuffix(src[1], ".png") {
		t.Fatalf("logo src %q is not on the tenant's base", src[1])
	}
	img := b.get(src[1]).status(200)
	if img.body != string(logo) || img.header.Get("Content-Type") != "image/png" ||
		img.header.Get("Cache-Control") != "public, max-age=31536000, immutable" || img.header.Get("Set-Cookie") != "" {
		t.Fatalf("logo answer: %v", img.header)
	}
	b.get(strings.Replace(src[1], "logo-", "logo-0", 1)).status(404)
	b.get("/accounts/branding/logo-0123456789abcdef.png").status(404)

	sheet := b.get(strings.ReplaceAll(css[1], "&amp;", "&")).status(200)
	sheet.contains("--acc-primary:#ffd700;--acc-on-primary:#000000", ".acc a,.acc .acc-link-button{color:#", ".acc-card { border-radius: 0 }")
	if !strings.Contains(sheet.header.Get("Cache-Control"), "immutable") {
		t.Errorf("brand.css cache: %q", sheet.header.Get("Cache-Control"))
	}

	// A tenant without branding: its name, no logo, no brand stylesheet.
	plain := apitest.New(t, nil)
	pb := newBrowser(t, plain)
	pp := pb.get("/accounts/login/").status(200)
	if strings.Contains(pp.body, "acc-logo") || strings.Contains(pp.body, "brand.css") {
		t.Fatalf("unbranded page has branding:\n%s", pp.body)
	}
}

// BenchmarkBrandedLoginPage is BenchmarkLoginPage for a tenant with every
// branding setting (a logo, a colour needing a darker link colour, 4 KiB
// of custom CSS): the brand stylesheet's URL is derived on every render.
func BenchmarkBrandedLoginPage(b *testing.B) {
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 64, 32))); err != nil {
		b.Fatal(err)
	}
	env := apitest.New(b, with(emailLogin, apitest.Settings{"HALLPASS_BRANDING": map[string]any{
		"product_name": "Acme", "primary_color": "#ffd700",
		"logo":       "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()),
		"custom_css": strings.Repeat(".acc-card { border-radius: 0; padding: 1rem 2rem }\n", 80),
	}}))
	handler := env.Server.Platform.Handler()
	path := "/t/" + env.Tenant.Slug + "/accounts/login/"
	cookie := "csrftoken=" + strings.Repeat("a", 32)
	run := func() *fasthttp.RequestCtx {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI(path)
		ctx.Request.Header.SetHost(apitest.PlatformHost)
		ctx.Request.Header.Set("Cookie", cookie)
		handler(&ctx)
		return &ctx
	}
	if ctx := run(); ctx.Response.StatusCode() != 200 || !strings.Contains(string(ctx.Response.Body()), "acc-logo") {
		b.Fatalf("login page: %d\n%s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
}
