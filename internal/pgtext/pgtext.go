// Package pgtext makes untrusted strings storable in Postgres. A text column
// refuses invalid UTF-8 and NUL, and jsonb refuses "\u0000" as well: a
// header, a form field or a provider's answer carrying one would otherwise
// fail its INSERT, a 500 an attacker can cause at will. Everything Hallpass
// stores from outside (User-Agent, client IP, audit details, names, provider
// data, error texts of remote servers) goes through Clean or CleanJSON.
package pgtext

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Valid reports whether Postgres text can hold s as it is: valid UTF-8
// without NUL. Inputs that carry meaning (names, settings, identifiers) are
// refused when not Valid rather than cleaned, so that two different inputs
// never become the same stored value.
func Valid(s string) bool { return !needsCleaning(s) }

// ValidJSON reports whether every string in v (as CleanJSON walks it, map
// keys included) is Valid.
func ValidJSON(v any) bool { return !jsonNeedsCleaning(v) }

// Marshal encodes v as JSON that jsonb accepts: encoding/json already
// replaces invalid UTF-8 with U+FFFD, and a NUL (which it writes as \u0000,
// refused by jsonb) is removed from every string. Any value json.Marshal
// takes is accepted.
func Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(b, []byte(`\u0000`)) {
		return b, nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, fmt.Errorf("pgtext: re-decode: %w", err)
	}
	return json.Marshal(CleanJSON(generic))
}

// Clean returns s as Postgres text can hold it: invalid UTF-8 replaced by
// U+FFFD, NUL removed, and at most max bytes, cut on a character boundary
// (max <= 0: no limit). A valid string within the limit is returned as is,
// without allocating.
func Clean(s string, max int) string {
	if !needsCleaning(s) {
		if max > 0 && len(s) > max {
			return cut(s, max)
		}
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if max > 0 && len(s) > max {
		return cut(s, max)
	}
	return s
}

// needsCleaning reports whether s holds invalid UTF-8 or a NUL.
func needsCleaning(s string) bool {
	return !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0
}

// cut truncates valid UTF-8 s to at most max bytes without splitting a
// character.
func cut(s string, max int) string {
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max]
}

// CleanJSON returns v, a value decoded from or meant for JSON (maps, slices,
// strings, numbers, booleans, nil), with every string in it, map keys
// included, cleaned as Clean(s, 0), so that it can be stored as jsonb. Values
// that need no change are returned as they are; a changed map or slice is a
// copy, the input is never modified.
func CleanJSON(v any) any {
	switch x := v.(type) {
	case string:
		return Clean(x, 0)
	case map[string]any:
		if !jsonNeedsCleaning(x) {
			return x
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[Clean(k, 0)] = CleanJSON(e)
		}
		return out
	case []any:
		if !jsonNeedsCleaning(x) {
			return x
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = CleanJSON(e)
		}
		return out
	case []string:
		if !jsonNeedsCleaning(x) {
			return x
		}
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = Clean(e, 0)
		}
		return out
	}
	return v
}

// CleanMap is CleanJSON for the common case of a JSON object.
func CleanMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return CleanJSON(m).(map[string]any)
}

// jsonNeedsCleaning reports whether any string inside v needs Clean.
func jsonNeedsCleaning(v any) bool {
	switch x := v.(type) {
	case string:
		return needsCleaning(x)
	case map[string]any:
		for k, e := range x {
			if needsCleaning(k) || jsonNeedsCleaning(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if jsonNeedsCleaning(e) {
				return true
			}
		}
	case []string:
		for _, e := range x {
			if needsCleaning(e) {
				return true
			}
		}
	}
	return false
}
