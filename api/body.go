package api

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// Body is a request's JSON object; an empty body is {} as in allauth.
type Body map[string]json.RawMessage

// RawBody is the request body as it came: never decompressed. Fiber's
// c.Body() inflates a body sent with Content-Encoding (gzip, deflate, br)
// with no bound — a 1 MiB upload can become gigabytes — and Django, whose
// behaviour the API reproduces, does not decode request bodies either: a
// compressed body is bytes that are not JSON.
func RawBody(c *fiber.Ctx) []byte { return c.Request().Body() }

// ParseBody decodes the request body, which must be a JSON object.
func ParseBody(c *fiber.Ctx) (Body, error) {
	raw := bytes.TrimSpace(RawBody(c))
	if len(raw) == 0 {
		return Body{}, nil
	}
	var b Body
	if err := json.Unmarshal(raw, &b); err != nil || b == nil {
		return nil, FormError("invalid", "Invalid JSON body: expected an object.")
	}
	return b, nil
}

// Values decodes the named fields as they were sent (numbers as
// json.Number), for the checks of internal/userdata; an absent field is
// absent from the result, which is nil when none is there.
func (b Body) Values(names []string) map[string]any {
	var out map[string]any
	for _, name := range names {
		raw, ok := b[name]
		if !ok {
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var v any
		if dec.Decode(&v) != nil {
			continue // cannot happen: the body decoded
		}
		if out == nil {
			out = map[string]any{}
		}
		out[name] = v
	}
	return out
}

// Str reads a string field: absent (or JSON null) → present=false; another
// type, or a string with a NUL character (Django's
// ProhibitNullCharactersValidator; Postgres refuses them too), is an error
// on the field.
func (b Body) Str(name string) (value string, present bool, err *ErrorItem) {
	raw, ok := b[name]
	if !ok || string(raw) == "null" {
		return "", false, nil
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", true, &ErrorItem{Param: name, Code: "invalid", Message: "Enter a valid value."}
	}
	if strings.ContainsRune(s, 0) {
		return "", true, &ErrorItem{Param: name, Code: "null_characters_not_allowed", Message: "Null characters are not allowed."}
	}
	return s, true, nil
}
