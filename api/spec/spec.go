// Package spec serves each tenant's OpenAPI document (HEADLESS_SERVE_SPECIFICATION):
// allauth's specification, corrected where allauth's code and spec disagree,
// then rewritten for the tenant as allauth does — only the routes it serves,
// {client} pinned when one client is enabled, signup narrowed to its
// ACCOUNT_SIGNUP_FIELDS, servers set to its base URL — as YAML, JSON, or an
// HTML viewer (Redoc or Swagger UI) from embedded assets.
package spec

import (
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gofiber/fiber/v2"
	"go.yaml.in/yaml/v4"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/api/spec/openapi"
	"github.com/hallpass/hallpass/tenants"
)

//go:embed assets
var assets embed.FS

// Handlers serve the specification of a tenant.
type Handlers struct {
	// Catalog is the routes the server serves: the document describes
	// those that exist for the tenant, and nothing else.
	Catalog api.Catalog

	mu    sync.Mutex
	cache map[string]*rendered
}

type rendered struct {
	json, yaml []byte
}

// RegisterOutside adds the specification routes to a tenant's app.
func (h *Handlers) RegisterOutside(r fiber.Router) {
	r.Get("/_allauth/openapi.json", h.JSON)
	r.Get("/_allauth/openapi.yaml", h.YAML)
	r.Get("/_allauth/openapi.html", h.HTML)
	r.Get("/_allauth/openapi-assets/:name", h.Asset)
}

func served(c *fiber.Ctx) error {
	t := api.Tenant(c)
	if t == nil || !t.Settings.ServeSpecification {
		return api.ErrRouteAbsent
	}
	return nil
}

// JSON handles GET /_allauth/openapi.json.
func (h *Handlers) JSON(c *fiber.Ctx) error {
	if err := served(c); err != nil {
		return err
	}
	r, err := h.document(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSONCharsetUTF8)
	return c.Send(r.json)
}

// YAML handles GET /_allauth/openapi.yaml.
func (h *Handlers) YAML(c *fiber.Ctx) error {
	if err := served(c); err != nil {
		return err
	}
	r, err := h.document(c)
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, "application/yaml; charset=utf-8")
	return c.Send(r.yaml)
}

var viewers = template.Must(template.New("").Parse(`{{define "redoc"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><redoc spec-url="{{.SpecURL}}"></redoc>
<script src="{{.Assets}}/redoc.standalone.js"></script></body></html>{{end}}
{{define "swagger"}}<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{{.Assets}}/swagger-ui.css"></head>
<body><div id="swagger-ui" data-spec-url="{{.SpecURL}}"></div>
<script src="{{.Assets}}/swagger-ui-bundle.js"></script>
<script src="{{.Assets}}/swagger-init.js"></script></body></html>{{end}}`))

// HTML handles GET /_allauth/openapi.html: the viewer named by
// HEADLESS_SPECIFICATION_TEMPLATE_NAME (Redoc by default, or Swagger UI),
// served from embedded assets.
func (h *Handlers) HTML(c *fiber.Ctx) error {
	if err := served(c); err != nil {
		return err
	}
	t := api.Tenant(c)
	viewer := "redoc"
	if strings.Contains(t.Settings.SpecificationTemplateName, "swagger") {
		viewer = "swagger"
	}
	base := strings.TrimSuffix(api.TenantBaseURL(c), "/")
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' blob:; worker-src 'self' blob:; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:")
	return viewers.ExecuteTemplate(c, viewer, map[string]string{
		"Title":   t.Name + " API",
		"SpecURL": base + "/_allauth/openapi.json",
		"Assets":  base + "/_allauth/openapi-assets",
	})
}

// swaggerInit starts Swagger UI without inline script (the page's CSP forbids it).
const swaggerInit = `window.onload = function () {
  var el = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({url: el.dataset.specUrl, dom_id: "#swagger-ui"});
};`

// Asset serves the viewers' embedded scripts and styles.
func (h *Handlers) Asset(c *fiber.Ctx) error {
	if err := served(c); err != nil {
		return err
	}
	name := c.Params("name")
	var body []byte
	switch name {
	case "redoc.standalone.js", "swagger-ui-bundle.js":
		b, err := assets.ReadFile("assets/" + name)
		if err != nil {
			return api.ErrRouteAbsent
		}
		body = b
		c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	case "swagger-ui.css":
		b, err := assets.ReadFile("assets/" + name)
		if err != nil {
			return api.ErrRouteAbsent
		}
		body = b
		c.Set(fiber.HeaderContentType, "text/css; charset=utf-8")
	case "swagger-init.js":
		body = []byte(swaggerInit)
		c.Set(fiber.HeaderContentType, "text/javascript; charset=utf-8")
	default:
		return api.ErrRouteAbsent
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=86400")
	return c.Send(body)
}

// document renders (or reuses) the tenant's specification.
func (h *Handlers) document(c *fiber.Ctx) (*rendered, error) {
	t := api.Tenant(c)
	base := strings.TrimSuffix(api.TenantBaseURL(c), "/")
	key := fmt.Sprintf("%s:%d:%s", t.ID, t.SettingsVersion, base)
	h.mu.Lock()
	if r, ok := h.cache[key]; ok {
		h.mu.Unlock()
		return r, nil
	}
	h.mu.Unlock()
	doc, err := ForTenant(t.Settings, t.Name, base, h.Catalog)
	if err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	var node yaml.Node
	if err := yaml.Unmarshal(js, &node); err != nil { // JSON is YAML: keeps key order
		return nil, err
	}
	clearStyle(&node)
	ym, err := yaml.Marshal(&node)
	if err != nil {
		return nil, err
	}
	r := &rendered{json: js, yaml: ym}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.cache == nil || len(h.cache) > 1000 {
		h.cache = map[string]*rendered{}
	}
	h.cache[key] = r
	return r, nil
}

// clearStyle turns the flow style that JSON input leaves into YAML's block style.
func clearStyle(n *yaml.Node) {
	n.Style &^= yaml.FlowStyle
	for _, c := range n.Content {
		clearStyle(c)
	}
}

// ForTenant builds a tenant's specification: the conformant allauth
// document with Hallpass's extensions (openapi.AddExtensions), reduced to
// the routes of catalog that exist for the tenant's settings and clients,
// with {client} pinned when only one client is enabled, signup narrowed to
// ACCOUNT_SIGNUP_FIELDS and widened by the declared signup fields, the
// profile and user objects described as the tenant's settings shape them
// (addUserData), and servers set to base.
func ForTenant(s *tenants.Settings, name, base string, catalog api.Catalog) (*openapi3.T, error) {
	doc, err := openapi.LoadConformant()
	if err != nil {
		return nil, err
	}
	if err := openapi.AddExtensions(doc); err != nil {
		return nil, err
	}
	const prefix = "/_allauth/{client}/v1"
	paths := openapi3.NewPaths()
	usedTags := map[string]bool{}
	for _, p := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(p)
		var clients []string
		rel := ""
		switch {
		case strings.HasPrefix(p, prefix):
			clients, rel = s.Clients, strings.TrimPrefix(p, prefix)
		case strings.HasPrefix(p, "/_allauth/app/v1"):
			clients, rel = []string{api.ClientApp}, strings.TrimPrefix(p, "/_allauth/app/v1")
		case strings.HasPrefix(p, "/_allauth/browser/v1"):
			clients, rel = []string{api.ClientBrowser}, strings.TrimPrefix(p, "/_allauth/browser/v1")
		default:
			continue
		}
		kept := 0
		for method, op := range item.Operations() {
			routedFor := slices.ContainsFunc(clients, func(cl string) bool {
				r, ok := catalog.Lookup(method, rel)
				return ok && slices.Contains(s.Clients, cl) && r.Routed(s, cl)
			})
			if !routedFor {
				item.SetOperation(method, nil)
				continue
			}
			kept++
			for _, tag := range op.Tags {
				usedTags[tag] = true
			}
		}
		if kept == 0 {
			continue
		}
		key := p
		if strings.HasPrefix(p, prefix) && len(s.Clients) == 1 {
			key = strings.Replace(p, "{client}", s.Clients[0], 1)
			item.Parameters = dropClientParam(item.Parameters)
			for _, op := range item.Operations() {
				op.Parameters = dropClientParam(op.Parameters)
			}
		}
		paths.Set(key, item)
	}
	doc.Paths = paths
	doc.Tags = slices.DeleteFunc(doc.Tags, func(t *openapi3.Tag) bool { return !usedTags[t.Name] })
	if err := narrowSignup(doc, s); err != nil {
		return nil, err
	}
	if err := addUserData(doc, s); err != nil {
		return nil, err
	}
	doc.Servers = openapi3.Servers{{URL: base, Description: name}}
	doc.Info.Title = name + " — authentication API"
	doc.Info.Description = "The django-allauth headless API of " + name + ", served by Hallpass. " +
		"This document lists exactly the endpoints this tenant's settings enable."
	return doc, nil
}

func dropClientParam(ps openapi3.Parameters) openapi3.Parameters {
	return slices.DeleteFunc(ps, func(p *openapi3.ParameterRef) bool {
		return p.Ref == "#/components/parameters/Client" || (p.Value != nil && p.Value.In == "path" && p.Value.Name == "client")
	})
}

// narrowSignup keeps BaseSignup's fields to those in ACCOUNT_SIGNUP_FIELDS,
// required as starred there, and Signup's password only with password1.
func narrowSignup(doc *openapi3.T, s *tenants.Settings) error {
	base := doc.Components.Schemas["BaseSignup"]
	signup := doc.Components.Schemas["Signup"]
	if base == nil || base.Value == nil || signup == nil || signup.Value == nil || len(signup.Value.AllOf) != 2 {
		return fmt.Errorf("spec: unexpected BaseSignup/Signup shape")
	}
	// Copies: the schemas may be shared by reference with other parts.
	b := *base.Value
	b.Properties = openapi3.Schemas{}
	b.Required = nil
	for _, f := range s.SignupFields {
		if prop, ok := base.Value.Properties[f.Name]; ok {
			b.Properties[f.Name] = prop
			if f.Required {
				b.Required = append(b.Required, f.Name)
			}
		}
	}
	doc.Components.Schemas["BaseSignup"] = openapi3.NewSchemaRef("", &b)
	pw, ok := s.SignupField("password1")
	extra := *signup.Value.AllOf[1].Value
	switch {
	case !ok:
		extra.Properties, extra.Required = openapi3.Schemas{}, nil
	case !pw.Required:
		extra.Required = nil
	}
	sg := *signup.Value
	sg.AllOf = openapi3.SchemaRefs{openapi3.NewSchemaRef("#/components/schemas/BaseSignup", &b), openapi3.NewSchemaRef("", &extra)}
	doc.Components.Schemas["Signup"] = openapi3.NewSchemaRef("", &sg)
	return nil
}
