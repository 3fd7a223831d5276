package manage

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/hallpass/hallpass/internal/apikeys"
)

type reflInner struct {
	A string `json:"a"`
}

type ReflEmbedded struct {
	E int `json:"e"`
}

type reflSample struct {
	ReflEmbedded
	Req       string          `json:"req"`
	Opt       string          `json:"opt,omitempty"`
	Ptr       *string         `json:"ptr"`
	When      time.Time       `json:"when"`
	MaybeWhen *time.Time      `json:"maybe_when,omitempty"`
	ID        uuid.UUID       `json:"id"`
	List      []reflInner     `json:"list"`
	Map       map[string]int  `json:"map"`
	Any       any             `json:"any"`
	Raw       json.RawMessage `json:"raw"`
	Skip      string          `json:"-"`
	hidden    string
	Num       int64      `json:"num,string"`
	Bytes     []byte     `json:"bytes"`
	Ref       *reflInner `json:"ref"`
	Doc       uint       `json:"doc" doc:"Documented."`
	Untagged  bool
}

// The reflected schema says what encoding/json writes: checked on the
// schema's shape, then by validating real values' JSON against it.
func TestSchemaReflector(t *testing.T) {
	r := newSchemaReflector()
	ref := r.of(reflSample{})
	if ref["$ref"] != "#/components/schemas/reflSample" {
		t.Fatalf("ref %v", ref)
	}
	s := r.defs["reflSample"]
	props := s["properties"].(Schema)
	want := map[string]string{
		"e": `{"type":"integer"}`, "req": `{"type":"string"}`, "ptr": `{"type":["string","null"]}`,
		"when": `{"format":"date-time","type":"string"}`, "maybe_when": `{"format":"date-time","type":["string","null"]}`,
		"id":   `{"format":"uuid","type":"string"}`,
		"list": `{"items":{"$ref":"#/components/schemas/reflInner"},"type":"array"}`,
		"map":  `{"additionalProperties":{"type":"integer"},"type":"object"}`, "any": `{}`, "raw": `{}`,
		"num": `{"type":"string"}`, "bytes": `{"contentEncoding":"base64","type":"string"}`,
		"ref": `{"anyOf":[{"$ref":"#/components/schemas/reflInner"},{"type":"null"}]}`,
		"doc": `{"description":"Documented.","minimum":0,"type":"integer"}`, "Untagged": `{"type":"boolean"}`,
		"opt": `{"type":"string"}`,
	}
	if len(props) != len(want) {
		t.Errorf("properties %v", props)
	}
	for name, w := range want {
		got, _ := json.Marshal(props[name])
		if string(got) != w {
			t.Errorf("%s: %s, want %s", name, got, w)
		}
	}
	required, _ := json.Marshal(s["required"])
	if string(required) != `["e","req","ptr","when","id","list","map","any","raw","num","bytes","ref","doc","Untagged"]` {
		t.Errorf("required %s", required)
	}
	if s["additionalProperties"] != false {
		t.Error("objects must refuse unknown fields")
	}
	page := r.of(Page[reflInner]{})
	if page["$ref"] != "#/components/schemas/Page_reflInner" || r.defs["Page_reflInner"] == nil {
		t.Errorf("Page[reflInner]: %v", page)
	}

	str := "s"
	when := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	full := reflSample{ReflEmbedded: ReflEmbedded{E: 1}, Req: "r", Opt: "o", Ptr: &str, When: when, MaybeWhen: &when,
		ID: uuid.New(), List: []reflInner{{A: "a"}}, Map: map[string]int{"k": 1}, Any: []int{1}, Raw: json.RawMessage(`{"x":1}`),
		Num: 7, Bytes: []byte{1, 2}, Ref: &reflInner{A: "b"}, Doc: 3, Untagged: true, Skip: "not shown", hidden: "nor this"}
	sparse := full
	sparse.Opt, sparse.Ptr, sparse.MaybeWhen, sparse.Ref, sparse.Any = "", nil, nil, nil, nil
	for name, v := range map[string]any{"full": full, "sparse": sparse, "page": Page[reflInner]{Items: []reflInner{{A: "a"}}, NextCursor: "c"},
		"empty page": Page[reflInner]{Items: []reflInner{}}} {
		if err := validateValue(t, r, v); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A nil slice is written as null, which the document does not allow:
	// a handler must answer [] (the contract test would catch it).
	if err := validateValue(t, r, Page[reflInner]{}); err == nil {
		t.Error("items: null accepted")
	}
}

// validateValue validates v's JSON against the schema r reflects for it.
func validateValue(t *testing.T, r *schemaReflector, v any) error {
	t.Helper()
	doc := map[string]any{"components": map[string]any{"schemas": r.defs}, "x": r.of(v)}
	raw, _ := json.Marshal(doc)
	inst, _ := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource("https://hallpass.test/x.json", inst); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("https://hallpass.test/x.json#/x")
	if err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	val, _ := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	return s.Validate(val)
}

// A list gets limit and cursor; declared parameters follow; statuses
// default from the body.
func TestOperationDocumentation(t *testing.T) {
	list := Operation{ID: "listThings", Method: http.MethodGet, Path: "/tenants/{slug}/things", Scope: apikeys.UsersRead,
		Summary: "List things", Response: Page[reflInner]{},
		Query: []Param{{Name: "active", Type: false}, {Name: "kind", Enum: []string{"a", "b"}}, {Name: "If-Match", In: "header", Required: true}}}
	del := Operation{ID: "deleteThing", Method: http.MethodDelete, Path: "/tenants/{slug}/things/{id}", Scope: apikeys.UsersWrite, Summary: "Delete a thing"}
	create := Operation{ID: "createTenantThing", Method: http.MethodPost, Path: "/tenants", Scope: apikeys.TenantsWrite,
		Summary: "Create", Request: reflInner{}, Status: http.StatusCreated, Response: reflInner{}}
	poke := Operation{ID: "pokeThing", Method: http.MethodPost, Path: "/tenants/{slug}/things/{id}/poke", Scope: apikeys.UsersWrite,
		Summary: "Poke", Request: reflInner{}, OptionalBody: true, Status: http.StatusAccepted, Response: reflInner{}}
	if !list.IsList() || del.IsList() || list.SuccessStatus() != 200 || del.SuccessStatus() != 204 || create.SuccessStatus() != 201 {
		t.Fatal("IsList or SuccessStatus")
	}
	if list.Tag() != "things" || del.Tag() != "things" || create.Tag() != "tenants" {
		t.Errorf("tags %s %s %s", list.Tag(), del.Tag(), create.Tag())
	}
	raw, err := OpenAPI([]Operation{list, del, create, poke})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name, In string
				Required bool
				Schema   map[string]any
			}
			RequestBody map[string]any
			Responses   map[string]any
		}
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	l := doc.Paths["/tenants/{slug}/things"]["get"]
	var names []string
	for _, p := range l.Parameters {
		names = append(names, p.In+":"+p.Name)
	}
	if strings.Join(names, " ") != "path:slug query:limit query:cursor query:active query:kind header:If-Match" {
		t.Errorf("list parameters %v", names)
	}
	if l.Parameters[1].Schema["maximum"] != float64(MaxPageSize) || l.Parameters[3].Schema["type"] != "boolean" ||
		!l.Parameters[5].Required || len(l.Parameters[4].Schema["enum"].([]any)) != 2 {
		t.Errorf("list parameters %+v", l.Parameters)
	}
	for _, st := range []string{"200", "400", "401", "403", "404", "422", "429", "default"} {
		if l.Responses[st] == nil {
			t.Errorf("list: no %s", st)
		}
	}
	d := doc.Paths["/tenants/{slug}/things/{id}"]["delete"]
	if d.Responses["204"] == nil || d.Responses["400"] != nil || d.Responses["422"] != nil || d.RequestBody != nil {
		t.Errorf("delete responses %v", d.Responses)
	}
	if _, ok := d.Responses["204"].(map[string]any)["content"]; ok {
		t.Error("204 with content")
	}
	c := doc.Paths["/tenants"]["post"]
	if c.Responses["201"] == nil || c.Responses["415"] == nil || c.Responses["404"] != nil || c.RequestBody["required"] != true {
		t.Errorf("create: %v %v", c.Responses, c.RequestBody)
	}
	if p := doc.Paths["/tenants/{slug}/things/{id}/poke"]["post"]; p.RequestBody["required"] != false || p.RequestBody["content"] == nil {
		t.Errorf("an optional body: %v", p.RequestBody)
	}
	if _, err := OpenAPI([]Operation{del, del}); err == nil {
		t.Error("two operations on one method and path accepted")
	}
}
