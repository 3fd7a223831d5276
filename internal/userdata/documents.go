package userdata

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Document names, as they appear in inputs and errors.
const (
	Profile         = "profile"
	PublicMetadata  = "public_metadata"
	PrivateMetadata = "private_metadata"
)

// ParseDocument reads a metadata document (public_metadata or
// private_metadata, named by name): a JSON object of at most
// MaxDocumentBytes as compact JSON and at most maxDepth levels deep. The
// error is a *FieldError whose Param is name.
func ParseDocument(name string, raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
		return nil, &FieldError{name, "invalid", "Must be a JSON object."}
	}
	return m, CheckDocument(name, m)
}

// CheckDocument bounds an already decoded document's size and depth.
func CheckDocument(name string, m map[string]any) error {
	if depth(m, 0) > maxDepth {
		return &FieldError{name, "invalid", fmt.Sprintf("Must nest at most %d levels.", maxDepth)}
	}
	if hasNUL(m) {
		// Postgres's jsonb cannot store U+0000, in a key or a value.
		return &FieldError{name, "null_characters_not_allowed", "Null characters are not allowed."}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return &FieldError{name, "invalid", "Must be a JSON object."}
	}
	if len(b) > MaxDocumentBytes {
		return &FieldError{name, "max_length", fmt.Sprintf("Must be at most %d bytes as JSON (is %d).", MaxDocumentBytes, len(b))}
	}
	return nil
}

func depth(v any, d int) int {
	if d > maxDepth {
		return d
	}
	max := d
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			if n := depth(e, d+1); n > max {
				max = n
			}
		}
	case []any:
		for _, e := range x {
			if n := depth(e, d+1); n > max {
				max = n
			}
		}
	}
	return max
}

func hasNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.ContainsRune(x, 0)
	case map[string]any:
		for k, e := range x {
			if strings.ContainsRune(k, 0) || hasNUL(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasNUL(e) {
				return true
			}
		}
	}
	return false
}

// celValue converts a decoded JSON value for CEL: a whole number within
// ±2^53 becomes an int, any other number a double, so that
// `user.public_metadata.level == 2` and `user.profile.age + 1` work.
func celValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return celValue(f)
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
		return x
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = celValue(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = celValue(e)
		}
		return out
	}
	return v
}
