package console

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hallpass/hallpass/tenants"
)

func changedCount(diff []DiffLine) string {
	switch len(diff) {
	case 0:
		return "no effective value changed"
	case 1:
		return "1 setting changed"
	}
	return fmt.Sprintf("%d settings changed", len(diff))
}

// diffDocs lists the keys whose value differs between two effective
// documents, redacting secrets (a changed secret shows as changed).
func diffDocs(before, after map[string]any) []DiffLine {
	return diffMaps(before, after, "(not set)")
}

// diffOverrides lists the keys whose override differs; an absent key means
// allauth's default.
func diffOverrides(before, after map[string]any) []DiffLine {
	return diffMaps(before, after, "(default)")
}

func diffMaps(before, after map[string]any, absent string) []DiffLine {
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	var out []DiffLine
	for _, k := range sortedKeys(keys) {
		b, inB := before[k]
		a, inA := after[k]
		if inA == inB && canonical(a) == canonical(b) {
			continue
		}
		line := DiffLine{Key: k, Before: absent, After: absent}
		rb := tenants.RedactSecrets(map[string]any{k: b})[k]
		ra := tenants.RedactSecrets(map[string]any{k: a})[k]
		if inB {
			line.Before = pretty(rb)
		}
		if inA {
			line.After = pretty(ra)
		}
		if inA && inB && line.Before == line.After {
			line.After += "  (secret changed)"
		}
		out = append(out, line)
	}
	return out
}

// restoreRedacted replaces every "<redacted>" string of a pasted document
// with the value at the same place in current, so that a document copied
// from this page validates as it will be stored.
func restoreRedacted(doc []byte, current map[string]any) []byte {
	if !bytes.Contains(doc, []byte(tenants.Redacted)) && !bytes.Contains(doc, []byte(`\u003credacted\u003e`)) {
		return doc
	}
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return doc
	}
	var walk func(v, cur any) any
	walk = func(v, cur any) any {
		switch t := v.(type) {
		case string:
			if s, ok := cur.(string); ok && t == tenants.Redacted {
				return s
			}
		case map[string]any:
			cm, _ := cur.(map[string]any)
			for k, x := range t {
				t[k] = walk(x, cm[k])
			}
		case []any:
			cl, _ := cur.([]any)
			for i, x := range t {
				var c any
				if i < len(cl) {
					c = cl[i]
				}
				t[i] = walk(x, c)
			}
		}
		return v
	}
	out, err := json.Marshal(walk(v, any(current)))
	if err != nil {
		return doc
	}
	return out
}

func decodeJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errors.New("is not valid JSON (write strings in double quotes, e.g. \"value\", and null for None)")
	}
	if dec.More() {
		return nil, errors.New("holds more than one JSON value")
	}
	return v, nil
}

func decodeLoose(s string) any {
	v, err := decodeJSON(s)
	if err != nil {
		return s
	}
	return v
}

func compactJSON(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSpace(buf.String())
}

func asList(v any) []any {
	switch l := v.(type) {
	case []any:
		return l
	case []string:
		out := make([]any, len(l))
		for i, s := range l {
			out[i] = s
		}
		return out
	}
	return nil
}

func sameSet(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]bool{}
	for _, x := range b {
		seen[canonical(x)] = true
	}
	for _, x := range a {
		if !seen[canonical(x)] {
			return false
		}
	}
	return true
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func secretPlaceholder(set bool) string {
	if set {
		return "•••••• (set; paste a new value to replace it)"
	}
	return "not set"
}

func jsonRows(s string) int {
	return max(1, min(16, strings.Count(s, "\n")+1))
}
