package server_test

import (
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/api/apitest"
)

// headlessPrefix is where api.Routes mounts the catalog's routes.
const headlessPrefix = "/_allauth/:client/v1"

// outsideCatalog are the tenant app's routes that are not headless endpoints
// and so not in api.Catalog: the JWKS, the served specification and the
// provider callbacks. A new tenant route goes into the catalog or here.
var outsideCatalog = map[string]bool{
	"GET /.well-known/jwks.json":                 true,
	"GET /_allauth/openapi.json":                 true,
	"GET /_allauth/openapi.yaml":                 true,
	"GET /_allauth/openapi.html":                 true,
	"GET /_allauth/openapi-assets/:name":         true,
	"GET /accounts/:provider/login/callback/":    true,
	"POST /accounts/:provider/login/callback/":   true,
	"GET /accounts/:prefix/:id/login/callback/":  true,
	"POST /accounts/:prefix/:id/login/callback/": true,
}

// The routes the tenant app really has, read from Fiber, are the catalog's:
// every catalog route has a handler in the server production builds, every
// headless handler has a catalog entry, and the registry the gate, the 405
// answer and the served specification read agrees with both. Independent of
// the gate's predicate, so a route listed but never registered, or
// registered around api.Routes, fails here.
func TestRoutesMatchCatalog(t *testing.T) {
	env := apitest.New(t, nil)
	registered := map[string]bool{}
	for _, r := range env.Server.Tenant.GetRoutes(true) {
		switch r.Method {
		case fiber.MethodHead, fiber.MethodOptions:
			// Fiber's HEAD for each GET, and the CORS preflight api.Routes
			// adds beside each GET and POST.
			continue
		}
		key := r.Method + " " + r.Path
		if rest, ok := strings.CutPrefix(r.Path, headlessPrefix); ok {
			if _, known := api.LookupRoute(r.Method, rest); !known {
				t.Errorf("%s %s has a handler but is not in api.Catalog", r.Method, r.Path)
			}
			registered[r.Method+" "+rest] = true
		} else if !outsideCatalog[key] {
			t.Errorf("%s has a handler but is neither a headless route in api.Catalog nor listed in outsideCatalog", key)
		}
	}
	for _, r := range api.Catalog {
		if !registered[r.Method+" "+r.Path] {
			t.Errorf("%s %s is in api.Catalog but has no handler", r.Method, r.Path)
		}
		if !env.Server.Registry.Handled(r.Method, r.Path) {
			t.Errorf("%s %s is not in the server's registry", r.Method, r.Path)
		}
	}
	if len(registered) == 0 {
		t.Fatalf("no headless route found under %s in the tenant app", headlessPrefix)
	}
}

// Every route of the catalog, under several tenant configurations and both
// clients: it answers exactly when its rule holds, otherwise a bare 404,
// before any session or CSRF handling. The server is the one production
// builds, so every catalog route has a handler (TestRoutesMatchCatalog): a
// route whose rule holds but that answers 404 fails.
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
					want := r.Routed(env.Tenant.Settings, client)
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
