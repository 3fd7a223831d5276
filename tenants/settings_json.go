package tenants

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hallpass/hallpass/internal/pgtext"
)

// maxSettingsDepth bounds nesting; real settings are at most five levels
// deep (SOCIALACCOUNT_PROVIDERS → provider → APPS → app → settings → value).
const maxSettingsDepth = 32

// decodeSettingsDocument decodes doc into plain JSON values (numbers as
// json.Number) and rejects what encoding/json would silently accept:
// duplicate keys at any depth, which would make the effective value depend
// on the parser, and anything after the object.
func decodeSettingsDocument(doc []byte) (map[string]any, *SettingsError) {
	if len(bytes.TrimSpace(doc)) == 0 {
		return nil, &SettingsError{Reason: "settings must be a JSON object, got an empty document"}
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := readJSONValue(dec, "", 0)
	if err != nil {
		return nil, &SettingsError{Reason: jsonProblem(err, dec)}
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &SettingsError{Reason: "settings must be a JSON object, not " + describeJSON(v)}
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &SettingsError{Reason: fmt.Sprintf("unexpected data after the settings object (at byte %d)", dec.InputOffset())}
	}
	if err := storableText(doc, m); err != nil {
		return nil, err
	}
	return m, nil
}

// storableText refuses a document jsonb cannot hold as written: a NUL in a
// string, or invalid UTF-8 (which the decoder would quietly turn into
// U+FFFD, so the stored value would not be the one given).
func storableText(raw []byte, doc map[string]any) *SettingsError {
	if !utf8.Valid(raw) || !pgtext.ValidJSON(doc) {
		return &SettingsError{Reason: "settings must be UTF-8 text without NUL characters"}
	}
	return nil
}

// jsonProblem words a decoding error without quoting the input, which may
// hold a secret.
func jsonProblem(err error, dec *json.Decoder) string {
	var structural *jsonStructureError
	if errors.As(err, &structural) {
		return structural.msg
	}
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return fmt.Sprintf("settings are not valid JSON (at byte %d)", syntax.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "settings are not valid JSON (unexpected end)"
	}
	return fmt.Sprintf("settings are not valid JSON (at byte %d)", dec.InputOffset())
}

type jsonStructureError struct{ msg string }

func (e *jsonStructureError) Error() string { return e.msg }

func readJSONValue(dec *json.Decoder, path string, depth int) (any, error) {
	if depth > maxSettingsDepth {
		return nil, &jsonStructureError{"settings are nested too deeply"}
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	delim, ok := tok.(json.Delim)
	if !ok {
		return tok, nil // string, json.Number, bool or nil
	}
	switch delim {
	case '{':
		m := map[string]any{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			k, _ := kt.(string)
			child := joinPath(path, k)
			if _, dup := m[k]; dup {
				return nil, &jsonStructureError{fmt.Sprintf("duplicate key %q", child)}
			}
			if m[k], err = readJSONValue(dec, child, depth+1); err != nil {
				return nil, err
			}
		}
		if _, err := dec.Token(); err != nil { // '}'
			return nil, err
		}
		return m, nil
	case '[':
		l := []any{}
		for dec.More() {
			v, err := readJSONValue(dec, path+"["+strconv.Itoa(len(l))+"]", depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		if _, err := dec.Token(); err != nil { // ']'
			return nil, err
		}
		return l, nil
	}
	return nil, &jsonStructureError{"settings are not valid JSON"}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describeJSON names a decoded value's JSON type for error messages.
func describeJSON(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, int, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func typeError(want string, v any) error {
	return fmt.Errorf("must be %s, not %s", want, describeJSON(v))
}

func asBool(v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, typeError("true or false", v)
	}
	return b, nil
}

func asString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", typeError("a string", v)
	}
	return s, nil
}

// asInt accepts JSON integers only: allauth's integer settings would break
// on 1.5 in Python, and 1e3 is more likely a typo than intent.
func asInt(v any) (int, error) {
	switch n := v.(type) {
	case json.Number:
		i, err := strconv.ParseInt(n.String(), 10, 64)
		if err != nil {
			if strings.ContainsAny(n.String(), ".eE") {
				return 0, errors.New("must be a whole number")
			}
			return 0, errors.New("is out of range")
		}
		if i > math.MaxInt32 || i < math.MinInt32 {
			return 0, errors.New("is out of range")
		}
		return int(i), nil
	case int:
		return n, nil
	}
	return 0, typeError("a whole number", v)
}

func asMinInt(v any, lo int) (int, error) {
	n, err := asInt(v)
	if err != nil {
		return 0, err
	}
	if n < lo {
		return 0, fmt.Errorf("must be at least %d, not %d", lo, n)
	}
	return n, nil
}

func asObject(v any) (map[string]any, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, typeError("an object", v)
	}
	return m, nil
}

// asStrings decodes a list of strings; the result is never nil.
func asStrings(v any) ([]string, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, typeError("a list of strings", v)
	}
	out := make([]string, 0, len(l))
	for i, x := range l {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("item %d must be a string, not %s", i, describeJSON(x))
		}
		out = append(out, s)
	}
	return out, nil
}

// asStringSet decodes a list of distinct strings drawn from allowed, keeping
// the given order. Duplicates are rejected rather than dropped: in a Python
// tuple they would be kept, in a set dropped, and either reading of the
// customer's intent could be wrong.
func asStringSet(v any, allowed ...string) ([]string, error) {
	l, err := asStrings(v)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(l))
	for _, s := range l {
		if !slices.Contains(allowed, s) {
			return nil, fmt.Errorf("unknown value %q (allowed: %s)", s, quoteList(allowed))
		}
		if seen[s] {
			return nil, fmt.Errorf("lists %q twice", s)
		}
		seen[s] = true
	}
	return l, nil
}

func asEnum(v any, allowed ...string) (string, error) {
	s, err := asString(v)
	if err != nil {
		return "", err
	}
	if !slices.Contains(allowed, s) {
		return "", fmt.Errorf("must be one of %s, not %q", quoteList(allowed), s)
	}
	return s, nil
}

// asNullableString maps JSON null (Python None) to "".
func asNullableString(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", typeError("a string or null", v)
	}
	return s, nil
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// cloneStrings copies a list so that Document's output and the Settings
// never share backing arrays; the result is never nil.
func cloneStrings(l []string) []string {
	return append(make([]string, 0, len(l)), l...)
}

// cloneJSON deep-copies a decoded JSON value.
func cloneJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = cloneJSON(x)
		}
		return m
	case []any:
		l := make([]any, len(t))
		for i, x := range t {
			l[i] = cloneJSON(x)
		}
		return l
	}
	return v
}
