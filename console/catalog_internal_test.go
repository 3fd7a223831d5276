package console

import (
	"fmt"
	"testing"

	"github.com/hallpass/hallpass/tenants"
)

// Every setting Document renders has exactly one field, in a group, and the
// console's tables of choices name only keys and values the settings parser
// accepts: they cannot drift from the tenants catalog unnoticed.
func TestCatalog(t *testing.T) {
	cat, err := newCatalog()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, g := range cat.groups {
		if len(g.Fields) == 0 {
			t.Errorf("group %s is empty", g.Slug)
		}
		for _, f := range g.Fields {
			if prev, dup := seen[f.Key]; dup {
				t.Errorf("%s is in %s and %s", f.Key, prev, g.Slug)
			}
			seen[f.Key] = g.Slug
			if f.widgetOf(f.Default) != f.Widget {
				t.Errorf("%s: default %v does not fit its %s widget", f.Key, f.Default, f.Widget)
			}
		}
	}
	for k := range tenants.DefaultSettings().Document() {
		if seen[k] == "" {
			t.Errorf("setting %s has no field", k)
		}
	}
	for _, want := range []struct{ key, group, widget string }{
		{"ACCOUNT_LOGIN_BY_CODE_ENABLED", "codes", widgetBool},
		{"ACCOUNT_EMAIL_VERIFICATION", "email", widgetSelect},
		{"HEADLESS_CLIENTS", "headless", widgetSet},
		{"ACCOUNT_RATE_LIMITS", "rate-limits", widgetMap},
		{"HEADLESS_JWT_PRIVATE_KEY", "headless", widgetSecret},
		{"MFA_TOTP_DIGITS", "mfa", widgetInt},
		{"USERSESSIONS_TRACK_ACTIVITY", "sessions", widgetBool},
		{"SOCIALACCOUNT_PROVIDERS", "social", widgetJSON},
		{"ACCOUNT_PASSWORD_MIN_LENGTH", "accounts", widgetInt},
	} {
		if seen[want.key] != want.group {
			t.Errorf("%s in group %q, want %q", want.key, seen[want.key], want.group)
		}
		for _, g := range cat.groups {
			for _, f := range g.Fields {
				if f.Key == want.key && f.Widget != want.widget {
					t.Errorf("%s widget %s, want %s", f.Key, f.Widget, want.widget)
				}
			}
		}
	}
	// Values that other settings must allow.
	companions := map[string]string{
		`ACCOUNT_EMAIL_VERIFICATION="mandatory"`: `, "ACCOUNT_SIGNUP_FIELDS": ["email*", "password1*"]`,
		`MFA_TRUST_COOKIE_SAMESITE="None"`:       `, "MFA_TRUST_COOKIE_SECURE": true`,
	}
	for key, cs := range selectChoices {
		for _, c := range cs {
			doc := fmt.Sprintf(`{%q: %s%s}`, key, c.Value, companions[key+"="+c.Value])
			if _, err := tenants.ParseSettings([]byte(doc)); err != nil {
				t.Errorf("%s choice %s is refused: %v", key, c.Value, err)
			}
		}
	}
	for key, cs := range setChoices {
		for _, c := range cs {
			if _, err := tenants.ParseSettings([]byte(fmt.Sprintf(`{%q: [%s]}`, key, c.Value))); err != nil {
				t.Errorf("%s choice %s is refused: %v", key, c.Value, err)
			}
		}
	}
}

func TestLabelOf(t *testing.T) {
	for key, want := range map[string]string{
		"ACCOUNT_LOGIN_BY_CODE_ENABLED":        "Login by code enabled",
		"HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN": "JWT access token expires in",
		"HALLPASS_CORS_ALLOWED_ORIGINS":        "CORS allowed origins",
	} {
		if got := labelOf(key); got != want {
			t.Errorf("labelOf(%s) = %q, want %q", key, got, want)
		}
	}
}
