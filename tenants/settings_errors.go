package tenants

import (
	"errors"
	"sort"
	"strings"
)

// SettingsError is a problem with one setting. Key is "" when the document
// as a whole is malformed. Reason never contains a secret value.
type SettingsError struct {
	Key    string
	Reason string
}

// Error renders "<KEY>: <reason>", or the reason alone for the whole document.
func (e *SettingsError) Error() string {
	if e.Key == "" {
		return e.Reason
	}
	return e.Key + ": " + e.Reason
}

// SettingsErrors are several problems, sorted by key.
type SettingsErrors []*SettingsError

// Error joins the individual errors with "; ".
func (es SettingsErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

// Unwrap exposes the individual errors to errors.Is and errors.As.
func (es SettingsErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

func (es SettingsErrors) sort() {
	sort.SliceStable(es, func(i, j int) bool { return es[i].Key < es[j].Key })
}

// SettingsErrorList is the settings errors err holds, one or several (nil:
// none), for a caller that shows each next to its key.
func SettingsErrorList(err error) []*SettingsError {
	var many SettingsErrors
	if errors.As(err, &many) {
		return many
	}
	var one *SettingsError
	if errors.As(err, &one) {
		return []*SettingsError{one}
	}
	return nil
}
