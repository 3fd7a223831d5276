package manage_test

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/api/manage"
)

// The document is served to anyone, cacheable, and says what every
// operation needs; every schema in it compiles as JSON Schema 2020-12.
func TestContractDocument(t *testing.T) {
	env := apitest.New(t, nil)
	for _, auth := range [][]string{nil, {"Authorization", "Bearer hp_not-a-key"}} {
		r := env.Raw("GET", manage.Prefix+"/openapi.json", "", auth...)
		if r.Code != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") ||
			!strings.Contains(r.Header.Get("Cache-Control"), "public") || r.Header.Get("ETag") == "" {
			t.Fatalf("openapi.json: %d %v", r.Code, r.Header)
		}
		again := env.Raw("GET", manage.Prefix+"/openapi.json", "", "If-None-Match", r.Header.Get("ETag"))
		if again.Code != http.StatusNotModified || len(again.Body) != 0 {
			t.Errorf("If-None-Match: %d", again.Code)
		}
	}
	d := loadDocument(t, env)
	if d.raw["openapi"] != manage.OpenAPIVersion {
		t.Errorf("openapi: %v", d.raw["openapi"])
	}
	ids := map[string]bool{}
	for _, op := range env.Assembly.Manage.Operations() {
		o := d.lookup("paths", op.Path, strings.ToLower(op.Method))
		if o == nil {
			t.Errorf("%s %s is not in the document", op.Method, op.Path)
			continue
		}
		if o["operationId"] != op.ID || ids[op.ID] || op.Summary == "" || o["summary"] != op.Summary {
			t.Errorf("%s: operationId %v, summary %q", op.ID, o["operationId"], op.Summary)
		}
		ids[op.ID] = true
		if o["x-scope"] != string(op.Scope) || !strings.Contains(fmt.Sprint(o["security"]), string(op.Scope)) ||
			!strings.Contains(fmt.Sprint(o["description"]), string(op.Scope)) {
			t.Errorf("%s: the scope %s is not in x-scope, security and description: %v", op.ID, op.Scope, o)
		}
		var inPath []string
		params, _ := o["parameters"].([]any)
		for _, p := range params {
			p := p.(map[string]any)
			if p["in"] == "path" {
				inPath = append(inPath, p["name"].(string))
			}
		}
		if !slices.Equal(inPath, op.PathParams()) {
			t.Errorf("%s: path parameters %v, declared %v", op.ID, inPath, op.PathParams())
		}
		responses := o["responses"].(map[string]any)
		for _, st := range []string{fmt.Sprint(op.SuccessStatus()), "401", "403", "429", "default"} {
			if responses[st] == nil {
				t.Errorf("%s: no %s answer", op.ID, st)
			}
		}
		if op.IsList() && !strings.Contains(fmt.Sprint(o["parameters"]), "cursor") {
			t.Errorf("%s: a list without cursor", op.ID)
		}
	}
	// Every schema compiles (the compiler checks each against the 2020-12
	// meta-schema).
	for name := range d.lookup("components", "schemas") {
		if _, err := d.schema(pointer("components", "schemas", name)); err != nil {
			t.Errorf("schema %s: %v", name, err)
		}
	}
}

// The validator the walker uses does refuse what departs from the
// document: a test of the test.
func TestContractValidatorRefuses(t *testing.T) {
	env := apitest.New(t, nil)
	d := loadDocument(t, env)
	var op manage.Operation
	for _, o := range env.Assembly.Manage.Operations() {
		if o.ID == "getTenant" {
			op = o
		}
	}
	good := `{"id":"x","slug":"a","name":"A","settings_version":1,"created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z"}`
	problem := `{"type":"https://hallpass.dev/problems/not_found","title":"Not Found","status":404,"code":"not_found"}`
	answer := func(status int, ct, body string) *apitest.Response {
		h := http.Header{"X-Request-Id": {"r1"}}
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		return &apitest.Response{Code: status, Header: h, Body: []byte(body)}
	}
	if err := d.check(op, answer(200, "application/json", good)); err != nil {
		t.Fatalf("a valid answer refused: %v", err)
	}
	if err := d.check(op, answer(404, manage.ProblemType, problem)); err != nil {
		t.Fatalf("a valid problem refused: %v", err)
	}
	if err := d.check(op, answer(409, manage.ProblemType, problem)); err != nil {
		t.Fatalf("a problem under default refused: %v", err)
	}
	for name, r := range map[string]*apitest.Response{
		"missing field":       answer(200, "application/json", strings.Replace(good, `"slug":"a",`, "", 1)),
		"unknown field":       answer(200, "application/json", strings.Replace(good, `{`, `{"secret":1,`, 1)),
		"wrong type":          answer(200, "application/json", strings.Replace(good, `"settings_version":1`, `"settings_version":"1"`, 1)),
		"bad date-time":       answer(200, "application/json", strings.Replace(good, `2026-01-02T03:04:05Z`, `yesterday`, 1)),
		"problem as json":     answer(404, "application/json", problem),
		"success as prob":     answer(200, manage.ProblemType, good),
		"problem lacking":     answer(403, manage.ProblemType, `{"status":403}`),
		"not json":            answer(200, "application/json", `<html>`),
		"no request id":       {Code: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: []byte(good)},
		"undocumented 2xx":    answer(201, "application/json", good),
		"problem body on 200": answer(200, "application/json", problem),
	} {
		if err := d.check(op, r); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// The viewer shows every operation and schema of the document, loads
// nothing from anywhere, and runs no script.
func TestContractDocsViewer(t *testing.T) {
	env := apitest.New(t, nil)
	r := env.Raw("GET", manage.Prefix+"/docs", "")
	if r.Code != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("docs: %d %v", r.Code, r.Header)
	}
	csp := r.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q", csp)
	}
	if bytes.Contains(bytes.ToLower(r.Body), []byte("<script")) {
		t.Error("the viewer has a script")
	}
	if m := regexp.MustCompile(`(src|href)="(https?:)?//`).Find(r.Body); m != nil {
		t.Errorf("the viewer loads from elsewhere: %s", m)
	}
	d := loadDocument(t, env)
	for _, op := range env.Assembly.Manage.Operations() {
		for _, want := range []string{`id="op-` + op.ID + `"`, string(op.Scope), template.HTMLEscapeString(op.Path), template.HTMLEscapeString(op.Summary)} {
			if !bytes.Contains(r.Body, []byte(want)) {
				t.Errorf("%s: the viewer lacks %q", op.ID, want)
			}
		}
	}
	for name := range d.lookup("components", "schemas") {
		if !bytes.Contains(r.Body, []byte(`id="schema-`+name+`"`)) {
			t.Errorf("the viewer lacks schema %s", name)
		}
	}
}
