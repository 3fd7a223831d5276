package openapi

import (
	"fmt"
	"slices"

	"github.com/getkin/kin-openapi/openapi3"
)

// componentSchemaRef returns components.schemas[name].
func componentSchemaRef(doc *openapi3.T, name string) (*openapi3.SchemaRef, error) {
	if doc.Components == nil {
		return nil, fmt.Errorf("no components")
	}
	ref := doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		return nil, fmt.Errorf("no schema %s", name)
	}
	return &openapi3.SchemaRef{Ref: "#/components/schemas/" + name, Value: ref.Value}, nil
}

// componentSchema returns the value of components.schemas[name].
func componentSchema(doc *openapi3.T, name string) (*openapi3.Schema, error) {
	ref, err := componentSchemaRef(doc, name)
	if err != nil {
		return nil, err
	}
	return ref.Value, nil
}

// property returns the schema of property prop of component schema name.
func property(doc *openapi3.T, name, prop string) (*openapi3.Schema, error) {
	s, err := componentSchema(doc, name)
	if err != nil {
		return nil, err
	}
	p := s.Properties[prop]
	if p == nil || p.Value == nil {
		return nil, fmt.Errorf("schema %s has no property %s", name, prop)
	}
	return p.Value, nil
}

// addProperty defines a property the spec does not have.
func addProperty(s *openapi3.Schema, name string, ref *openapi3.SchemaRef) error {
	if s.Properties[name] != nil {
		return fmt.Errorf("property %s already defined", name)
	}
	if s.Properties == nil {
		s.Properties = openapi3.Schemas{}
	}
	s.Properties[name] = ref
	return nil
}

// extendEnum appends the values an enum lacks.
func extendEnum(s *openapi3.Schema, values ...string) error {
	if len(s.Enum) == 0 {
		return fmt.Errorf("schema has no enum")
	}
	for _, v := range values {
		if !slices.Contains(s.Enum, any(v)) {
			s.Enum = append(s.Enum, v)
		}
	}
	return nil
}

// operation returns the operation for method on path.
func operation(doc *openapi3.T, path, method string) (*openapi3.Operation, error) {
	item := doc.Paths.Value(path)
	if item == nil {
		return nil, fmt.Errorf("no path %s", path)
	}
	op := item.GetOperation(method)
	if op == nil || op.Responses == nil {
		return nil, fmt.Errorf("no %s %s", method, path)
	}
	return op, nil
}

// addResponse documents status for an operation, as components.responses[name].
func addResponse(doc *openapi3.T, path, method, status, name string) error {
	op, err := operation(doc, path, method)
	if err != nil {
		return err
	}
	if op.Responses.Value(status) != nil {
		return fmt.Errorf("%s %s already documents %s", method, path, status)
	}
	resp := doc.Components.Responses[name]
	if resp == nil || resp.Value == nil {
		return fmt.Errorf("no response %s", name)
	}
	op.Responses.Set(status, &openapi3.ResponseRef{Ref: "#/components/responses/" + name, Value: resp.Value})
	return nil
}

// jsonSchema returns the application/json body schema of an operation's
// response for status.
func jsonSchema(op *openapi3.Operation, status string) (*openapi3.Schema, error) {
	resp := op.Responses.Value(status)
	if resp == nil || resp.Value == nil {
		return nil, fmt.Errorf("no %s response", status)
	}
	mt := resp.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return nil, fmt.Errorf("%s response has no JSON schema", status)
	}
	return mt.Schema.Value, nil
}
