package tenants_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/tenants"
)

// Fuzz tests of the settings parser (issue #11). Run one with
//
//	go test -run '^$' -fuzz '^FuzzParseSettings$' -fuzztime 60s ./tenants/
//
// `make fuzz` runs them all; the corpus under testdata/fuzz/ is replayed by
// plain `go test`.

// fuzzEd25519PEM is a fixed Ed25519 key in PKCS#8 PEM, so the seeds (and a
// crasher that uses them) are the same on every run.
func fuzzEd25519PEM(f *testing.F) string {
	der, err := x509.MarshalPKCS8PrivateKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize)))
	if err != nil {
		f.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// settingsSeeds are realistic documents (as a customer pastes them from a
// Django settings.py) and structural junk.
func settingsSeeds(f *testing.F) [][]byte {
	marshal := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	var seeds [][]byte
	add := func(v any) { seeds = append(seeds, marshal(v)) }

	// The whole default document, and every setting alone at its default.
	defaults := tenants.DefaultSettings().Document()
	add(defaults)
	for _, k := range slices.Sorted(maps.Keys(defaults)) {
		add(map[string]any{k: defaults[k]})
	}

	// Legacy keys with the values old settings.py files carry.
	legacy := map[string]any{
		"ACCOUNT_AUTHENTICATION_METHOD":         "username_email",
		"ACCOUNT_EMAIL_REQUIRED":                true,
		"ACCOUNT_USERNAME_REQUIRED":             false,
		"ACCOUNT_LOGIN_ATTEMPTS_LIMIT":          5,
		"ACCOUNT_LOGIN_ATTEMPTS_TIMEOUT":        300,
		"ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN":   180,
		"ACCOUNT_PASSWORD_RESET_BY_CODE_FORMAT": map[string]any{"numeric": true, "length": 6},
		"ACCOUNT_SESSION_COOKIE_AGE":            1209600,
		"ACCOUNT_SIGNUP_EMAIL_ENTER_TWICE":      true,
		"ACCOUNT_SIGNUP_PASSWORD_ENTER_TWICE":   false,
		"ACCOUNT_SIGNUP_PASSWORD_VERIFICATION":  false,
		"EMAIL_CONFIRMATION_DAYS":               7,
	}
	for _, k := range tenants.LegacySettingKeys() {
		if v, ok := legacy[k]; ok {
			add(map[string]any{k: v})
		}
	}
	add(legacy)
	add(map[string]any{"ACCOUNT_AUTHENTICATION_METHOD": "email", "ACCOUNT_EMAIL_REQUIRED": true,
		"ACCOUNT_USERNAME_REQUIRED": false, "ACCOUNT_EMAIL_VERIFICATION": true})
	add(map[string]any{"ACCOUNT_AUTHENTICATION_METHOD": "email", "ACCOUNT_LOGIN_METHODS": []string{"username"}})

	// The settings guide's complete example and allauth's React SPA example.
	frontend := map[string]string{
		"account_confirm_email":           "https://app.example.com/account/verify-email/{key}",
		"account_reset_password_from_key": "https://app.example.com/account/password/reset/key/{key}",
		"account_reset_password":          "https://app.example.com/account/password/reset",
		"account_signup":                  "https://app.example.com/account/signup",
		"socialaccount_login_error":       "https://app.example.com/account/provider/callback",
	}
	add(map[string]any{
		"HEADLESS_ONLY":                              true,
		"HEADLESS_FRONTEND_URLS":                     frontend,
		"HEADLESS_TOKEN_STRATEGY":                    "allauth.headless.tokens.strategies.jwt.JWTTokenStrategy",
		"HEADLESS_JWT_ALGORITHM":                     "EdDSA",
		"HEADLESS_JWT_PRIVATE_KEY":                   fuzzEd25519PEM(f),
		"HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN":       300,
		"HEADLESS_JWT_REFRESH_TOKEN_EXPIRES_IN":      604800,
		"HEADLESS_JWT_STATEFUL_VALIDATION_ENABLED":   true,
		"ACCOUNT_EMAIL_REQUIRED":                     true,
		"ACCOUNT_EMAIL_VERIFICATION":                 "mandatory",
		"ACCOUNT_AUTHENTICATION_METHOD":              "email",
		"ACCOUNT_USERNAME_REQUIRED":                  false,
		"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true,
		"ACCOUNT_LOGIN_BY_CODE_ENABLED":              true,
		"MFA_SUPPORTED_TYPES":                        []string{"totp", "recovery_codes", "webauthn"},
		"MFA_PASSKEY_LOGIN_ENABLED":                  true,
	})
	add(map[string]any{
		"ACCOUNT_EMAIL_VERIFICATION":                 "mandatory",
		"ACCOUNT_LOGIN_METHODS":                      []string{"email"},
		"ACCOUNT_LOGIN_BY_CODE_ENABLED":              true,
		"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true,
		"ACCOUNT_SIGNUP_FIELDS":                      []string{"email*", "password1*", "password2*"},
		"HEADLESS_ONLY":                              true,
		"HEADLESS_FRONTEND_URLS": map[string]string{
			"account_confirm_email":           "/account/verify-email/{key}",
			"account_reset_password":          "/account/password/reset",
			"account_reset_password_from_key": "/account/password/reset/key/{key}",
			"account_signup":                  "/account/signup",
			"socialaccount_login_error":       "/account/provider/callback",
		},
		"HEADLESS_SERVE_SPECIFICATION": true,
		"MFA_SUPPORTED_TYPES":          []string{"totp", "recovery_codes", "webauthn"},
		"MFA_PASSKEY_LOGIN_ENABLED":    true,
		"MFA_PASSKEY_SIGNUP_ENABLED":   true,
	})
	add(map[string]any{"HEADLESS_FRONTEND_URLS": map[string]string{
		"account_confirm_email":           "/spa/confirm-email?key={key}",
		"account_reset_password_from_key": "/spa/password/reset/{key}/",
	}})

	// Nested provider settings.
	add(map[string]any{"SOCIALACCOUNT_PROVIDERS": map[string]any{
		"github": map[string]any{"APPS": []any{map[string]any{"client_id": "a", "secret": "b"}}, "SCOPE": []string{"user:email"},
			"VERIFIED_EMAIL": true, "NESTED": map[string]any{"n": 1.5, "big": json.RawMessage("12345678901234567890"), "l": []any{nil, true, "x"}}},
		"google": map[string]any{"APP": map[string]any{"client_id": "g", "secret": "s", "key": ""},
			"SCOPE": []string{"profile", "email"}, "AUTH_PARAMS": map[string]any{"access_type": "online"}, "OAUTH_PKCE_ENABLED": true},
		"openid_connect": map[string]any{"APPS": []any{map[string]any{"provider_id": "kc", "name": "Keycloak", "client_id": "kc",
			"secret": "x", "settings": map[string]any{"server_url": "https://kc.example.com/realms/acme", "token_auth_method": "client_secret_basic"}}}},
	}})
	add(map[string]any{"SOCIALACCOUNT_ONLY": true, "ACCOUNT_EMAIL_VERIFICATION": "none", "HALLPASS_APPS": []string{"socialaccount"},
		"ACCOUNT_LOGIN_METHODS": []string{}})

	// Rate limits: a partial map, everything off, and the legacy interplay.
	add(map[string]any{"ACCOUNT_RATE_LIMITS": map[string]any{"login": "3/1.5m", "signup": false, "login_failed": "10/m/ip,5/300s/key",
		"confirm_email": "1/0.5s/key", "reset_password": " 20/m/ip , 5/m/key "}})
	add(map[string]any{"ACCOUNT_RATE_LIMITS": false, "ACCOUNT_LOGIN_ATTEMPTS_LIMIT": 0})
	add(map[string]any{"ACCOUNT_RATE_LIMITS": map[string]any{"login_failed": "5/5m/key"}, "ACCOUNT_LOGIN_ATTEMPTS_LIMIT": 5})

	// Other value shapes.
	add(map[string]any{
		"HEADLESS_JWT_ALGORITHM": "HS512", "HEADLESS_JWT_PRIVATE_KEY": strings.Repeat("k", 64),
		"ACCOUNT_LOGIN_BY_CODE_REQUIRED": []string{"mfa", "password"}, "ACCOUNT_PREVENT_ENUMERATION": "strict",
		"ACCOUNT_SESSION_REMEMBER": true, "ACCOUNT_EMAIL_SUBJECT_PREFIX": "[Acme] ", "ACCOUNT_MAX_EMAIL_ADDRESSES": 3,
		"ACCOUNT_SIGNUP_FORM_HONEYPOT_FIELD": "website", "ALLAUTH_TRUSTED_CLIENT_IP_HEADER": "CF-Connecting-IP",
		"ALLAUTH_USER_CODE_FORMAT": map[string]any{"numeric": true}, "MFA_TRUST_COOKIE_SAMESITE": false,
		"MFA_TRUST_COOKIE_PATH": "/_allauth/", "HALLPASS_CORS_ALLOWED_ORIGINS": []string{"https://app.example.com:8443"},
		"HALLPASS_WEBAUTHN_RP_ID": "example.com", "HALLPASS_WEBAUTHN_ORIGINS": []string{"https://app.example.com"},
		"HALLPASS_EMAIL_FROM": "Acme <no-reply@example.com>", "SOCIALACCOUNT_EMAIL_VERIFICATION": "optional",
		"ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_RESEND": true, "ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND": 4,
	})
	add(map[string]any{"HEADLESS_TOKEN_STRATEGY": "session", "HEADLESS_CLIENTS": []string{"app"}, "HALLPASS_JWT_AUDIENCE": "https://api.acme.example"})

	// Structural junk and near-misses.
	for _, s := range []string{
		``, ` `, `null`, `[]`, `"settings"`, `42`, `{`, `{}`, `{} {}`, `{"HEADLESS_ONLY": true,}`,
		`{"HEADLESS_ONLY": true, "HEADLESS_ONLY": false}`, `{"A": 1, "A": 2}`, `{"headless_only": true}`,
		`{"ACCOUNT_NOPE": 1, "MFA_SUPPORTED_TYPES": ["sms"], "ACCOUNT_LOGIN_TIMEOUT": 0}`,
		`{"ACCOUNT_LOGIN_TIMEOUT": 1e3}`, `{"ACCOUNT_LOGIN_TIMEOUT": 99999999999999999999}`, `{"ACCOUNT_LOGIN_TIMEOUT": -0}`,
		`{"INSTALLED_APPS": ["allauth"]}`, `{"X": ` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`,
		`{"HEADLESS_JWT_PRIVATE_KEY": "\ud800"}`, "{\"HALLPASS_JWT_AUDIENCE\": \"a\x00b\"}", `{"ACCOUNT_RATE_LIMITS": {"login": "0/m"}}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// structuralReasons start the messages of whole-document errors (Key "").
var structuralReasons = []string{"settings ", "duplicate key ", "unexpected data after the settings object"}

func FuzzParseSettings(f *testing.F) {
	for _, s := range settingsSeeds(f) {
		f.Add(s)
	}
	known := map[string]bool{}
	for _, k := range tenants.SettingKeys() {
		known[k] = true
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		s, err := tenants.ParseSettings(doc)
		again, err2 := tenants.ParseSettings(doc)
		if (err == nil) != (err2 == nil) || (err != nil && err.Error() != err2.Error()) {
			t.Fatalf("ParseSettings is not deterministic:\n%v\n%v", err, err2)
		}
		if err != nil {
			if s != nil {
				t.Fatalf("ParseSettings returned settings with an error: %v", err)
			}
			checkSettingsError(t, doc, err, known)
			return
		}
		if s == nil {
			t.Fatal("ParseSettings returned neither settings nor an error")
		}
		if !reflect.DeepEqual(s, again) {
			t.Fatalf("ParseSettings is not deterministic:\n%+v\n%+v", s, again)
		}
		d := s.Document()
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("Document does not marshal: %v", err)
		}
		back, err := tenants.ParseSettings(b)
		if err != nil {
			t.Fatalf("Document does not parse back: %v\ninput    %q\ndocument %s", err, doc, b)
		}
		b2, err := json.Marshal(back.Document())
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, b2) {
			t.Fatalf("Document changed in the round trip:\ninput  %q\nbefore %s\nafter  %s", doc, b, b2)
		}
		if !reflect.DeepEqual(s, back) {
			t.Fatalf("round trip changed the Settings:\ninput  %q\nbefore %+v\nafter  %+v", doc, s, back)
		}
	})
}

// checkSettingsError asserts ParseSettings' error contract: a *SettingsError
// (Key "" only for a document that is not a JSON object) or SettingsErrors of
// two or more, sorted, each naming a setting key of the document or a known one.
func checkSettingsError(t *testing.T, doc []byte, err error, known map[string]bool) {
	t.Helper()
	var top map[string]json.RawMessage
	isObject := json.Unmarshal(doc, &top) == nil && top != nil
	named := func(e *tenants.SettingsError) {
		t.Helper()
		if e == nil {
			t.Fatalf("nil *SettingsError in %#v", err)
		}
		if strings.TrimSpace(e.Reason) == "" {
			t.Fatalf("error without a reason: %#v", e)
		}
		if e.Key == "" {
			t.Fatalf("error names no key: %q (input %q)", e.Reason, doc)
		}
		if _, inDoc := top[e.Key]; !inDoc && !known[e.Key] {
			t.Fatalf("error names %q, neither a setting nor a key of the document %q", e.Key, doc)
		}
	}
	switch e := err.(type) {
	case *tenants.SettingsError:
		if e.Key == "" {
			if strings.TrimSpace(e.Reason) == "" {
				t.Fatalf("document-level error without a reason: %#v", e)
			}
			if !slices.ContainsFunc(structuralReasons, func(p string) bool { return strings.HasPrefix(e.Reason, p) }) {
				t.Fatalf("document-level error with an unexpected reason: %q (input %q)", e.Reason, doc)
			}
			return
		}
		if !isObject {
			t.Fatalf("%q is not a JSON object to encoding/json, but the error names key %q: %v", doc, e.Key, e)
		}
		named(e)
	case tenants.SettingsErrors:
		if len(e) < 2 {
			t.Fatalf("SettingsErrors with %d entries (one error is a *SettingsError): %#v", len(e), e)
		}
		if !isObject {
			t.Fatalf("%q is not a JSON object to encoding/json, but got per-key errors: %v", doc, e)
		}
		for _, one := range e {
			if one != nil && one.Key == "" {
				// A document-level problem (an empty setting name) reported
				// with the per-key ones: it must be a structural one.
				if !slices.ContainsFunc(structuralReasons, func(p string) bool { return strings.HasPrefix(one.Reason, p) }) {
					t.Fatalf("document-level error with an unexpected reason: %q (input %q)", one.Reason, doc)
				}
				continue
			}
			named(one)
		}
		if !sort.SliceIsSorted(e, func(i, j int) bool { return e[i].Key < e[j].Key }) {
			t.Fatalf("SettingsErrors not sorted by key: %v", e)
		}
	default:
		t.Fatalf("error of type %T, want *SettingsError or SettingsErrors: %v", err, err)
	}
}
