// Package userdata is what a tenant adds to its users: declared profile
// fields (HALLPASS_USER_FIELDS), public and private metadata, and the CEL
// expressions that serialize a user (HALLPASS_USER_SERIALIZER) and add
// claims to access tokens (HALLPASS_JWT_CLAIMS). It is pure: no storage,
// no HTTP; identity stores the values and the API slices show them.
package userdata

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Field types a tenant can declare.
const (
	TypeString  = "string"
	TypeBoolean = "boolean"
	TypeInteger = "integer"
	TypeDate    = "date"
	TypeChoice  = "choice"
)

// Limits on what a tenant declares and what a user stores.
const (
	// MaxFields is the most fields HALLPASS_USER_FIELDS may declare.
	MaxFields = 50
	// MaxChoices is the most choices one choice field may list.
	MaxChoices = 100
	// DefaultMaxLength bounds a string field that declares no max_length.
	DefaultMaxLength = 255
	// MaxFieldLength is the largest max_length a field may declare.
	MaxFieldLength = 4096
	// MaxDocumentBytes bounds each of profile, public_metadata and
	// private_metadata, as compact JSON.
	MaxDocumentBytes = 8192
	// maxDepth bounds the nesting of a metadata document.
	maxDepth = 10
)

var fieldNamePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// ReservedNames are the keys a declared field (which signup reads from the
// same body as allauth's own inputs) and a serializer output (merged into
// allauth's user object) may not take.
var ReservedNames = []string{
	"id", "display", "email", "username", "has_usable_password",
	"email2", "password", "password1", "password2", "phone", "code", "key",
	"token", "provider", "process", "callback_url", "profile",
	"public_metadata", "private_metadata",
}

// Field is one declared profile field.
type Field struct {
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Required     bool     `json:"required"`
	MaxLength    int      `json:"max_length,omitempty"`
	Choices      []string `json:"choices,omitempty"`
	Signup       bool     `json:"signup"`
	UserEditable bool     `json:"user_editable"`
}

// Fields is a tenant's declared fields, in declaration order.
type Fields []Field

// Lookup returns the field named name.
func (fs Fields) Lookup(name string) (Field, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// Signup returns the fields signup accepts.
func (fs Fields) Signup() Fields {
	var out Fields
	for _, f := range fs {
		if f.Signup {
			out = append(out, f)
		}
	}
	return out
}

// Names lists the fields' names, in declaration order.
func (fs Fields) Names() []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Name
	}
	return out
}

// ParseFields reads HALLPASS_USER_FIELDS from its JSON-decoded form (a list
// of objects; numbers as json.Number or float64). The error names the entry.
func ParseFields(v any) (Fields, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("must be a list of field objects")
	}
	if len(list) > MaxFields {
		return nil, fmt.Errorf("at most %d fields", MaxFields)
	}
	out := make(Fields, 0, len(list))
	for i, item := range list {
		f, err := parseField(item)
		if err != nil {
			return nil, fmt.Errorf("field %d: %w", i, err)
		}
		if _, dup := out.Lookup(f.Name); dup {
			return nil, fmt.Errorf("field %d: %q is declared twice", i, f.Name)
		}
		out = append(out, f)
	}
	return out, nil
}

func parseField(item any) (Field, error) {
	m, ok := item.(map[string]any)
	if !ok {
		return Field{}, fmt.Errorf("must be an object")
	}
	var f Field
	for k, v := range m {
		var err error
		switch k {
		case "name":
			f.Name, err = stringValue(v)
		case "type":
			f.Type, err = stringValue(v)
		case "required":
			f.Required, err = boolValue(v)
		case "signup":
			f.Signup, err = boolValue(v)
		case "user_editable":
			f.UserEditable, err = boolValue(v)
		case "max_length":
			var n int64
			n, err = intValue(v)
			if err == nil && (n < 1 || n > MaxFieldLength) {
				err = fmt.Errorf("must be 1..%d", MaxFieldLength)
			}
			f.MaxLength = int(n)
		case "choices":
			f.Choices, err = stringList(v)
		default:
			return Field{}, fmt.Errorf("unknown key %q (known: name, type, required, max_length, choices, signup, user_editable)", k)
		}
		if err != nil {
			return Field{}, fmt.Errorf("%s: %w", k, err)
		}
	}
	return f, f.check()
}

func (f *Field) check() error {
	switch {
	case !fieldNamePattern.MatchString(f.Name):
		return fmt.Errorf("name %q: must match [a-z][a-z0-9_]{0,39}", f.Name)
	case slices.Contains(ReservedNames, f.Name):
		return fmt.Errorf("name %q: reserved (allauth's own user or signup key)", f.Name)
	}
	switch f.Type {
	case TypeString:
	case TypeChoice:
		if len(f.Choices) == 0 || len(f.Choices) > MaxChoices {
			return fmt.Errorf("%s: a choice field needs 1..%d choices", f.Name, MaxChoices)
		}
		seen := map[string]bool{}
		for _, c := range f.Choices {
			if c == "" || seen[c] || len(c) > DefaultMaxLength {
				return fmt.Errorf("%s: choices must be distinct non-empty strings of at most %d bytes", f.Name, DefaultMaxLength)
			}
			seen[c] = true
		}
	case TypeBoolean, TypeInteger, TypeDate:
	default:
		return fmt.Errorf("%s: type %q: must be one of string, boolean, integer, date, choice", f.Name, f.Type)
	}
	if f.Type != TypeChoice && f.Choices != nil {
		return fmt.Errorf("%s: choices are only for type choice", f.Name)
	}
	if f.Type != TypeString && f.MaxLength != 0 {
		return fmt.Errorf("%s: max_length is only for type string", f.Name)
	}
	if f.Type == TypeString && f.MaxLength == 0 {
		f.MaxLength = DefaultMaxLength
	}
	return nil
}

// Encode renders the fields in their settings form.
func (fs Fields) Encode() []any {
	out := make([]any, len(fs))
	for i, f := range fs {
		m := map[string]any{"name": f.Name, "type": f.Type, "required": f.Required, "signup": f.Signup, "user_editable": f.UserEditable}
		if f.MaxLength != 0 {
			m["max_length"] = f.MaxLength
		}
		if f.Choices != nil {
			m["choices"] = slices.Clone(f.Choices)
		}
		out[i] = m
	}
	return out
}

// FieldError is a value a field refused: Param is the field's name and
// Code one of Django's form error codes (required, invalid, max_length,
// invalid_choice) or not_editable / unknown.
type FieldError struct {
	Param   string
	Code    string
	Message string
}

func (e *FieldError) Error() string { return e.Param + ": " + e.Message }

// FieldErrors are every refused value of one input, sorted by Param.
type FieldErrors []*FieldError

func (es FieldErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap exposes the individual errors.
func (es FieldErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

// Value checks one input value (JSON-decoded; json.Number or float64 for
// numbers) against the field and returns it in its stored form: string,
// bool, int64, a "YYYY-MM-DD" string, or nil for "not given".
func (f Field) Value(v any) (any, *FieldError) {
	if v == nil || v == "" {
		if f.Required {
			return nil, &FieldError{f.Name, "required", "This field is required."}
		}
		return nil, nil
	}
	bad := &FieldError{f.Name, "invalid", "Enter a valid " + f.Type + "."}
	switch f.Type {
	case TypeString:
		s, ok := v.(string)
		if !ok || !utf8.ValidString(s) {
			return nil, bad
		}
		if strings.ContainsRune(s, 0) {
			// Django's ProhibitNullCharactersValidator; jsonb cannot hold one.
			return nil, &FieldError{f.Name, "null_characters_not_allowed", "Null characters are not allowed."}
		}
		if utf8.RuneCountInString(s) > f.MaxLength {
			return nil, &FieldError{f.Name, "max_length", fmt.Sprintf("Ensure this value has at most %d characters.", f.MaxLength)}
		}
		return s, nil
	case TypeChoice:
		s, ok := v.(string)
		if !ok || !slices.Contains(f.Choices, s) {
			return nil, &FieldError{f.Name, "invalid_choice", "Select a valid choice."}
		}
		return s, nil
	case TypeBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, bad
		}
		return b, nil
	case TypeInteger:
		n, err := intValue(v)
		if err != nil {
			return nil, bad
		}
		return n, nil
	case TypeDate:
		s, ok := v.(string)
		if !ok {
			return nil, bad
		}
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return nil, &FieldError{f.Name, "invalid", "Enter a valid date (YYYY-MM-DD)."}
		}
		return s, nil
	}
	return nil, bad
}

// Mode says which fields an input may set.
type Mode int

// The inputs that set profile fields.
const (
	// ModeSignup takes the signup fields from a signup body; other keys
	// are allauth's and are left alone; a required signup field must be there.
	ModeSignup Mode = iota
	// ModeUser is a user changing their own profile: only user_editable
	// fields, every key must be a declared field.
	ModeUser
	// ModeBackend is the tenant's backend or console: any declared field.
	ModeBackend
)

// Apply validates input against the fields for mode and returns profile
// with the changes applied (a new map; profile is not changed). A nil value
// removes a field (refused for a required one). Every problem is reported.
func (fs Fields) Apply(mode Mode, profile map[string]any, input map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(profile)+len(input))
	for k, v := range profile {
		out[k] = v
	}
	var errs FieldErrors
	if mode == ModeSignup {
		for _, f := range fs.Signup() {
			v, err := f.Value(input[f.Name])
			if err != nil {
				errs = append(errs, err)
				continue
			}
			setOrDelete(out, f.Name, v)
		}
	} else {
		for k, raw := range input {
			f, ok := fs.Lookup(k)
			switch {
			case !ok && raw == nil && mode == ModeBackend:
				// A field no longer declared can still be removed.
				delete(out, k)
				continue
			case !ok:
				errs = append(errs, &FieldError{k, "unknown", "Unknown field."})
				continue
			case mode == ModeUser && !f.UserEditable:
				errs = append(errs, &FieldError{k, "not_editable", "This field cannot be changed."})
				continue
			}
			v, err := f.Value(raw)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			setOrDelete(out, k, v)
		}
	}
	if len(errs) == 0 {
		if b, _ := json.Marshal(out); len(b) > MaxDocumentBytes {
			errs = append(errs, &FieldError{"profile", "max_length", fmt.Sprintf("The profile may hold at most %d bytes.", MaxDocumentBytes)})
		}
	}
	if len(errs) > 0 {
		sort.SliceStable(errs, func(i, j int) bool { return errs[i].Param < errs[j].Param })
		return nil, errs
	}
	return out, nil
}

func setOrDelete(m map[string]any, k string, v any) {
	if v == nil {
		delete(m, k)
	} else {
		m[k] = v
	}
}

func stringValue(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("must be a string")
	}
	return s, nil
}

func boolValue(v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("must be true or false")
	}
	return b, nil
}

func stringList(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("must be a list of strings")
	}
	out := make([]string, len(list))
	for i, x := range list {
		s, ok := x.(string)
		if !ok {
			return nil, fmt.Errorf("must be a list of strings")
		}
		out[i] = s
	}
	return out, nil
}

// intValue accepts a whole JSON number within int64.
func intValue(v any) (int64, error) {
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, nil
		}
		f, err := n.Float64()
		if err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), nil
		}
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), nil
		}
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	}
	return 0, fmt.Errorf("must be a whole number")
}

// MissingRequired reports every required field profile lacks (a backend
// creating a user must give them, as a signup must give its own).
func (fs Fields) MissingRequired(profile map[string]any) error {
	var errs FieldErrors
	for _, f := range fs {
		if v, ok := profile[f.Name]; f.Required && (!ok || v == nil || v == "") {
			errs = append(errs, &FieldError{f.Name, "required", "This field is required."})
		}
	}
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Param < errs[j].Param })
	return errs
}
