package server_test

import (
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/api/apitest"
)

// Every route of the catalog, under several tenant configurations and both
// clients: it answers exactly when its rule holds (and it has a handler in
// this build); otherwise a bare 404, before any session or CSRF handling.
func TestRouteGating(t *testing.T) {
	configs := map[string]apitest.Settings{
		"defaults":         nil,
		"app only":         {"HEADLESS_CLIENTS": []string{"app"}},
		"browser only":     {"HEADLESS_CLIENTS": []string{"browser"}},
		"login by code":    {"ACCOUNT_LOGIN_BY_CODE_ENABLED": true},
		"no optional apps": {"HALLPASS_APPS": []string{}},
		"social only": {"SOCIALACCOUNT_ONLY": true, "ACCOUNT_EMAIL_VERIFICATION": "none",
			"HALLPASS_APPS": []string{"socialaccount", "usersessions"}},
		"every mfa type": {"MFA_SUPPORTED_TYPES": []string{"totp", "recovery_codes", "webauthn"},
			"MFA_PASSKEY_LOGIN_ENABLED": true, "MFA_PASSKEY_SIGNUP_ENABLED": true, "MFA_TRUST_ENABLED": true,
			"ACCOUNT_SIGNUP_FIELDS": []string{"email*", "username*", "password1*"}, "ACCOUNT_EMAIL_VERIFICATION": "mandatory",
			"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true, "MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN": true},
		"totp only": {"MFA_SUPPORTED_TYPES": []string{"totp"}},
	}
	for name, settings := range configs {
		t.Run(name, func(t *testing.T) {
			env := apitest.New(t, settings)
			covered := 0
			for _, client := range apitest.Clients {
				fe := env.Client(client)
				fe.Do("GET", "config", "") // the browser's CSRF cookie
				for _, r := range api.Catalog {
					want := env.Server.Registry.Handled(r.Method, r.Path) && r.Routed(env.Tenant.Settings, client)
					body := ""
					if r.Method != "GET" {
						body = "{}"
					}
					res := fe.Do(r.Method, strings.TrimPrefix(r.Path, "/"), body)
					absent := res.Code == 404 && strings.TrimSpace(string(res.Body)) == `{"status":404}`
					if absent == want {
						t.Errorf("%s %s %s (rule: %s): routed=%v but got %d %s", client, r.Method, r.Path, r.Rule, want, res.Code, res.Body)
					}
					covered++
				}
			}
			t.Logf("%d route×client cases", covered)
		})
	}
}

// A routed path asked with a method it does not take: 405 with Allow, as
// Django answers; under HEADLESS_ONLY no headed page is served.
func TestMethodNotAllowedAndHeadlessOnly(t *testing.T) {
	env := apitest.New(t, apitest.Settings{
		"HEADLESS_ONLY": true,
		"HEADLESS_FRONTEND_URLS": map[string]string{
			"account_confirm_email":           "https://app.example.com/verify/{key}",
			"account_reset_password":          "https://app.example.com/reset",
			"account_reset_password_from_key": "https://app.example.com/reset/{key}",
			"account_signup":                  "https://app.example.com/signup",
		},
	})
	res := env.Raw("PUT", "/t/"+env.Tenant.Slug+"/_allauth/app/v1/auth/login", "{}")
	if res.Code != 405 || res.Header.Get("Allow") != "POST" {
		t.Fatalf("PUT auth/login: %d %v", res.Code, res.Header)
	}
	res = env.Raw("POST", "/t/"+env.Tenant.Slug+"/_allauth/app/v1/config", "{}")
	if res.Code != 405 || res.Header.Get("Allow") != "GET" {
		t.Fatalf("POST config: %d %v", res.Code, res.Header)
	}
	for _, p := range []string{"/accounts/login/", "/accounts/confirm-email/abc/", "/accounts/password/reset/"} {
		if res := env.Raw("GET", "/t/"+env.Tenant.Slug+p, ""); res.Code != 404 {
			t.Errorf("%s: %d", p, res.Code)
		}
	}
}
