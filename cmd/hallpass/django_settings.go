package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
)

// djangoPrefixes are the settings.py names a tenant's settings take
// (allauth's apps, and Hallpass's own).
var djangoPrefixes = []string{"ACCOUNT_", "SOCIALACCOUNT_", "MFA_", "HEADLESS_", "USERSESSIONS_", "HALLPASS_"}

// pythonOnly are allauth settings that name Python code (adapters, forms,
// classes): Hallpass has nothing to load them into.
var pythonOnly = []string{"_ADAPTER", "_FORMS", "_FORM_CLASS", "_CLASS", "_CLASSES", "_FUNCTION", "_CALLABLE"}

// fromDjangoSettings turns a dump of a Django project's settings (a JSON
// object, docs/MIGRATION.md step 1) into a tenant settings document: it
// keeps the keys of allauth's apps and drops, and names, the others and
// those naming Python code (or holding a Python object's repr, as
// json.dumps(default=str) writes one). The tenant's settings parser then
// refuses, by name, what is left that it does not know.
func fromDjangoSettings(raw []byte) (doc []byte, dropped []string, err error) {
	var in map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil || in == nil {
		return nil, nil, errors.New("--from-django-settings: the file must hold one JSON object of settings.py names and values")
	}
	out := map[string]json.RawMessage{}
	for k, v := range in {
		keep := slices.ContainsFunc(djangoPrefixes, func(p string) bool { return strings.HasPrefix(k, p) }) &&
			(strings.HasPrefix(k, "HALLPASS_") || !slices.ContainsFunc(pythonOnly, func(s string) bool { return strings.HasSuffix(k, s) }))
		var s string
		if keep && json.Unmarshal(v, &s) == nil && strings.HasPrefix(s, "<") && strings.HasSuffix(s, ">") {
			keep = false // a Python object's repr
		}
		if keep {
			out[k] = v
		} else {
			dropped = append(dropped, k)
		}
	}
	slices.Sort(dropped)
	doc, err = json.Marshal(out)
	return doc, dropped, err
}
