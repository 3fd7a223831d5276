package web

import (
	"context"
	"io"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
)

// The vendored htmx and the console scripts are served from the embedded
// tree with a JavaScript type; htmx keeps its license beside it.
func TestVendoredScripts(t *testing.T) {
	app := fiber.New()
	app.Get("/static/*", Handler())
	for _, name := range []string{"htmx.min.js", "console.js", "webauthn-codec.js", "webauthn.js", "userdata.js", "htmx.LICENSE.txt"} {
		res, err := app.Test(httptest.NewRequest("GET", "/static/"+name, nil), 5000)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 || len(body) < 100 {
			t.Fatalf("%s: %d, %d bytes", name, res.StatusCode, len(body))
		}
		if strings.HasSuffix(name, ".js") && !strings.Contains(res.Header.Get("Content-Type"), "javascript") {
			t.Errorf("%s served as %q", name, res.Header.Get("Content-Type"))
		}
	}
}

// Asset URLs carry a content hash, so a changed file is fetched anew.
func TestAssetURL(t *testing.T) {
	u := AssetURL("/console/static/", "hallpass.css")
	if !regexp.MustCompile(`^/console/static/hallpass\.css\?v=[0-9a-f]{12}$`).MatchString(u) {
		t.Fatalf("AssetURL = %q", u)
	}
	if got := AssetURL("/s/", "missing.css"); got != "/s/missing.css" {
		t.Fatalf("missing asset: %q", got)
	}
}

// The layout frames the content with navigation, and uses no inline
// script or style, which the console's Content-Security-Policy forbids.
func TestLayout(t *testing.T) {
	p := Page{Title: "Tenants", Static: "/console/static/", Home: "/console/", User: "ana@example.com", PlatformAdmin: true, CSRF: "tok",
		Nav: []NavItem{{Key: "tenants", Label: "Tenants", Href: "/console/tenants"}}, Active: "tenants",
		Tenant: &TenantNav{Slug: "acme", Name: "Acme", Role: "owner", Active: "settings", Items: []NavItem{{Key: "settings", Label: "Settings", Href: "/console/t/acme/settings"}}},
		Crumbs: []Crumb{{Label: "Tenants", Href: "/console/tenants"}, {Label: "Acme"}}}
	var b strings.Builder
	body := templ.Raw("<p>content</p>")
	if err := Layout(p).Render(templ.WithChildren(context.Background(), body), &b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{"<title>Tenants — Hallpass</title>", `href="/console/tenants" aria-current="page"`, `href="/console/t/acme/settings" aria-current="page"`,
		`name="_csrf" value="tok"`, "<p>content</p>", "htmx.min.js?v=", `hx-boost="true"`, "ana@example.com"} {
		if !strings.Contains(html, want) {
			t.Errorf("layout lacks %q", want)
		}
	}
	if regexp.MustCompile(`<script>|<style|style="|\son[a-z]+="`).MatchString(html) {
		t.Errorf("layout has inline script or style:\n%s", html)
	}
}
