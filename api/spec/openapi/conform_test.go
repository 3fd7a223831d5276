package openapi

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"testing"
)

// The embedded spec is the byte-for-byte copy recorded in LICENSE-allauth.txt.
func TestAllauthSpecIsTheRecordedCopy(t *testing.T) {
	sum := sha256.Sum256(AllauthSpec)
	if got, want := hex.EncodeToString(sum[:]), "4a8e967e8a9eb8b3a2427b94d0e4e441f22ce0494cf6e31579349891a9472e48"; got != want {
		t.Fatalf("allauth-headless-openapi.yaml sha256 %s, want %s: the copy must stay unmodified", got, want)
	}
}

func TestLoadConformant(t *testing.T) {
	doc, err := LoadConformant()
	if err != nil {
		t.Fatal(err)
	}
	// Each load is independent: corrections are applied to a fresh parse.
	again, err := LoadConformant()
	if err != nil {
		t.Fatalf("second load: %v", err)
	}
	if doc.Components.Schemas["Flow"].Value == again.Components.Schemas["Flow"].Value {
		t.Fatal("loads share schemas")
	}

	flowIDs := doc.Components.Schemas["Flow"].Value.AnyOf[0].Value.Properties["id"].Value.Enum
	for _, id := range []string{"mfa_login_webauthn", "mfa_signup_webauthn", "mfa_trust", "password_reset_by_code", "verify_phone"} {
		found := false
		for _, v := range flowIDs {
			found = found || v == id
		}
		if !found {
			t.Errorf("Flow.id lacks %s", id)
		}
	}
	for _, c := range []struct{ path, method, status string }{
		{"/_allauth/{client}/v1/account/password/change", http.MethodPost, "200"},
		{"/_allauth/{client}/v1/account/authenticators/recovery-codes", http.MethodPost, "200"},
		{"/_allauth/{client}/v1/auth/webauthn/signup", http.MethodPost, "200"},
	} {
		if doc.Paths.Value(c.path).GetOperation(c.method).Responses.Value(c.status) == nil {
			t.Errorf("%s %s: no %s", c.method, c.path, c.status)
		}
	}
	if doc.Paths.Value("/_allauth/{client}/v1/auth/code/request").Post.Responses.Value("200") != nil {
		t.Error("auth/code/request gained a 200")
	}
	if doc.Paths.Value("/_allauth/app/v1/auth/provider/redirect") == nil {
		t.Error("no app provider/redirect")
	}

	// The raw spec is untouched by a load.
	raw, err := loadEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	if raw.Components.Schemas["Flow"].Value.AnyOf != nil {
		t.Fatal("loadEmbedded applied corrections")
	}
	if len(Corrections()) == 0 {
		t.Fatal("no corrections listed")
	}
}
