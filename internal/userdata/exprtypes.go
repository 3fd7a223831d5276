package userdata

import (
	"slices"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/types"
)

// What an expression setting's keys return, as type-checking knows it: the
// tenant's OpenAPI document describes the serializer's keys with it.

// Keys lists the output keys, sorted.
func (e *Exprs) Keys() []string {
	if e == nil {
		return nil
	}
	return slices.Clone(e.keys)
}

// JSONType is the JSON Schema type ("string", "boolean", "integer",
// "number", "array", "object") of a key's results, as type-checking
// determined it; "" when it is dynamic (read from metadata, or null in one
// branch) or the key is not there.
func (e *Exprs) JSONType(key string) string {
	if e == nil {
		return ""
	}
	if i, ok := slices.BinarySearch(e.keys, key); ok && i < len(e.jsonTypes) {
		return e.jsonTypes[i]
	}
	return ""
}

// jsonSchemaType maps a checked CEL type to the JSON Schema type of its
// results as toJSON renders them.
func jsonSchemaType(t *cel.Type) string {
	if t == nil {
		return ""
	}
	switch t.Kind() {
	case types.BoolKind:
		return "boolean"
	case types.IntKind, types.UintKind:
		return "integer"
	case types.DoubleKind:
		return "number"
	case types.StringKind, types.BytesKind, types.TimestampKind, types.DurationKind:
		return "string"
	case types.ListKind:
		return "array"
	case types.MapKind:
		return "object"
	}
	return ""
}
