package manage_test

// The management API's contract test: it walks every operation the API
// declares, with keys of every kind, and checks every answer against the
// OpenAPI document the server serves.
//
// # Adding a fixture (every new operation needs one)
//
// The walker fails for an operation without a fixture, so an operation
// cannot ship untested. Register yours by operationId from an init() in
// contract_<resource>_test.go (one file per resource, so that parallel
// work does not collide):
//
//	func init() {
//		fixture("getUser", func(t *testing.T, w *World, on *tenants.Tenant) Call {
//			id := w.NewUser(t, on) // whatever the operation needs, built on tenant on
//			return Call{Params: map[string]string{"slug": on.Slug, "id": id}}
//		})
//	}
//
// The builder returns a valid request for tenant on: its path parameters
// (slug is on.Slug for a tenant's resources), query, body and headers.
// on is tenant A (w.A, the tenant the keys belong to) or tenant B (w.B,
// another tenant on the same server, for the cross-tenant checks). The
// builder is called afresh before every request that should succeed, so an
// operation that consumes its resource (delete, revoke, rotate) gets a new
// one each time; the refusals share one build. Call.Check, if set, looks at
// a successful answer. A platform operation that consumes a tenant
// (deleteTenant) builds a new tenant rather than using on.
//
// # What the walker checks, per operation
//
//   - a key holding only the operation's scope succeeds with the declared
//     status (a tenant key of A, and a platform key; a platform key alone
//     for the tenants:* scopes);
//   - a key holding every other scope a key of its kind may hold is refused
//     with 403 (tenant and platform keys);
//   - a tenant-A key on tenant B's path is 404, the very answer an unknown
//     tenant gets, and nothing of B's in it; with A's slug and B's resource
//     ids (an operation with more path parameters, but for those listed in
//     Call.Global) 404 too;
//   - no key, a malformed key, a revoked key and an expired key are 401;
//   - every answer, success or problem, has a documented status and
//     content type and its body validates (JSON Schema 2020-12) against the
//     schema the served document gives for it.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/api/manage"
	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// World is what a fixture builds on: one server, two tenants.
type World struct {
	Env *apitest.Env
	// A is the tenant the walker's tenant keys belong to; B is another
	// tenant on the same server.
	A, B *tenants.Tenant

	keys map[string]string // "owner|scope,scope" → secret
}

// Call is one request to an operation: its path parameters by name, query,
// body (a string is sent as is, anything else as its JSON) and headers
// (name, value pairs).
type Call struct {
	Params  map[string]string
	Query   url.Values
	Body    any
	Headers []string
	// Global names the path parameters whose values mean the same in
	// every tenant (a settings version number): the check with A's slug
	// and B's ids leaves them as A's.
	Global []string
	// Check, if set, looks at a successful answer.
	Check func(t *testing.T, r *apitest.Response)
}

// Builder returns a valid request for an operation on tenant on.
type Builder func(t *testing.T, w *World, on *tenants.Tenant) Call

var fixtures = map[string]Builder{}

// fixture registers the builder of operation id's requests.
func fixture(id string, b Builder) {
	if _, dup := fixtures[id]; dup {
		panic("two fixtures for " + id)
	}
	fixtures[id] = b
}

// key returns a secret for a key of tenant owner (nil: a platform key)
// holding scopes, minting it once per world.
func (w *World) key(t *testing.T, owner *tenants.Tenant, scopes []apikeys.Scope) string {
	t.Helper()
	id := uuid.Nil
	if owner != nil {
		id = owner.ID
	}
	names := make([]string, len(scopes))
	for i, s := range scopes {
		names[i] = string(s)
	}
	k := id.String() + "|" + strings.Join(names, ",")
	if s, ok := w.keys[k]; ok {
		return s
	}
	_, secret, err := w.Env.Assembly.APIKeys.Create(context.Background(), audit.Actor{Name: "contract"},
		apikeys.NewKey{TenantID: id, Name: "contract", Scopes: names})
	if err != nil {
		t.Fatal(err)
	}
	w.keys[k] = secret
	return secret
}

// deadKeys returns a revoked and an expired key of owner holding scope.
func (w *World) deadKeys(t *testing.T, owner *tenants.Tenant, scope apikeys.Scope) (revoked, expired string) {
	t.Helper()
	ctx := context.Background()
	id := uuid.Nil
	if owner != nil {
		id = owner.ID
	}
	nk := apikeys.NewKey{TenantID: id, Name: "contract", Scopes: []string{string(scope)}}
	rk, revoked, err := w.Env.Assembly.APIKeys.Create(ctx, audit.Actor{Name: "contract"}, nk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Env.Assembly.APIKeys.Revoke(ctx, audit.Actor{Name: "contract"}, id, rk.ID); err != nil {
		t.Fatal(err)
	}
	soon := time.Now().Add(time.Hour)
	nk.ExpiresAt = &soon
	ek, expired, err := w.Env.Assembly.APIKeys.Create(ctx, audit.Actor{Name: "contract"}, nk)
	if err != nil {
		t.Fatal(err)
	}
	// A key cannot be created expired: move its expiry into the past
	// before its first use.
	if _, err := testenv.Pool(t).Exec(ctx, `UPDATE api_keys SET expires_at = now() - interval '1 minute' WHERE id = $1`, ek.ID); err != nil {
		t.Fatal(err)
	}
	return revoked, expired
}

// The coverage the walk reached, printed and written for make test.
var coverage struct {
	sync.Mutex
	declared, operations, scopeChecks, crossTenant, authChecks, responses int
	missing, invalid                                                      []string
}

func TestContract(t *testing.T) {
	// Both tenants declare user fields, so the users fixtures walk
	// profiles with values (contract_users_test.go).
	env := apitest.New(t, apitest.Settings{"HALLPASS_USER_FIELDS": contractUserFields})
	b, err := env.Store.Create(context.Background(), tenants.CreateInput{Slug: testenv.Slug("contract-b"),
		Settings: fmt.Appendf(nil, `{"HALLPASS_USER_FIELDS": %s}`, mustJSON(contractUserFields))}, "contract")
	if err != nil {
		t.Fatal(err)
	}
	w := &World{Env: env, A: env.Tenant, B: b, keys: map[string]string{}}
	doc := loadDocument(t, env)
	ops := env.Assembly.Manage.Operations()
	if len(ops) == 0 {
		t.Fatal("no operations")
	}
	declared := map[string]bool{}
	for _, op := range ops {
		declared[op.ID] = true
	}
	for id := range fixtures {
		if !declared[id] {
			t.Errorf("a fixture for %s, which is not an operation", id)
		}
	}
	coverage.declared = len(ops)
	defer writeContractSummary(t)
	for _, op := range ops {
		t.Run(op.ID, func(t *testing.T) {
			build := fixtures[op.ID]
			if build == nil {
				coverage.Lock()
				coverage.missing = append(coverage.missing, op.ID)
				coverage.Unlock()
				t.Fatalf("%s %s has no contract fixture: register one in contract_%s_test.go (see contract_test.go)", op.Method, op.Path, strings.ReplaceAll(op.Tag(), "-", ""))
			}
			walk(t, w, doc, op, build)
			coverage.Lock()
			coverage.operations++
			coverage.Unlock()
		})
	}
}

// walk runs every check on op.
func walk(t *testing.T, w *World, doc *document, op manage.Operation, build Builder) {
	platformOnly := !slices.Contains(apikeys.TenantScopes, op.Scope)
	hasSlug := slices.Contains(op.PathParams(), "slug")
	send := func(name string, call Call, secret string) *apitest.Response {
		t.Helper()
		r := do(t, w.Env, op, call, secret)
		doc.validate(t, op, name, r)
		return r
	}
	count := func(n *int) {
		coverage.Lock()
		*n++
		coverage.Unlock()
	}

	// Allowed: a key with the operation's scope alone.
	owners := []*tenants.Tenant{nil}
	if !platformOnly {
		owners = []*tenants.Tenant{w.A, nil}
	}
	for _, owner := range owners {
		call := build(t, w, w.A)
		if err := doc.checkRequest(op, call); err != nil {
			t.Errorf("%s: the fixture's request departs from the document: %v", op.ID, err)
		}
		r := send("allowed "+ownerName(owner), call, w.key(t, owner, []apikeys.Scope{op.Scope}))
		if r.Code != op.SuccessStatus() {
			t.Errorf("%s key with %s: want %d, got %d: %s", ownerName(owner), op.Scope, op.SuccessStatus(), r.Code, r.Body)
		} else if call.Check != nil {
			call.Check(t, r)
		}
		count(&coverage.scopeChecks)
	}

	// Refused: every other scope a key of each kind may hold.
	refusals := build(t, w, w.A)
	for _, kind := range []struct {
		owner *tenants.Tenant
		all   []apikeys.Scope
	}{{w.A, apikeys.TenantScopes}, {nil, apikeys.PlatformScopes}} {
		others := slices.DeleteFunc(slices.Clone(kind.all), func(s apikeys.Scope) bool { return s == op.Scope })
		r := send("every other scope", refusals, w.key(t, kind.owner, others))
		if kind.owner != nil && hasSlug && refusals.Params["slug"] != w.A.Slug {
			// A platform operation on a tenant of its own (deleteTenant's
			// new one): A's key does not reach it.
			wantProblem(t, r, 404, "not_found")
			count(&coverage.crossTenant)
			continue
		}
		wantProblem(t, r, 403, "insufficient_scope")
		count(&coverage.scopeChecks)
	}

	// Cross-tenant: tenant A's key never reaches B.
	if hasSlug {
		scopes := []apikeys.Scope{op.Scope}
		if platformOnly {
			scopes = apikeys.TenantScopes
		}
		aKey := w.key(t, w.A, scopes)
		onB := build(t, w, w.B)
		r := send("A key, B's path", onB, aKey)
		wantProblem(t, r, 404, "not_found")
		unknown := onB
		unknown.Params = withParam(onB.Params, "slug", "no-such-tenant-"+uuid.NewString()[:8])
		u := send("A key, unknown tenant", unknown, aKey)
		if r.JSON["detail"] != u.JSON["detail"] || r.JSON["code"] != u.JSON["code"] {
			t.Errorf("B's tenant answers %s, an unknown one %s", r.Body, u.Body)
		}
		noLeak(t, w, r, onB)
		count(&coverage.crossTenant)
		// A's slug, B's resources: refusals is A's own build, its
		// tenant-specific parameters swapped for B's.
		swapped, foreign := refusals, false
		for _, name := range op.PathParams() {
			if name != "slug" && !slices.Contains(onB.Global, name) {
				swapped.Params, foreign = withParam(swapped.Params, name, onB.Params[name]), true
			}
		}
		if !platformOnly && foreign {
			r := send("A key, A's slug, B's ids", swapped, aKey)
			wantProblem(t, r, 404, "not_found")
			noLeak(t, w, r, onB)
			count(&coverage.crossTenant)
		}
	}

	// Unauthenticated.
	owner := w.A
	if platformOnly {
		owner = nil
	}
	revoked, expired := w.deadKeys(t, owner, op.Scope)
	for _, tc := range []struct{ name, secret, code string }{
		{"no key", "", "unauthenticated"},
		{"malformed key", "hp_" + strings.Repeat("x", 10), "invalid_api_key"},
		{"revoked key", revoked, "invalid_api_key"},
		{"expired key", expired, "invalid_api_key"},
	} {
		r := send(tc.name, refusals, tc.secret)
		wantProblem(t, r, 401, tc.code)
		if r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
		}
		count(&coverage.authChecks)
	}
}

func ownerName(owner *tenants.Tenant) string {
	if owner == nil {
		return "platform"
	}
	return "tenant"
}

func withParam(params map[string]string, name, value string) map[string]string {
	out := map[string]string{}
	for k, v := range params {
		out[k] = v
	}
	out[name] = value
	return out
}

// noLeak fails if a refusal about tenant B says anything of B's: its id,
// slug, name, or the values of the parameters that named its resources.
func noLeak(t *testing.T, w *World, r *apitest.Response, onB Call) {
	t.Helper()
	secrets := []string{w.B.ID.String(), w.B.Slug}
	if w.B.Name != "" {
		secrets = append(secrets, w.B.Name)
	}
	for k, v := range onB.Params {
		if k != "slug" && len(v) >= 4 {
			secrets = append(secrets, v)
		}
	}
	for _, s := range secrets {
		if bytes.Contains(r.Body, []byte(s)) {
			t.Errorf("a refusal about tenant B shows %q: %s", s, r.Body)
		}
	}
}

// do sends call to op with secret ("" for none).
func do(t *testing.T, env *apitest.Env, op manage.Operation, call Call, secret string) *apitest.Response {
	t.Helper()
	p := op.Path
	for _, name := range op.PathParams() {
		v, ok := call.Params[name]
		if !ok {
			t.Fatalf("the fixture of %s gives no {%s}", op.ID, name)
		}
		p = strings.Replace(p, "{"+name+"}", url.PathEscape(v), 1)
	}
	if len(call.Query) > 0 {
		p += "?" + call.Query.Encode()
	}
	var body string
	switch b := call.Body.(type) {
	case nil:
	case string:
		body = b
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		body = string(raw)
	}
	headers := slices.Clone(call.Headers)
	if secret != "" {
		headers = append(headers, "Authorization", "Bearer "+secret)
	}
	return env.Raw(op.Method, manage.Prefix+p, body, headers...)
}

// document is the served OpenAPI document, compiled for validating answers.
type document struct {
	raw      map[string]any
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
}

const docURL = "https://hallpass.test/api/v1/openapi.json"

func loadDocument(t *testing.T, env *apitest.Env) *document {
	t.Helper()
	r := env.Raw("GET", manage.Prefix+"/openapi.json", "")
	if r.Code != 200 {
		t.Fatalf("openapi.json: %d %s", r.Code, r.Body)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(docURL, inst); err != nil {
		t.Fatal(err)
	}
	d := &document{compiler: c, schemas: map[string]*jsonschema.Schema{}}
	if err := json.Unmarshal(r.Body, &d.raw); err != nil {
		t.Fatal(err)
	}
	return d
}

// pointer escapes JSON pointer tokens into a URL fragment.
func pointer(tokens ...string) string {
	var b strings.Builder
	for _, tok := range tokens {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~", "~0"), "/", "~1")
		b.WriteString("/" + url.PathEscape(tok))
	}
	return b.String()
}

// schema compiles the schema at a JSON pointer of the document, once.
func (d *document) schema(ptr string) (*jsonschema.Schema, error) {
	if s, ok := d.schemas[ptr]; ok {
		return s, nil
	}
	s, err := d.compiler.Compile(docURL + "#" + ptr)
	if err != nil {
		return nil, err
	}
	d.schemas[ptr] = s
	return s, nil
}

// lookup walks the raw document along tokens.
func (d *document) lookup(tokens ...string) map[string]any {
	var cur any = d.raw
	for _, tok := range tokens {
		m, _ := cur.(map[string]any)
		cur = m[tok]
	}
	m, _ := cur.(map[string]any)
	return m
}

// validate checks an answer of op against the document, failing t and
// counting it.
func (d *document) validate(t *testing.T, op manage.Operation, check string, r *apitest.Response) {
	t.Helper()
	coverage.Lock()
	coverage.responses++
	coverage.Unlock()
	if err := d.check(op, r); err != nil {
		msg := fmt.Sprintf("%s %s (%s) → %d: %v", op.Method, op.Path, check, r.Code, err)
		coverage.Lock()
		coverage.invalid = append(coverage.invalid, msg)
		coverage.Unlock()
		t.Error(msg)
	}
}

// check says how an answer of op departs from the document: an
// undocumented status (without a default), content type or header, or a
// body its schema refuses.
func (d *document) check(op manage.Operation, r *apitest.Response) error {
	base := []string{"paths", op.Path, strings.ToLower(op.Method), "responses"}
	status := strconv.Itoa(r.Code)
	resp := d.lookup(append(base, status)...)
	if resp == nil {
		status = "default"
		if resp = d.lookup(append(base, status)...); resp == nil {
			return errors.New("status not documented")
		}
	}
	tokens := append(base, status)
	if ref, ok := resp["$ref"].(string); ok {
		tokens = strings.Split(strings.TrimPrefix(ref, "#/"), "/")
		resp = d.lookup(tokens...)
	}
	if r.Header.Get("X-Request-Id") == "" {
		return errors.New("no X-Request-Id")
	}
	content, _ := resp["content"].(map[string]any)
	if len(content) == 0 {
		if len(r.Body) > 0 {
			return fmt.Errorf("a body where the document has none: %s", r.Body)
		}
		return nil
	}
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	if _, ok := content[ct]; !ok {
		return fmt.Errorf("content type %q not documented", ct)
	}
	s, err := d.schema(pointer(append(tokens, "content", ct, "schema")...))
	if err != nil {
		return fmt.Errorf("the document's schema does not compile: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(r.Body))
	if err != nil {
		return fmt.Errorf("not JSON: %s", r.Body)
	}
	if err := s.Validate(inst); err != nil {
		return fmt.Errorf("%v\n%s", err, r.Body)
	}
	return nil
}

// checkRequest says how a request the fixture sends departs from what the
// document declares of op: a query parameter it does not name, or no body
// where it requires one. (An operation that reads what it does not declare
// is undocumented input.)
func (d *document) checkRequest(op manage.Operation, call Call) error {
	o := d.lookup("paths", op.Path, strings.ToLower(op.Method))
	declared := map[string]bool{}
	params, _ := o["parameters"].([]any)
	for _, p := range params {
		if p, ok := p.(map[string]any); ok && p["in"] == "query" {
			declared[p["name"].(string)] = true
		}
	}
	for name := range call.Query {
		if !declared[name] {
			return fmt.Errorf("query parameter %q is not declared", name)
		}
	}
	body, _ := o["requestBody"].(map[string]any)
	if call.Body == nil && body["required"] == true {
		return errors.New("no body, but the document requires one")
	}
	if call.Body != nil && body == nil {
		return errors.New("a body, but the document declares none")
	}
	return nil
}

// writeContractSummary prints the walk's coverage and writes it beside the
// conformance suite's, for make test to show.
func writeContractSummary(t *testing.T) {
	coverage.Lock()
	defer coverage.Unlock()
	verdict := "all responses valid"
	if n := len(coverage.invalid); n > 0 {
		verdict = fmt.Sprintf("%d responses INVALID", n)
	}
	if n := len(coverage.missing); n > 0 {
		verdict += fmt.Sprintf(", %d operations WITHOUT A FIXTURE", n)
	}
	text := fmt.Sprintf("management API contract: %d of %d operations walked, %d scope checks, %d cross-tenant checks, %d key checks (401), %d responses validated against /api/v1/openapi.json, %s\n",
		coverage.operations, coverage.declared, coverage.scopeChecks, coverage.crossTenant, coverage.authChecks, coverage.responses, verdict)
	sort.Strings(coverage.missing)
	for _, id := range coverage.missing {
		text += "  no fixture: " + id + "\n"
	}
	for _, f := range coverage.invalid {
		text += "  INVALID " + f + "\n"
	}
	dir := os.Getenv("HALLPASS_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join(repoRoot(), ".data", "artifacts")
	}
	_ = os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "manage-contract.txt"), []byte(text), 0o644); err != nil {
		t.Log(err)
	}
	t.Log(strings.TrimSpace(text))
}

func repoRoot() string {
	dir, _ := os.Getwd()
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	return dir
}
