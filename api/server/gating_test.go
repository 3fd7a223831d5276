package server_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/api/server"
	"github.com/hallpass/hallpass/internal/login"
	loginmethods "github.com/hallpass/hallpass/internal/login/methods"
)

// headlessPrefix is where the server mounts the catalog's routes.
const headlessPrefix = "/_allauth/:client/v1"

// outsideCatalog are the tenant app's routes that are not headless endpoints
// and so not in the catalog: the JWKS, the served specification, the
// provider callbacks and the hosted account pages. A new tenant route goes into a slice's routes or here.
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
	// The hosted account pages (web/accounts), for tenants with
	// HEADLESS_ONLY false.
	"GET /accounts/brand.css":                      true,
	"GET /accounts/confirm-email/":                 true,
	"GET /accounts/confirm-email/:key/":            true,
	"GET /accounts/email/":                         true,
	"GET /accounts/login/":                         true,
	"GET /accounts/login/code/":                    true,
	"GET /accounts/login/code/confirm/":            true,
	"GET /accounts/logout/":                        true,
	"GET /accounts/password/change/":               true,
	"GET /accounts/password/reset/":                true,
	"GET /accounts/password/reset/done/":           true,
	"GET /accounts/password/reset/key/:key/":       true,
	"GET /accounts/password/reset/key/done/":       true,
	"GET /accounts/password/set/":                  true,
	"GET /accounts/sessions/":                      true,
	"GET /accounts/signup/":                        true,
	"GET /accounts/static/*":                       true,
	"POST /accounts/confirm-email/":                true,
	"POST /accounts/confirm-email/:key/":           true,
	"POST /accounts/email/":                        true,
	"POST /accounts/login/":                        true,
	"POST /accounts/login/code/":                   true,
	"POST /accounts/login/code/confirm/":           true,
	"POST /accounts/logout/":                       true,
	"POST /accounts/password/change/":              true,
	"POST /accounts/password/reset/":               true,
	"POST /accounts/password/reset/key/:key/":      true,
	"GET /accounts/password/reset/code/confirm/":   true,
	"POST /accounts/password/reset/code/confirm/":  true,
	"POST /accounts/password/reset/code/complete/": true,
	"POST /accounts/password/set/":                 true,
	"POST /accounts/sessions/":                     true,
	"POST /accounts/signup/":                       true,
}

// routeProblems compares the routes a Fiber app really has with a catalog:
// a headless route the catalog does not list, a route that is neither
// headless nor outsideCatalog, and a catalog route with no handler.
func routeProblems(routes []fiber.Route, catalog api.Catalog) []string {
	var problems []string
	registered := map[string]bool{}
	for _, r := range routes {
		switch r.Method {
		case fiber.MethodHead, fiber.MethodOptions:
			// Fiber's HEAD for each GET, and the CORS preflight api.Mount
			// adds beside each GET and POST.
			continue
		}
		key := r.Method + " " + r.Path
		if rest, ok := strings.CutPrefix(r.Path, headlessPrefix); ok {
			if _, known := catalog.Lookup(r.Method, rest); !known {
				problems = append(problems, fmt.Sprintf("%s %s has a handler but is not in the catalog", r.Method, r.Path))
			}
			registered[r.Method+" "+rest] = true
		} else if !outsideCatalog[key] {
			problems = append(problems, fmt.Sprintf("%s has a handler but is neither a headless route in the catalog nor listed in outsideCatalog", key))
		}
	}
	for _, r := range catalog {
		if !registered[r.Method+" "+r.Path] {
			problems = append(problems, fmt.Sprintf("%s %s is in the catalog but has no handler", r.Method, r.Path))
		}
	}
	return problems
}

// The routes the tenant app really has, read from Fiber, are the catalog's:
// every route a slice declares has a handler in the server production
// builds, every headless handler has a catalog entry, and the catalog the
// gate, the 405 answer and the served specification read agrees with both.
// Independent of the gate's predicate, so a slice left out of the server,
// or a route registered around api.Mount, fails here.
func TestRoutesMatchCatalog(t *testing.T) {
	env := apitest.New(t, nil)
	all := server.Catalog()
	if len(all) == 0 {
		t.Fatal("the catalog is empty")
	}
	for _, p := range routeProblems(env.Server.Tenant.GetRoutes(true), all) {
		t.Error(p)
	}
	for _, r := range all {
		if _, ok := env.Server.Catalog.Lookup(r.Method, r.Path); !ok {
			t.Errorf("%s %s is not in the server's catalog", r.Method, r.Path)
		}
	}
	// The login methods' routes come from their registry: each is in the
	// catalog as its method declares it, and the server answers it.
	for _, d := range loginmethods.All.Routes() {
		r, ok := env.Server.Catalog.Lookup(d.Method, d.Path)
		if !ok || r.Operation != d.Operation || r.Handler == nil || r.Client != d.Client || r.Rule.Text != d.Rule.Text {
			t.Errorf("%s %s (%s), declared by a login method, is served as %+v (found: %v)", d.Method, d.Path, d.Operation, r, ok)
		}
	}
	if len(env.Server.Catalog) != len(all) {
		t.Errorf("the server serves %d catalog routes, Hallpass has %d", len(env.Server.Catalog), len(all))
	}
}

// routeProblems, which TestRoutesMatchCatalog relies on, finds both kinds
// of mismatch: a catalog route no handler serves, and a headless handler
// the catalog does not know. For a login method's routes (declared in
// internal/login, bound by a slice through api.Compose): a declared route
// no slice binds is in the catalog with no handler, and a binding for an
// operation no method declares stops the composition.
func TestRouteProblemsCatchMismatches(t *testing.T) {
	app := fiber.New()
	ok := func(*fiber.Ctx) error { return nil }
	group := app.Group(headlessPrefix)
	group.Get("/config", ok)
	group.Post("/auth/unlisted", ok) // registered around the catalog
	app.Get("/.well-known/jwks.json", ok)
	composed, err := api.Compose(login.Registry{pinMethod{}}, []api.Slice{pinSlice{opPinCheck: ok}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range composed.Bound() {
		group.Add(r.Method, r.Path, r.Handler)
	}
	catalog := append(api.Catalog{
		{Method: "GET", Path: "/config", Rule: api.Always, Handler: ok},
		{Method: "GET", Path: "/auth/session", Rule: api.Always, Handler: ok}, // never registered
	}, composed...)
	got := routeProblems(app.GetRoutes(true), catalog)
	want := []string{
		"POST /_allauth/:client/v1/auth/unlisted has a handler but is not in the catalog",
		"GET /auth/session is in the catalog but has no handler",
		"POST /auth/pin/send is in the catalog but has no handler", // declared, never bound
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_, err = api.Compose(login.Registry{pinMethod{}}, []api.Slice{pinSlice{opPinCheck: ok, opPinSend: ok, "pin.reset": ok}})
	if err == nil || !strings.Contains(err.Error(), `"pin.reset", which no login method declares`) {
		t.Errorf("a handler bound to an undeclared operation: %v", err)
	}
}

// pinMethod is a login method only the route tests register.
type pinMethod struct{}

const opPinSend, opPinCheck = "pin.send", "pin.check"

func (pinMethod) ID() string                                          { return "pin" }
func (pinMethod) Flows(login.View) []login.Flow                       { return nil }
func (pinMethod) ReauthenticationFlows(login.ReauthView) []login.Flow { return nil }
func (pinMethod) Stages() []login.Stage                               { return nil }
func (pinMethod) Routes() []login.Route {
	return []login.Route{
		{Method: "POST", Path: "/auth/pin/send", Rule: api.Always, Operation: opPinSend},
		{Method: "POST", Path: "/auth/pin/check", Rule: api.Always, Operation: opPinCheck},
	}
}

// pinSlice binds pinMethod's operations, with no route of its own.
type pinSlice api.Bindings

func (pinSlice) Routes() []api.Route  { return nil }
func (s pinSlice) Bind() api.Bindings { return api.Bindings(s) }

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
				for _, r := range server.Catalog() {
					want := r.Routed(env.Tenant.Settings, client)
					body := ""
					if r.Method != "GET" {
						body = "{}"
					}
					res := fe.Do(r.Method, strings.TrimPrefix(r.Path, "/"), body)
					absent := res.Code == 404 && strings.TrimSpace(string(res.Body)) == `{"status":404}`
					if absent == want {
						t.Errorf("%s %s %s (rule: %s): routed=%v but got %d %s", client, r.Method, r.Path, r.Rule.Text, want, res.Code, res.Body)
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
