package manage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/apikeys"
)

// Param is a query or header parameter an operation reads, declared for
// the document (Operation.Query).
type Param struct {
	Name string
	// In is "query" (the default) or "header".
	In          string
	Description string
	Required    bool
	// Type is a zero value of the parameter's Go type ("" for a string,
	// 0, false, time.Time{} for a date-time; nil: a string), reflected as
	// bodies are.
	Type any
	// Enum lists the values it takes, when it is one of a set.
	Enum []string
}

// OpenAPIVersion is the version of OpenAPI the document is written in.
const OpenAPIVersion = "3.1.0"

// securityScheme names the API key scheme in the document.
const securityScheme = "apiKey"

// problemStatuses are the error answers documented by reference
// (#/components/responses/…); which apply to an operation depends on what it
// reads (problemsFor). Anything else (409, 412, 500, 503, …) is the
// operation's default answer: a problem too.
var problemStatuses = map[int]string{
	http.StatusBadRequest:           "The request is malformed: the body is not JSON, or the cursor was not given out by this list.",
	http.StatusUnauthorized:         "No API key, or one that is unknown, revoked or expired.",
	http.StatusForbidden:            "The API key does not hold the scope the operation needs.",
	http.StatusNotFound:             "No such tenant or resource, or one the key does not reach (the answers are the same).",
	http.StatusUnsupportedMediaType: "The body is not sent as JSON.",
	http.StatusUnprocessableEntity:  "The input is invalid: the fields at fault are in errors.",
	http.StatusTooManyRequests:      "Too many requests with this key: retry after Retry-After seconds.",
}

// problemsFor lists the error statuses op can answer besides its default.
func problemsFor(op Operation) []int {
	out := []int{http.StatusUnauthorized, http.StatusForbidden}
	hasInput := op.Request != nil || op.BodyType != "" || len(op.queryParams()) > 0
	if hasInput {
		out = append(out, http.StatusBadRequest)
	}
	if len(op.PathParams()) > 0 {
		out = append(out, http.StatusNotFound)
	}
	if op.Request != nil || op.BodyType != "" {
		out = append(out, http.StatusUnsupportedMediaType)
	}
	if hasInput {
		out = append(out, http.StatusUnprocessableEntity)
	}
	out = append(out, http.StatusTooManyRequests)
	slices.Sort(out)
	return out
}

// IsList reports whether op answers a Page: it takes limit and cursor.
func (op Operation) IsList() bool {
	if op.Response == nil {
		return false
	}
	t := reflect.TypeOf(op.Response)
	return t.Kind() == reflect.Struct && t.PkgPath() == reflect.TypeFor[Page[int]]().PkgPath() && strings.HasPrefix(t.Name(), "Page[")
}

// queryParams is op.Query, after limit and cursor for a list.
func (op Operation) queryParams() []Param {
	var out []Param
	if op.IsList() {
		out = append(out,
			Param{Name: "limit", Type: 0, Description: fmt.Sprintf("The page size: %d to %d (default %d).", 1, MaxPageSize, DefaultPageSize)},
			Param{Name: "cursor", Description: "The next_cursor of the previous page, as it was given; absent for the first page."})
	}
	out = append(out, op.Query...)
	if op.Method == http.MethodPost || op.Method == http.MethodPatch {
		out = append(out, Param{Name: HeaderIdempotencyKey, In: "header",
			Description: "Makes a retry safe: the same key with the same request answers as the first did (for 24 h); with another request, 422."})
	}
	return out
}

// SuccessStatus is the status op answers when it succeeds.
func (op Operation) SuccessStatus() int {
	switch {
	case op.Status != 0:
		return op.Status
	case op.Response == nil:
		return http.StatusNoContent
	}
	return http.StatusOK
}

// Tag is the resource op belongs to, for grouping: the path's first
// segment after the tenant ("users" in /tenants/{slug}/users/{id}), or its
// first ("tenants").
func (op Operation) Tag() string {
	segs := strings.Split(strings.Trim(op.Path, "/"), "/")
	for i, s := range segs {
		if s == "{slug}" && i+1 < len(segs) && !strings.HasPrefix(segs[i+1], "{") {
			return segs[i+1]
		}
	}
	return segs[0]
}

// platformScope reports whether only platform keys may hold s.
func platformScope(s apikeys.Scope) bool {
	return !slices.Contains(apikeys.TenantScopes, s)
}

// scopeNote says in words who may call an operation needing s.
func scopeNote(s apikeys.Scope) string {
	if platformScope(s) {
		return fmt.Sprintf("Requires the `%s` scope, which only platform keys hold.", s)
	}
	return fmt.Sprintf("Requires the `%s` scope: a tenant key acts on its own tenant, a platform key on any.", s)
}

var pathParamDocs = map[string]string{
	"slug": "The tenant's slug.",
	"id":   "The resource's id.",
}

// OpenAPI returns the document of ops: OpenAPI 3.1, its schemas JSON
// Schema 2020-12 reflected from the operations' Go types.
func OpenAPI(ops []Operation) ([]byte, error) {
	r := newSchemaReflector()
	problem := r.of(Problem{})
	paths := map[string]map[string]any{}
	var tags []string
	for _, op := range ops {
		if tag := op.Tag(); !slices.Contains(tags, tag) {
			tags = append(tags, tag)
		}
		var params []any
		for _, name := range op.PathParams() {
			doc := pathParamDocs[name]
			if doc == "" {
				doc = "The " + name + "."
			}
			params = append(params, map[string]any{"name": name, "in": "path", "required": true, "description": doc,
				"schema": Schema{"type": "string"}})
		}
		for _, p := range op.queryParams() {
			in := p.In
			if in == "" {
				in = "query"
			}
			s := Schema{"type": "string"}
			if p.Type != nil {
				s = r.of(p.Type)
			}
			if len(p.Enum) > 0 {
				s["enum"] = p.Enum
			}
			if p.Name == "limit" && op.IsList() {
				s["minimum"], s["maximum"], s["default"] = 1, MaxPageSize, DefaultPageSize
			}
			param := map[string]any{"name": p.Name, "in": in, "schema": s}
			if p.Description != "" {
				param["description"] = p.Description
			}
			if p.Required {
				param["required"] = true
			}
			params = append(params, param)
		}
		success := map[string]any{"description": http.StatusText(op.SuccessStatus()),
			"headers": map[string]any{"X-Request-Id": map[string]any{"$ref": "#/components/headers/X-Request-Id"}}}
		if op.Response != nil {
			success["content"] = map[string]any{fiber.MIMEApplicationJSON: map[string]any{"schema": r.of(op.Response)}}
		}
		responses := map[string]any{fmt.Sprint(op.SuccessStatus()): success,
			"default": map[string]any{"$ref": "#/components/responses/Problem"}}
		for _, st := range problemsFor(op) {
			responses[fmt.Sprint(st)] = map[string]any{"$ref": fmt.Sprintf("#/components/responses/%d", st)}
		}
		o := map[string]any{
			"operationId": op.ID,
			"summary":     op.Summary,
			"description": scopeNote(op.Scope),
			"tags":        []string{op.Tag()},
			"security":    []any{map[string]any{securityScheme: []string{string(op.Scope)}}},
			"x-scope":     string(op.Scope),
			"responses":   responses,
		}
		if params != nil {
			o["parameters"] = params
		}
		if op.Request != nil {
			o["requestBody"] = map[string]any{"required": !op.OptionalBody,
				"content": map[string]any{fiber.MIMEApplicationJSON: map[string]any{"schema": r.of(op.Request)}}}
		}
		if op.BodyType != "" {
			o["requestBody"] = map[string]any{"required": true,
				"content": map[string]any{op.BodyType: map[string]any{"schema": Schema{"type": "string",
					"description": "JSON Lines: one JSON object per line (docs/EXPORT.md)."}}}}
		}
		if paths[op.Path] == nil {
			paths[op.Path] = map[string]any{}
		}
		method := strings.ToLower(op.Method)
		if paths[op.Path][method] != nil {
			return nil, fmt.Errorf("manage: two operations for %s %s", op.Method, op.Path)
		}
		paths[op.Path][method] = o
	}

	problemContent := map[string]any{ProblemType: map[string]any{"schema": problem}}
	requestID := map[string]any{"$ref": "#/components/headers/X-Request-Id"}
	respComponents := map[string]any{
		"Problem": map[string]any{"description": "An error, as RFC 9457 problem details with a stable code.",
			"content": problemContent, "headers": map[string]any{"X-Request-Id": requestID}},
	}
	for st, doc := range problemStatuses {
		resp := map[string]any{"description": doc, "content": problemContent,
			"headers": map[string]any{"X-Request-Id": requestID}}
		switch st {
		case http.StatusUnauthorized:
			resp["headers"].(map[string]any)["WWW-Authenticate"] = map[string]any{"description": `Bearer realm="hallpass"`,
				"schema": Schema{"type": "string"}}
		case http.StatusTooManyRequests:
			resp["headers"].(map[string]any)["Retry-After"] = map[string]any{"description": "Seconds to wait.",
				"schema": Schema{"type": "integer", "minimum": 0}}
		}
		respComponents[fmt.Sprint(st)] = resp
	}
	tagList := make([]any, len(tags))
	for i, t := range tags {
		tagList[i] = map[string]any{"name": t}
	}
	var scopes []any
	for _, s := range apikeys.PlatformScopes {
		scopes = append(scopes, map[string]any{"name": string(s), "platform_only": platformScope(s)})
	}
	doc := map[string]any{
		"openapi":           OpenAPIVersion,
		"jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
		"info": map[string]any{
			"title":       "Hallpass management API",
			"version":     "1",
			"description": apiDescription,
		},
		"servers":  []any{map[string]any{"url": Prefix}},
		"security": []any{map[string]any{securityScheme: []string{}}},
		"tags":     tagList,
		"x-scopes": scopes,
		"paths":    paths,
		"components": map[string]any{
			"securitySchemes": map[string]any{securityScheme: map[string]any{
				"type": "http", "scheme": "bearer", "bearerFormat": "hp_…",
				"description": "An API key: Authorization: Bearer hp_…. Keys are created in the console or with `hallpass apikey create`; " +
					"each holds scopes, and a tenant key reaches its own tenant only.",
			}},
			"schemas":   r.defs,
			"responses": respComponents,
			"headers": map[string]any{"X-Request-Id": map[string]any{"description": "The request's id, as the logs show it.",
				"schema": Schema{"type": "string"}}},
		},
	}
	return json.MarshalIndent(doc, "", "  ")
}

const apiDescription = "Everything the console does, for a backend and automation. " +
	"Every request carries an API key (Authorization: Bearer hp_…) holding scopes: a tenant key acts on its own tenant, " +
	"a platform key on any tenant and on the tenants themselves. Another tenant's resources answer 404, as resources " +
	"that do not exist do. Errors are RFC 9457 problem details (application/problem+json) with a stable code; invalid " +
	"input names the fields at fault. Lists answer a page of items and, when there are more, a next_cursor to pass back " +
	"as ?cursor=."

// mountDocs serves the document and its viewer, without a key: they say
// nothing that is not public, and they are the same for everyone, so they
// may be cached (and revalidated by ETag).
func (a *API) mountDocs(g fiber.Router) {
	doc, err := OpenAPI(a.ops)
	if err != nil {
		panic(err) // the operations are declared in code: a test fails first
	}
	page, err := renderDocs(doc)
	if err != nil {
		panic(err)
	}
	g.Get("/openapi.json", cacheable(doc, fiber.MIMEApplicationJSONCharsetUTF8, ""))
	g.Get("/docs", cacheable(page, fiber.MIMETextHTMLCharsetUTF8, docsCSP()))
}

// cacheable answers body, public and revalidated by its hash.
func cacheable(body []byte, contentType, csp string) fiber.Handler {
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:12]) + `"`
	return func(c *fiber.Ctx) error {
		c.Set(fiber.HeaderCacheControl, "public, max-age=300")
		c.Set(fiber.HeaderETag, etag)
		c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
		c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
		if csp != "" {
			c.Set(fiber.HeaderContentSecurityPolicy, csp)
		}
		if inm := c.Get(fiber.HeaderIfNoneMatch); inm != "" && etagMatches(inm, etag) {
			return c.SendStatus(fiber.StatusNotModified)
		}
		c.Set(fiber.HeaderContentType, contentType)
		return c.Send(body)
	}
}

func etagMatches(header, etag string) bool {
	for e := range strings.SplitSeq(header, ",") {
		e = strings.TrimPrefix(strings.TrimSpace(e), "W/")
		if e == etag || e == "*" {
			return true
		}
	}
	return false
}
