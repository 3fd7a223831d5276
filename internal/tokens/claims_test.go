package tokens

import (
	"encoding/json"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// A tenant's claim can never replace a registered one, even if the setting
// check were bypassed: reserved names and the names Claims holds are
// skipped when the token is minted.
func TestAccessClaimsKeepOurs(t *testing.T) {
	base := Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: "7", ID: "j", Issuer: "https://acme.example"}, TokenUse: UseAccess, SID: "s"}
	raw, err := json.Marshal(accessClaims{base, map[string]any{
		"sub": "1", "iss": "evil", "exp": 9e18, "token_use": "refresh", "sid": "x", "aud": "y",
		"plan": "pro", "https://example.com/roles": []any{"admin"}, "n": nil,
	}})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("%s: %v", raw, err)
	}
	if got["sub"] != "7" || got["iss"] != "https://acme.example" || got["token_use"] != UseAccess || got["sid"] != "s" ||
		got["exp"] != nil || got["aud"] != nil {
		t.Fatalf("registered claims replaced: %s", raw)
	}
	if got["plan"] != "pro" || len(got["https://example.com/roles"].([]any)) != 1 {
		t.Fatalf("tenant claims missing: %s", raw)
	}
	if _, ok := got["n"]; !ok {
		t.Fatalf("a null claim is a claim: %s", raw)
	}
	plain, _ := json.Marshal(accessClaims{Claims: base})
	want, _ := json.Marshal(base)
	if string(plain) != string(want) {
		t.Fatalf("without extra claims: %s, want %s", plain, want)
	}
}
