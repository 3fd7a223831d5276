package manage

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html/template"
	"slices"
	"sort"
	"strings"
)

// The viewer at /api/v1/docs is HTML rendered on the server from the
// document itself (what it shows is what openapi.json says), with no
// script and one stylesheet whose hash the page's CSP names: nothing is
// loaded from anywhere.

type docView struct {
	Info struct {
		Title, Version, Description string
	}
	Tags []struct {
		Name string
	}
	Scopes []struct {
		Name         string
		PlatformOnly bool `json:"platform_only"`
	} `json:"x-scopes"`
	Paths      map[string]map[string]opView
	Components struct {
		Schemas   map[string]Schema
		Responses map[string]struct{ Description string }
	}
}

type opView struct {
	OperationID string
	Summary     string
	Description string
	Tags        []string
	Scope       string `json:"x-scope"`
	Parameters  []struct {
		Name, In, Description string
		Required              bool
		Schema                Schema
	}
	RequestBody *struct {
		Required bool
		Content  map[string]struct{ Schema Schema }
	}
	Responses map[string]struct {
		Ref         string `json:"$ref"`
		Description string
		Content     map[string]struct{ Schema Schema }
	}

	// Filled in for the page.
	Method, Path string
}

type pageOp struct {
	opView
	Request   template.HTML
	Responses []pageResponse
}

type pageResponse struct {
	Status, Description string
	Body                template.HTML
}

type pageSchema struct {
	Name   string
	Fields []pageField
	Type   template.HTML // for a schema that is not an object
}

type pageField struct {
	Name        string
	Type        template.HTML
	Required    bool
	Description string
}

type pageTag struct {
	Name string
	Ops  []pageOp
}

var methodOrder = []string{"get", "post", "put", "patch", "delete"}

// renderDocs renders the viewer of doc (the JSON OpenAPI returns).
func renderDocs(doc []byte) ([]byte, error) {
	var d docView
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	byTag := map[string][]pageOp{}
	for path, methods := range d.Paths {
		for method, op := range methods {
			op.Method, op.Path = strings.ToUpper(method), path
			p := pageOp{opView: op}
			if op.RequestBody != nil {
				for _, c := range op.RequestBody.Content {
					p.Request = typeHTML(c.Schema)
				}
				if !op.RequestBody.Required {
					p.Request += " (optional)"
				}
			}
			for st, r := range op.Responses {
				body := template.HTML("—")
				desc := r.Description
				if r.Ref != "" {
					body = "problem"
					desc = d.Components.Responses[strings.TrimPrefix(r.Ref, "#/components/responses/")].Description
				}
				for ct, c := range r.Content {
					body = typeHTML(c.Schema)
					if ct == ProblemType {
						body = "problem"
					}
				}
				p.Responses = append(p.Responses, pageResponse{Status: st, Body: body, Description: desc})
			}
			sort.Slice(p.Responses, func(i, j int) bool { return p.Responses[i].Status < p.Responses[j].Status })
			tag := ""
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			byTag[tag] = append(byTag[tag], p)
		}
	}
	var tags []pageTag
	for _, t := range d.Tags {
		ops := byTag[t.Name]
		sort.Slice(ops, func(i, j int) bool {
			if ops[i].Path != ops[j].Path {
				return ops[i].Path < ops[j].Path
			}
			return slices.Index(methodOrder, strings.ToLower(ops[i].Method)) < slices.Index(methodOrder, strings.ToLower(ops[j].Method))
		})
		tags = append(tags, pageTag{Name: t.Name, Ops: ops})
	}
	var schemas []pageSchema
	for name, s := range d.Components.Schemas {
		ps := pageSchema{Name: name}
		props, _ := s["properties"].(map[string]any)
		if props == nil {
			ps.Type = typeHTML(s)
		}
		var required []string
		for _, r := range asList(s["required"]) {
			required = append(required, r.(string))
		}
		for _, f := range asList(s["x-order"]) {
			fs, _ := props[f.(string)].(map[string]any)
			desc, _ := fs["description"].(string)
			ps.Fields = append(ps.Fields, pageField{Name: f.(string), Type: typeHTML(fs),
				Required: slices.Contains(required, f.(string)), Description: desc})
		}
		schemas = append(schemas, ps)
	}
	sort.Slice(schemas, func(i, j int) bool { return schemas[i].Name < schemas[j].Name })
	var b bytes.Buffer
	err := docsPage.Execute(&b, map[string]any{"Doc": d, "Tags": tags, "Schemas": schemas, "Style": template.CSS(docsStyle)})
	return b.Bytes(), err
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// typeHTML renders a schema as a short type: "string (date-time)",
// "array of <a>User</a>", "Tenant | null".
func typeHTML(s map[string]any) template.HTML {
	if s == nil {
		return "any"
	}
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		return template.HTML(`<a href="#schema-` + template.HTMLEscapeString(name) + `">` + template.HTMLEscapeString(name) + `</a>`)
	}
	if alts := asList(s["anyOf"]); len(alts) > 0 {
		var parts []string
		for _, a := range alts {
			m, _ := a.(map[string]any)
			parts = append(parts, string(typeHTML(m)))
		}
		return template.HTML(strings.Join(parts, " | "))
	}
	var types []string
	switch t := s["type"].(type) {
	case string:
		types = []string{t}
	case []any:
		for _, x := range t {
			types = append(types, x.(string))
		}
	}
	if len(types) == 0 {
		return "any"
	}
	var parts []string
	for _, t := range types {
		switch t {
		case "array":
			items, _ := s["items"].(map[string]any)
			parts = append(parts, "array of "+string(typeHTML(items)))
		case "object":
			if add, ok := s["additionalProperties"].(map[string]any); ok {
				parts = append(parts, "map of "+string(typeHTML(add)))
			} else {
				parts = append(parts, "object")
			}
		default:
			p := template.HTMLEscapeString(t)
			if f, ok := s["format"].(string); ok {
				p += " (" + template.HTMLEscapeString(f) + ")"
			}
			if enum := asList(s["enum"]); len(enum) > 0 {
				var vals []string
				for _, e := range enum {
					b, _ := json.Marshal(e)
					vals = append(vals, template.HTMLEscapeString(string(b)))
				}
				p += ": " + strings.Join(vals, ", ")
			}
			parts = append(parts, p)
		}
	}
	return template.HTML(strings.Join(parts, " | "))
}

// codeHTML escapes text, showing `quoted` parts as code.
func codeHTML(text string) template.HTML {
	parts := strings.Split(template.HTMLEscapeString(text), "`")
	var b strings.Builder
	for i, p := range parts {
		if i%2 == 1 && i < len(parts)-1 {
			b.WriteString("<code>" + p + "</code>")
			continue
		}
		if i%2 == 1 {
			b.WriteString("`")
		}
		b.WriteString(p)
	}
	return template.HTML(b.String())
}

// docsCSP allows the page nothing but its own stylesheet.
func docsCSP() string {
	sum := sha256.Sum256([]byte(docsStyle))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) +
		"'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

const docsStyle = `
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:980px;padding:1rem 2rem;color:#1b1f24}
h1{margin-bottom:.2rem}h2{margin-top:2.5rem;border-bottom:1px solid #d0d7de}
code,.path{font-family:ui-monospace,monospace;font-size:.9em}
.op{border:1px solid #d0d7de;border-radius:6px;padding:.6rem 1rem;margin:1rem 0}
.op h3{margin:.2rem 0;font-size:1rem}
.m{display:inline-block;min-width:4.2rem;font-weight:600;font-family:ui-monospace,monospace}
.m-GET{color:#0969da}.m-POST{color:#1a7f37}.m-PATCH,.m-PUT{color:#9a6700}.m-DELETE{color:#cf222e}
.scope{background:#eef1f4;border-radius:4px;padding:0 .35rem;font-family:ui-monospace,monospace}
table{border-collapse:collapse;margin:.4rem 0;width:100%}td,th{border-bottom:1px solid #eaeef2;padding:.2rem .5rem;text-align:left;vertical-align:top}
th{font-weight:600;color:#57606a}.muted{color:#57606a}nav a{margin-right:.8rem}
`

var docsPage = template.Must(template.New("docs").Funcs(template.FuncMap{"type": typeHTML, "code": codeHTML}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Doc.Info.Title}}</title><style>{{.Style}}</style></head>
<body>
<h1>{{.Doc.Info.Title}}</h1>
<p class="muted">Version {{.Doc.Info.Version}} · OpenAPI document: <a href="openapi.json">openapi.json</a></p>
<p>{{.Doc.Info.Description}}</p>
<nav>{{range .Tags}}<a href="#tag-{{.Name}}">{{.Name}}</a>{{end}}<a href="#scopes">scopes</a><a href="#schemas">schemas</a></nav>
<h2 id="scopes">Scopes</h2>
<table><tr><th>Scope</th><th>Held by</th></tr>
{{range .Doc.Scopes}}<tr><td><span class="scope">{{.Name}}</span></td><td>{{if .PlatformOnly}}platform keys{{else}}tenant and platform keys{{end}}</td></tr>
{{end}}</table>
{{range .Tags}}<h2 id="tag-{{.Name}}">{{.Name}}</h2>
{{range .Ops}}<section class="op" id="op-{{.OperationID}}">
<h3><span class="m m-{{.Method}}">{{.Method}}</span> <span class="path">{{.Path}}</span></h3>
<p>{{.Summary}} <span class="muted">· {{.OperationID}} ·</span> <span class="scope">{{.Scope}}</span></p>
<p class="muted">{{code .Description}}</p>
{{if .Parameters}}<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr>
{{range .Parameters}}<tr><td><code>{{.Name}}</code>{{if .Required}} *{{end}}</td><td>{{.In}}</td><td>{{type .Schema}}</td><td>{{.Description}}</td></tr>
{{end}}</table>{{end}}
{{if .Request}}<p>Body: {{.Request}}</p>{{end}}
<table><tr><th>Status</th><th>Body</th><th>When</th></tr>
{{range .Responses}}<tr><td>{{.Status}}</td><td>{{.Body}}</td><td>{{.Description}}</td></tr>
{{end}}</table>
</section>
{{end}}{{end}}
<h2 id="schemas">Schemas</h2>
{{range .Schemas}}<section class="op" id="schema-{{.Name}}"><h3>{{.Name}}</h3>
{{if .Type}}<p>{{.Type}}</p>{{else}}<table><tr><th>Field</th><th>Type</th><th>Description</th></tr>
{{range .Fields}}<tr><td><code>{{.Name}}</code>{{if .Required}} *{{end}}</td><td>{{.Type}}</td><td>{{.Description}}</td></tr>
{{end}}</table>{{end}}
</section>
{{end}}
<p class="muted">* required. Errors are application/problem+json: type, title, status, detail, code, request_id, and errors for invalid input.</p>
</body></html>
`))
