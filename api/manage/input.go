package manage

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
)

// Page sizes: a list answers DefaultPageSize items unless ?limit= asks for
// up to MaxPageSize.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// decodeBody reads the request's JSON body into dst strictly: the body must
// be one JSON object of dst's shape, with no unknown fields and nothing
// after it. A missing or non-JSON content type is 415; malformed JSON is
// 400; an unknown field or a value of the wrong type is 422 naming it.
func decodeBody(c *fiber.Ctx, dst any) error {
	ct := c.Get(fiber.HeaderContentType)
	if mt, _, err := mime.ParseMediaType(ct); err != nil || (mt != fiber.MIMEApplicationJSON && !strings.HasSuffix(mt, "+json")) {
		return &Error{Status: fiber.StatusUnsupportedMediaType, Code: "unsupported_media_type", Detail: "The body must be JSON (Content-Type: application/json)."}
	}
	dec := json.NewDecoder(bytes.NewReader(api.RawBody(c)))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(dst); err != nil {
		return bodyError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return BadRequest("malformed_json", "The body holds more than one JSON value.")
	}
	return nil
}

// bodyError says what is wrong with a body json refused.
func bodyError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &syntax):
		return BadRequest("malformed_json", "The body is not valid JSON.")
	case errors.As(err, &typ):
		field := "/" + strings.ReplaceAll(typ.Field, ".", "/")
		if typ.Field == "" {
			field = ""
		}
		return Invalid("A value has the wrong type.", FieldError{Field: field, Code: "invalid_type",
			Message: fmt.Sprintf("expected %s, got JSON %s", typ.Type.Kind(), typ.Value)})
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		name = strings.Trim(name, `"`)
		return Invalid("The body has a field this operation does not take.", FieldError{Field: "/" + name, Code: "unknown_field",
			Message: fmt.Sprintf("unknown field %q", name)})
	}
	return BadRequest("malformed_json", "The body is not valid JSON.")
}

// pageSize reads ?limit=: DefaultPageSize when absent; 1..MaxPageSize, else 422.
func pageSize(c *fiber.Ctx) (int, error) {
	raw := c.Query("limit")
	if raw == "" {
		return DefaultPageSize, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > MaxPageSize {
		return 0, Invalid("The page size is out of range.", FieldError{Field: "limit", Code: "out_of_range",
			Message: fmt.Sprintf("limit must be an integer from 1 to %d", MaxPageSize)})
	}
	return n, nil
}

// Cursors are opaque to clients: a JSON position, signed so that a client
// can neither forge one nor move it to another list. The signature binds
// the list's scope (the operation and tenant), so a cursor of tenant A's
// users is refused on tenant B's.
type cursors struct{ key []byte }

// encode signs position (any JSON value) for scope.
func (cs cursors) encode(scope string, position any) (string, error) {
	raw, err := json.Marshal(position)
	if err != nil {
		return "", err
	}
	body := base64.RawURLEncoding.EncodeToString(raw)
	return body + "." + base64.RawURLEncoding.EncodeToString(cs.sign(scope, body)), nil
}

// decode verifies a cursor for scope and reads its position into dst; a
// tampered, foreign or malformed cursor is 400 invalid_cursor.
func (cs cursors) decode(scope, cursor string, dst any) error {
	bad := &Error{Status: fiber.StatusBadRequest, Code: "invalid_cursor", Detail: "The cursor is not one this list gave out.",
		Fields: []FieldError{{Field: "cursor", Code: "invalid_cursor", Message: "pass back next_cursor as it was given"}}}
	body, sig, ok := strings.Cut(cursor, ".")
	if !ok || len(cursor) > 2048 {
		return bad
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, cs.sign(scope, body)) {
		return bad
	}
	raw, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil || json.Unmarshal(raw, dst) != nil {
		return bad
	}
	return nil
}

func (cs cursors) sign(scope, body string) []byte {
	mac := hmac.New(sha256.New, cs.key)
	mac.Write([]byte(scope))
	mac.Write([]byte{0})
	mac.Write([]byte(body))
	return mac.Sum(nil)
}

// Page is a list answer: the items and, when there are more, the cursor
// that continues it (?cursor=).
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}
