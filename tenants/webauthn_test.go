package tenants_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/hallpass/hallpass/tenants"
)

func TestWebAuthnConfig(t *testing.T) {
	cases := []struct {
		name     string
		settings string
		rpID     string
		origins  []string
		err      string
	}{
		{name: "fallback to the API host", settings: `{}`, rpID: "acme.hallpass.example", origins: []string{"https://acme.hallpass.example"}},
		{name: "derived from frontend URLs",
			settings: `{"HEADLESS_FRONTEND_URLS": {"account_confirm_email": "https://app.acme.com/verify/{key}", "account_signup": "https://app.acme.com/signup"}}`,
			rpID:     "app.acme.com", origins: []string{"https://app.acme.com"}},
		{name: "explicit id covers subdomains",
			settings: `{"HALLPASS_WEBAUTHN_RP_ID": "acme.com", "HALLPASS_WEBAUTHN_ORIGINS": ["https://app.acme.com", "https://acme.com"]}`,
			rpID:     "acme.com", origins: []string{"https://app.acme.com", "https://acme.com"}},
		{name: "localhost over http is fine for development",
			settings: `{"HEADLESS_FRONTEND_URLS": {"account_signup": "http://localhost:3000/signup"}}`,
			rpID:     "localhost", origins: []string{"http://localhost:3000"}},
		{name: "insecure origin refused",
			settings: `{"HALLPASS_WEBAUTHN_ORIGINS": ["http://app.acme.com"]}`, err: "https"},
		{name: "insecure origin allowed by MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN",
			settings: `{"HALLPASS_WEBAUTHN_ORIGINS": ["http://app.acme.com"], "MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN": true}`,
			rpID:     "app.acme.com", origins: []string{"http://app.acme.com"}},
		{name: "origin outside the RP id",
			settings: `{"HALLPASS_WEBAUTHN_RP_ID": "acme.com", "HALLPASS_WEBAUTHN_ORIGINS": ["https://evil.com"]}`, err: "acme.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Settings validation refuses a bad relying party up front;
			// WebAuthnConfig checks again for the values it derives.
			var cfg *webauthn.Config
			s, err := tenants.ParseSettings([]byte(tc.settings))
			if err == nil {
				cfg, err = s.WebAuthnConfig("Acme", "https://acme.hallpass.example/t/x")
			}
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("want error %q, got %v", tc.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.RPID != tc.rpID || !slices.Equal(cfg.RPOrigins, tc.origins) || cfg.RPDisplayName != "Acme" {
				t.Fatalf("got %q %v", cfg.RPID, cfg.RPOrigins)
			}
		})
	}
}

func TestUnsupportedProviderRejected(t *testing.T) {
	_, err := tenants.ParseSettings([]byte(`{"SOCIALACCOUNT_PROVIDERS": {"myspace": {"APP": {"client_id": "x"}}}}`))
	if err == nil || !strings.Contains(err.Error(), "SOCIALACCOUNT_PROVIDERS") || !strings.Contains(err.Error(), "not supported") {
		t.Fatalf("want a SOCIALACCOUNT_PROVIDERS error, got %v", err)
	}
}
