package spec_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v4"

	"github.com/hallpass/hallpass/api/apitest"
)

func fetch(t *testing.T, env *apitest.Env, ext string) *apitest.Response {
	t.Helper()
	return env.Raw("GET", "/t/"+env.Tenant.Slug+"/_allauth/openapi."+ext, "")
}

func TestServedSpecification(t *testing.T) {
	t.Run("off by default", func(t *testing.T) {
		env := apitest.New(t, nil)
		for _, ext := range []string{"json", "yaml", "html"} {
			if res := fetch(t, env, ext); res.Code != 404 {
				t.Fatalf("%s: %d", ext, res.Code)
			}
		}
	})
	t.Run("rewritten for the tenant", func(t *testing.T) {
		env := apitest.New(t, apitest.Settings{
			"HEADLESS_SERVE_SPECIFICATION": true,
			"HEADLESS_CLIENTS":             []string{"app"},
			"ACCOUNT_LOGIN_METHODS":        []string{"email"},
			"ACCOUNT_SIGNUP_FIELDS":        []string{"email*", "password1*"},
			"HALLPASS_APPS":                []string{"usersessions"},
		})
		res := fetch(t, env, "json")
		if res.Code != 200 {
			t.Fatalf("%d %s", res.Code, res.Body)
		}
		doc, err := openapi3.NewLoader().LoadFromData(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		if err := doc.Validate(openapi3.NewLoader().Context, openapi3.DisableExamplesValidation()); err != nil {
			t.Fatalf("served document is not valid OpenAPI: %v", err)
		}
		if doc.Servers[0].URL != "http://hallpass.test/t/"+env.Tenant.Slug {
			t.Fatalf("servers: %v", doc.Servers[0].URL)
		}
		must := []string{"/_allauth/app/v1/config", "/_allauth/app/v1/auth/login", "/_allauth/app/v1/auth/sessions", "/_allauth/app/v1/tokens/refresh"}
		for _, p := range must {
			if doc.Paths.Value(p) == nil {
				t.Errorf("missing %s", p)
			}
		}
		for _, p := range doc.Paths.InMatchingOrder() {
			if strings.Contains(p, "{client}") || strings.Contains(p, "/browser/") {
				t.Errorf("client not pinned: %s", p)
			}
			if strings.Contains(p, "code/request") || strings.Contains(p, "provider") || strings.Contains(p, "authenticators") {
				t.Errorf("unrouted path served: %s", p)
			}
		}
		base := doc.Components.Schemas["BaseSignup"].Value
		if len(base.Properties) != 1 || base.Properties["email"] == nil || len(base.Required) != 1 || base.Required[0] != "email" {
			t.Fatalf("signup not narrowed: %+v %v", base.Properties, base.Required)
		}
		y := fetch(t, env, "yaml")
		var fromYAML map[string]any
		if y.Code != 200 || yaml.Unmarshal(y.Body, &fromYAML) != nil || fromYAML["openapi"] == nil || strings.HasPrefix(string(y.Body), "{") {
			t.Fatalf("yaml: %d %.200s", y.Code, y.Body)
		}
		html := fetch(t, env, "html")
		if html.Code != 200 || !strings.Contains(string(html.Body), "redoc.standalone.js") || strings.Contains(string(html.Body), "cdn") {
			t.Fatalf("html: %s", html.Body)
		}
		asset := env.Raw("GET", "/t/"+env.Tenant.Slug+"/_allauth/openapi-assets/redoc.standalone.js", "")
		if asset.Code != 200 || len(asset.Body) < 500000 {
			t.Fatalf("embedded redoc: %d %d bytes", asset.Code, len(asset.Body))
		}
	})
	t.Run("swagger viewer and both clients", func(t *testing.T) {
		env := apitest.New(t, apitest.Settings{
			"HEADLESS_SERVE_SPECIFICATION":         true,
			"HEADLESS_SPECIFICATION_TEMPLATE_NAME": "headless/spec/swagger_cdn.html",
			"ACCOUNT_LOGIN_BY_CODE_ENABLED":        true,
		})
		html := fetch(t, env, "html")
		if html.Code != 200 || !strings.Contains(string(html.Body), "swagger-ui-bundle.js") {
			t.Fatalf("html: %s", html.Body)
		}
		res := fetch(t, env, "json")
		var raw struct {
			Paths map[string]any `json:"paths"`
		}
		_ = json.Unmarshal(res.Body, &raw)
		if raw.Paths["/_allauth/{client}/v1/auth/code/request"] == nil {
			t.Fatalf("login by code routed but not described")
		}
		if raw.Paths["/_allauth/app/v1/tokens/refresh"] == nil {
			t.Fatalf("app-only path missing")
		}
	})
}

// The tenant's document describes Hallpass's extensions as such: the
// profile endpoint (tagged, marked), the declared signup fields in the
// signup bodies, the fields in the profile schemas, config's hallpass
// object, and the serializer's keys on the user object, typed where
// type-checking knows the type.
func TestServedSpecificationDescribesUserData(t *testing.T) {
	env := apitest.New(t, apitest.Settings{
		"HEADLESS_SERVE_SPECIFICATION": true,
		"HEADLESS_CLIENTS":             []string{"browser"},
		"HALLPASS_USER_FIELDS": []map[string]any{
			{"name": "first_name", "type": "string", "required": true, "max_length": 30, "signup": true, "user_editable": true},
			{"name": "plan", "type": "choice", "choices": []string{"free", "pro"}, "signup": true},
			{"name": "birthday", "type": "date", "user_editable": true},
		},
		"HALLPASS_USER_SERIALIZER": map[string]string{
			"greeting":   "'Hello ' + user.email",
			"mails":      "size(user.emails)",
			"avatar":     "has(user.public_metadata.avatar) ? user.public_metadata.avatar : null",
			"first_name": "user.profile.first_name",
		},
	})
	res := fetch(t, env, "json")
	if res.Code != 200 {
		t.Fatalf("%d %s", res.Code, res.Body)
	}
	doc, err := openapi3.NewLoader().LoadFromData(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(openapi3.NewLoader().Context, openapi3.DisableExamplesValidation()); err != nil {
		t.Fatalf("served document is not valid OpenAPI: %v", err)
	}
	item := doc.Paths.Value("/_allauth/browser/v1/account/profile")
	if item == nil || item.Get == nil || item.Post == nil {
		t.Fatal("account/profile not described")
	}
	for _, op := range []*openapi3.Operation{item.Get, item.Post} {
		if len(op.Tags) != 1 || op.Tags[0] != "Hallpass extensions" || op.Extensions["x-hallpass-extension"] != true {
			t.Fatalf("not marked as an extension: %v %v", op.Tags, op.Extensions)
		}
	}
	if item.Post.Responses.Status(400) == nil || item.Get.Responses.Status(401) == nil {
		t.Fatal("profile statuses missing")
	}
	schemas := doc.Components.Schemas
	base := schemas["BaseSignup"].Value
	first, plan := base.Properties["first_name"], base.Properties["plan"]
	if first == nil || first.Value.MaxLength == nil || *first.Value.MaxLength != 30 || plan == nil || len(plan.Value.Enum) != 3 ||
		base.Properties["birthday"] != nil || !contains(base.Required, "first_name") || contains(base.Required, "plan") {
		t.Fatalf("signup fields: %+v required %v", base.Properties, base.Required)
	}
	change := schemas["ProfileChange"].Value
	if change.Properties["plan"] != nil || change.Properties["birthday"].Value.Format != "date" || change.AdditionalProperties.Has == nil || *change.AdditionalProperties.Has {
		t.Fatalf("ProfileChange: %+v", change.Properties)
	}
	if len(schemas["Profile"].Value.Properties) != 3 {
		t.Fatalf("Profile: %+v", schemas["Profile"].Value.Properties)
	}
	if cfg := schemas["ConfigurationResponse"].Value.Properties["data"].Value.Properties["hallpass"]; cfg == nil {
		t.Fatal("config's hallpass object not described")
	}
	user := schemas["User"].Value.Properties
	want := map[string]string{"greeting": "string", "mails": "integer", "avatar": "", "first_name": ""}
	for k, typ := range want {
		p := user[k]
		if p == nil || p.Value.Extensions["x-hallpass-extension"] != true {
			t.Fatalf("user key %s not described", k)
		}
		if got := ""; p.Value.Type != nil && len(*p.Value.Type) == 1 {
			got = (*p.Value.Type)[0]
			if got != typ {
				t.Errorf("user key %s: type %q, want %q", k, got, typ)
			}
		} else if typ != "" {
			t.Errorf("user key %s: untyped, want %q", k, typ)
		}
	}
	if user["id"] == nil || user["display"] == nil {
		t.Fatal("allauth's user keys lost")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
