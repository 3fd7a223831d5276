package tokens_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hallpass/hallpass/api/apitest"
)

// TestQuotedTimeClaimsRefused: a token signed with the tenant's own key but
// carrying exp, iat or nbf as a JSON string ("9999999999") is not a valid
// token (RFC 7519 §2: a NumericDate is a JSON number). golang-jwt reads such
// a string as a number; Hallpass must not, so a forged-looking but genuinely
// signed never-expiring token counts for nothing (401 as anonymous, as
// allauth answers an invalid token), while the same claims as numbers work.
func TestQuotedTimeClaimsRefused(t *testing.T) {
	const secret = "time-claims-secret-time-claims-secret-0123456789"
	env := jwtTenant(t, apitest.Settings{"HEADLESS_JWT_ALGORITHM": "HS256", "HEADLESS_JWT_PRIVATE_KEY": secret})
	_, access, refreshTok := signup(t, env, "tia@example.com")

	resign := func(tok string, edit func(map[string]any)) string {
		t.Helper()
		parts := strings.Split(tok, ".")
		var header, payload map[string]any
		if err := json.Unmarshal(b64(t, parts[0]), &header); err != nil {
			t.Fatal(err)
		}
		dec := json.NewDecoder(strings.NewReader(string(b64(t, parts[1]))))
		dec.UseNumber()
		if err := dec.Decode(&payload); err != nil {
			t.Fatal(err)
		}
		edit(payload)
		enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
		signing := enc(header) + "." + enc(payload)
		sig, err := jwt.SigningMethodHS256.Sign(signing, []byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
	}
	session := func(tok string) *apitest.Response {
		return env.Client("app").Do("GET", "auth/session", "", "Authorization", "Bearer "+tok)
	}

	// Re-signed with numbers, the token is as good as the original: the
	// refusals below are about the claim types, not the re-signing.
	numeric := resign(access, func(p map[string]any) { p["exp"] = json.Number("9999999999") })
	session(numeric).Status(200)

	for _, tc := range []struct {
		name string
		edit func(map[string]any)
	}{
		{"exp string", func(p map[string]any) { p["exp"] = "9999999999" }},
		{"iat string", func(p map[string]any) { p["iat"] = p["iat"].(json.Number).String() }},
		{"nbf string", func(p map[string]any) { p["nbf"] = p["iat"].(json.Number).String() }},
		{"exp bool", func(p map[string]any) { p["exp"] = true }},
		{"exp object", func(p map[string]any) { p["exp"] = map[string]any{"n": 1} }},
		{"exp null", func(p map[string]any) { p["exp"] = nil }},
		{"exp float string", func(p map[string]any) { p["exp"] = "9.999999999e9" }},
		{"exp spaced string", func(p map[string]any) { p["exp"] = " 9999999999" }},
	} {
		name, edit := tc.name, tc.edit
		// Not subtests: the env's responses report to the parent test.
		if res := session(resign(access, edit)); res.Code != 401 {
			t.Errorf("%s: access token → %d, want 401: %s", name, res.Code, res.Body)
		}
		if res := refresh(env, resign(refreshTok, edit)); res.Code != 400 {
			t.Errorf("%s: refresh token → %d, want 400: %s", name, res.Code, res.Body)
		}
	}
	session(access).Status(200)
}
