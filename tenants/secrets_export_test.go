package tenants

import (
	"encoding/json"
	"testing"
)

// An export's settings without secrets, taken back by a tenant that has
// them: each secret whose app is still there keeps its value; the file's
// other values win.
func TestMapAndCarrySecrets(t *testing.T) {
	var doc map[string]any
	_ = json.Unmarshal([]byte(`{"HEADLESS_JWT_PRIVATE_KEY":"pem","SOCIALACCOUNT_PROVIDERS":{"github":{"APPS":[{"client_id":"a","secret":"s1",
		"settings":{"private_key":"k"}}]},"google":{"APP":{"client_id":"g","secret":"s2"}}}}`), &doc)
	omitted, err := MapSecrets(doc, func(string, string) (string, error) { return "", nil })
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(omitted)
	if want := `{"SOCIALACCOUNT_PROVIDERS":{"github":{"APPS":[{"client_id":"a","settings":{}}]},"google":{"APP":{"client_id":"g"}}}}`; string(raw) != want {
		t.Fatalf("omitted: %s", raw)
	}
	// The file changed google's client id; the secrets come back from doc.
	omitted["SOCIALACCOUNT_PROVIDERS"].(map[string]any)["google"].(map[string]any)["APP"].(map[string]any)["client_id"] = "g2"
	CarrySecrets(omitted, doc)
	raw, _ = json.Marshal(omitted)
	if want := `{"HEADLESS_JWT_PRIVATE_KEY":"pem","SOCIALACCOUNT_PROVIDERS":{"github":{"APPS":[{"client_id":"a","secret":"s1","settings":{"private_key":"k"}}]},"google":{"APP":{"client_id":"g2","secret":"s2"}}}}`; string(raw) != want {
		t.Fatalf("carried: %s", raw)
	}
}
