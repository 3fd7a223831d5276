package tenants

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/google/uuid"
)

// sealOverrides returns the JSON to store: overrides with secrets sealed.
func (s *Store) sealOverrides(id uuid.UUID, overrides map[string]any) ([]byte, error) {
	doc, _ := deepCopy(overrides).(map[string]any)
	if err := walkSecrets(doc, func(path, v string) (string, error) {
		return s.sealer.Seal([]byte(v), sealContext(id, path))
	}); err != nil {
		return nil, err
	}
	return json.Marshal(doc)
}

// parseOverrides validates an overrides document and returns it decoded, with
// the effective settings.
func parseOverrides(raw []byte) (map[string]any, *Settings, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("{}")
	}
	settings, err := ParseSettings(raw)
	if err != nil {
		return nil, nil, err
	}
	doc, err := decodeObject(raw)
	if err != nil {
		return nil, nil, err
	}
	return doc, settings, nil
}

// decodeObject decodes a JSON object, keeping numbers exact.
func decodeObject(raw []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return map[string]any{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, &SettingsError{Reason: "settings must be a JSON object: " + err.Error()}
	}
	if dec.More() {
		return nil, &SettingsError{Reason: "settings must be a single JSON object"}
	}
	if doc == nil {
		return nil, &SettingsError{Reason: "settings must be a JSON object, not null"}
	}
	if err := storableText(raw, doc); err != nil {
		return nil, err
	}
	return doc, nil
}

// keepRedactedSecrets restores secrets given as Redacted from the current
// document; a Redacted value with nothing to restore is an error.
func keepRedactedSecrets(next, current map[string]any) error {
	old := map[string]string{}
	if current != nil {
		_ = walkSecrets(deepCopy(current).(map[string]any), func(path, v string) (string, error) {
			old[path] = v
			return v, nil
		})
	}
	return walkSecrets(next, func(path, v string) (string, error) {
		if v != Redacted {
			return v, nil
		}
		if prev, ok := old[path]; ok {
			return prev, nil
		}
		return "", &SettingsError{Key: strings.SplitN(path, ".", 2)[0], Reason: path + " is " + Redacted + " but no current value exists to keep"}
	})
}
