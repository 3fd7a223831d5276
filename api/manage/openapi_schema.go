package manage

import (
	"encoding"
	"encoding/json"
	"fmt"
	"path"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Schema is a JSON Schema (draft 2020-12, the dialect OpenAPI 3.1 uses),
// as the document serialises it.
type Schema = map[string]any

// schemaReflector turns Go types into JSON Schemas the way encoding/json
// writes and (strictly, as decodeBody does) reads them. Named structs
// become components (#/components/schemas/Name) referenced from where they
// are used; everything else is inlined.
//
// The rules: a field's name is its json tag's; omitempty or omitzero makes
// it optional, every other field is required (encoding/json always writes
// it); a pointer may be null; time.Time is a date-time string, uuid.UUID a
// uuid string, any other TextMarshaler a string; json.RawMessage and
// interfaces are any JSON value; a slice is an array ([]byte: base64) and a
// map an object of its element. Objects have additionalProperties false:
// bodies with unknown fields are refused, and answers carry exactly the
// fields documented. A `doc:"…"` struct tag becomes the field's
// description.
type schemaReflector struct {
	defs  map[string]Schema
	names map[reflect.Type]string
}

func newSchemaReflector() *schemaReflector {
	return &schemaReflector{defs: map[string]Schema{}, names: map[reflect.Type]string{}}
}

var (
	timeType        = reflect.TypeFor[time.Time]()
	uuidType        = reflect.TypeFor[uuid.UUID]()
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	marshalerType   = reflect.TypeFor[json.Marshaler]()
	textMarshalType = reflect.TypeFor[encoding.TextMarshaler]()
)

// of returns the schema of v's type (v a zero value, or a reflect.Type).
func (r *schemaReflector) of(v any) Schema {
	t, ok := v.(reflect.Type)
	if !ok {
		t = reflect.TypeOf(v)
	}
	if t == nil {
		return Schema{}
	}
	return r.schema(t)
}

func (r *schemaReflector) schema(t reflect.Type) Schema {
	switch t {
	case timeType:
		return Schema{"type": "string", "format": "date-time"}
	case uuidType:
		return Schema{"type": "string", "format": "uuid"}
	case rawMessageType:
		return Schema{}
	}
	if t.Kind() == reflect.Pointer {
		return nullable(r.schema(t.Elem()))
	}
	if t.Implements(marshalerType) || reflect.PointerTo(t).Implements(marshalerType) {
		// Its JSON is its own business: document it as any value rather
		// than guess.
		return Schema{"description": "Any JSON value."}
	}
	if t.Implements(textMarshalType) || reflect.PointerTo(t).Implements(textMarshalType) {
		return Schema{"type": "string"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return Schema{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return Schema{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return Schema{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		return Schema{"type": "number"}
	case reflect.String:
		return Schema{"type": "string"}
	case reflect.Interface:
		return Schema{}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return Schema{"type": "string", "contentEncoding": "base64"}
		}
		s := Schema{"type": "array", "items": r.schema(t.Elem())}
		if t.Kind() == reflect.Array {
			s["minItems"], s["maxItems"] = t.Len(), t.Len()
		}
		return s
	case reflect.Map:
		return Schema{"type": "object", "additionalProperties": r.schema(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return r.object(t)
		}
		return Schema{"$ref": "#/components/schemas/" + r.component(t)}
	}
	panic(fmt.Sprintf("manage: no JSON schema for %s (%s)", t, t.Kind()))
}

// component names t's schema among the components, reflecting it the
// first time.
func (r *schemaReflector) component(t reflect.Type) string {
	if name, ok := r.names[t]; ok {
		return name
	}
	name := componentName(t)
	if _, taken := r.defs[name]; taken {
		name = path.Base(t.PkgPath()) + "." + name
	}
	r.names[t] = name
	r.defs[name] = Schema{} // placeholder: recursive types refer to it
	r.defs[name] = r.object(t)
	return name
}

var genericArgs = regexp.MustCompile(`[A-Za-z0-9_./-]+\.`)

// componentName is t's name with package paths dropped from type
// arguments and brackets flattened: Page[manage.TenantOut] is
// Page_TenantOut (component names are [A-Za-z0-9._-]).
func componentName(t reflect.Type) string {
	name := genericArgs.ReplaceAllString(t.Name(), "")
	return strings.Trim(strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-':
			return r
		}
		return '_'
	}, name), "_")
}

// object is a struct's schema: its fields (embedded structs' promoted as
// encoding/json does), required unless omitempty.
func (r *schemaReflector) object(t reflect.Type) Schema {
	props := Schema{}
	var order, required []string
	r.fields(t, props, &order, &required)
	s := Schema{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	if len(order) > 0 {
		s["x-order"] = order
	}
	return s
}

func (r *schemaReflector) fields(t reflect.Type, props Schema, order, required *[]string) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				r.fields(ft, props, order, required)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		var s Schema
		if hasOpt(opts, "string") && isScalar(ft) {
			s = Schema{"type": "string"}
			if ft.Kind() == reflect.Pointer {
				s = nullable(s)
			}
		} else {
			s = r.schema(ft)
		}
		if doc := f.Tag.Get("doc"); doc != "" {
			s = describe(s, doc)
		}
		if _, dup := props[name]; !dup {
			*order = append(*order, name)
		}
		props[name] = s
		if !hasOpt(opts, "omitempty") && !hasOpt(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
}

func hasOpt(opts, want string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == want {
			return true
		}
	}
	return false
}

func isScalar(t reflect.Type) bool {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool, reflect.String, reflect.Float32, reflect.Float64,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return true
	}
	return false
}

// nullable lets s also be null.
func nullable(s Schema) Schema {
	if typ, ok := s["type"].(string); ok {
		out := Schema{}
		for k, v := range s {
			out[k] = v
		}
		out["type"] = []string{typ, "null"}
		return out
	}
	if len(s) == 0 || (len(s) == 1 && s["description"] != nil) {
		return s // any value already includes null
	}
	return Schema{"anyOf": []Schema{s, {"type": "null"}}}
}

// describe adds a description to a copy of s (in 2020-12 a $ref may have
// siblings).
func describe(s Schema, doc string) Schema {
	out := Schema{}
	for k, v := range s {
		out[k] = v
	}
	out["description"] = doc
	return out
}
