package api_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/login"
	"github.com/hallpass/hallpass/internal/login/methods"
	"github.com/hallpass/hallpass/tenants"
)

// phone is a login method only these tests register, as a new method
// would be written: its folder's one type declares its flow, its stage
// and its routes. ACCOUNT_LOGIN_BY_CODE_ENABLED stands in for its setting.
type phone struct{}

const (
	phoneFlow    = "phone_login"
	phoneStage   = "phone_verify"
	opPhoneSend  = "phone.send"
	opPhoneCheck = "phone.check"
)

var phoneRule = login.Rule{Text: "phone login on", When: func(s *tenants.Settings) bool { return s.LoginByCodeEnabled }}

func (phone) ID() string { return "phone" }

func (phone) Flows(v login.View) []login.Flow {
	if !phoneRule.When(v.Settings) {
		return nil
	}
	return []login.Flow{{"id": phoneFlow}}
}

func (phone) ReauthenticationFlows(login.ReauthView) []login.Flow { return nil }

func (phone) Stages() []login.Stage {
	return []login.Stage{{Key: phoneStage, Applies: func(context.Context, login.Pending) (bool, error) { return true, nil }}}
}

func (phone) Routes() []login.Route {
	return []login.Route{
		{Method: http.MethodPost, Path: "/auth/phone/send", Rule: phoneRule, Operation: opPhoneSend},
		{Method: http.MethodPost, Path: "/auth/phone/check", Client: api.ClientApp, Rule: phoneRule, Operation: opPhoneCheck},
	}
}

// phoneSlice is the api side of phone: it binds the handlers, and has no
// route of its own.
type phoneSlice struct{ bindings api.Bindings }

func (phoneSlice) Routes() []api.Route  { return nil }
func (s phoneSlice) Bind() api.Bindings { return s.bindings }
func ok(*fiber.Ctx) error               { return nil }
func settings(code bool) *tenants.Settings {
	s := tenants.DefaultSettings()
	s.LoginByCodeEnabled = code
	return s
}
func paths(routes []api.Route) (out []string) {
	for _, r := range routes {
		out = append(out, r.Method+" "+r.Path)
	}
	return out
}

// Adding a method is its folder (here the phone type) and one line in the
// registry: its flow reaches the flows array, its stage the pipeline and
// its routes the catalog, served under their rule and client, with the
// handlers its slice binds, and nothing else edited.
func TestAddingAMethod(t *testing.T) {
	registry := append(slices.Clone(methods.All), phone{}) // the registration line
	slice := phoneSlice{api.Bindings{opPhoneSend: ok, opPhoneCheck: ok}}
	catalog, err := api.Compose(registry, []api.Slice{slice})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/auth/phone/send", "/auth/phone/check"} {
		r, found := catalog.Lookup(http.MethodPost, p)
		if !found || r.Handler == nil || !strings.HasPrefix(r.Operation, "phone.") {
			t.Fatalf("POST %s: found=%v %+v", p, found, r)
		}
	}
	served := func(on bool, client string) []string {
		return paths(catalog.Bound().Served(settings(on), client))
	}
	if got := served(true, api.ClientApp); !slices.Equal(got, []string{"POST /auth/phone/send", "POST /auth/phone/check"}) {
		t.Errorf("app, phone on: %v", got)
	}
	if got := served(true, api.ClientBrowser); !slices.Equal(got, []string{"POST /auth/phone/send"}) {
		t.Errorf("browser, phone on: %v", got)
	}
	if got := served(false, api.ClientApp); len(got) != 0 {
		t.Errorf("app, phone off: %v", got)
	}
	// The registered methods' routes are all in the catalog too (no slice
	// here binds them: listed, not served).
	for _, d := range methods.All.Routes() {
		if r, found := catalog.Lookup(d.Method, d.Path); !found || r.Handler != nil || r.Operation != d.Operation {
			t.Errorf("%s %s: found=%v %+v", d.Method, d.Path, found, r)
		}
	}
	if got := registry.Stages(); !slices.Contains(got, phoneStage) || len(got) != len(methods.All.Stages())+1 {
		t.Errorf("stages = %v", got)
	}
	flows := registry.Flows(login.View{Settings: settings(true), Client: api.ClientApp}, nil)
	if !slices.ContainsFunc(flows, func(f login.Flow) bool { return f["id"] == phoneFlow }) {
		t.Errorf("flows = %v", flows)
	}
}

// Compose reports what no server may be built from: a binding for an
// operation no method declares, an operation two slices bind, a route
// declared twice (by a slice and a method) and an operation two methods
// declare; a declared route no slice
// binds is listed without a handler, which Bound leaves out.
func TestComposeReportsMismatches(t *testing.T) {
	registry := login.Registry{phone{}}
	own := ownSlice{{Method: http.MethodPost, Path: "/auth/phone/send", Rule: api.Always, Handler: ok}}
	catalog, err := api.Compose(registry, []api.Slice{own, phoneSlice{api.Bindings{opPhoneCheck: ok, "phone.undeclared": ok}}})
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`binds a handler to "phone.undeclared", which no login method declares`, "POST /auth/phone/send is declared twice"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if got := paths(catalog); !slices.Equal(got, []string{"POST /auth/phone/send", "POST /auth/phone/check"}) {
		t.Errorf("catalog = %v", got)
	}

	catalog, err = api.Compose(registry, []api.Slice{phoneSlice{api.Bindings{opPhoneCheck: ok}}})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := catalog.Lookup(http.MethodPost, "/auth/phone/send"); r.Handler != nil || r.Operation != opPhoneSend {
		t.Errorf("unbound route: %+v", r)
	}
	if got := paths(catalog.Bound()); !slices.Equal(got, []string{"POST /auth/phone/check"}) {
		t.Errorf("bound = %v", got)
	}

	_, err = api.Compose(registry, []api.Slice{phoneSlice{api.Bindings{opPhoneCheck: ok}}, phoneSlice{api.Bindings{opPhoneCheck: ok}}})
	if err == nil || !strings.Contains(err.Error(), `binds "phone.check", which another slice binds`) {
		t.Errorf("an operation bound twice: %v", err)
	}

	if _, err := api.Compose(login.Registry{phone{}, phone{}}, nil); err == nil || !strings.Contains(err.Error(), `operation "phone.send" is declared twice`) {
		t.Errorf("a method registered twice: %v", err)
	}
}

// ownSlice is a slice with routes of its own and no bindings.
type ownSlice []api.Route

func (s ownSlice) Routes() []api.Route { return s }
