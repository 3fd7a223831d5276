package social_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/social/oidctest"
)

// Two tenants with apps of the same provider (even the same client id)
// share nothing: a provider account signs up separately at each, one
// tenant's connected accounts are invisible at the other, and a redirect
// flow's state from one tenant is unknown at the other's callback.
func TestProvidersIsolatedByTenant(t *testing.T) {
	srv := oidctest.Start(t)
	srv.SetUser(oidctest.User{Sub: "g-shared", Email: "kim@example.com", EmailVerified: true})
	endpoints := social.Endpoints{Authorize: srv.AuthorizeURL(), Token: srv.TokenURL(), Userinfo: srv.UserinfoURL(),
		TokenInfo: srv.TokenInfoURL(), JWKS: srv.JWKSURL(), Issuer: srv.Issuer()}
	loginError := frontend + "/account/provider/error"
	settings := googleSettings(srv, apitest.Settings{"HEADLESS_FRONTEND_URLS": map[string]any{"socialaccount_login_error": loginError}})
	a, b := apitest.New(t, settings), apitest.New(t, settings)
	a.Social.Endpoints["google"], b.Social.Endpoints["google"] = endpoints, endpoints

	body := tokenBody("google", "login", map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{})})
	atA := a.Client("app")
	atA.Do("POST", "auth/provider/token", body).Status(200)
	atB := b.Client("app")
	// User ids are numbered per tenant (both may be 1): what must differ is
	// the account, which the counts below and the session check prove.
	atB.Do("POST", "auth/provider/token", body).Status(200)
	if users(t, a) != 1 || users(t, b) != 1 || socialAccounts(t, a) != 1 || socialAccounts(t, b) != 1 {
		t.Fatal("accounts leaked between tenants")
	}
	// A's session token means nothing at B.
	b.Do("app", "GET", "account/providers", "", "X-Session-Token", atA.Token).Status(410)
	// B cannot disconnect A's account, even naming it exactly: it is B's own
	// (separate) account that goes.
	atB.Do("DELETE", "account/providers", `{"provider":"google","account":"g-shared"}`).Status(400).Error("", "no_password")
	if socialAccounts(t, a) != 1 {
		t.Fatal("A's account touched from B")
	}

	// A redirect flow started at A, completed at B's callback.
	baseA, baseB := a.Listen(), b.Listen()
	browserA := newBrowserAt(t, baseA)
	browserA.api("GET", "config", "")
	form := url.Values{"provider": {"google"}, "process": {"login"}, "callback_url": {callbackURL}, "csrfmiddlewaretoken": {browserA.cookie("csrftoken")}}
	res, err := noRedirectClient(browserA.client.Jar).PostForm(baseA+"_allauth/browser/v1/auth/provider/redirect", form)
	if err != nil || res.StatusCode != http.StatusFound {
		t.Fatalf("redirect at A: %v %v", res, err)
	}
	res.Body.Close()
	res, err = noRedirectClient(nil).Get(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	callbackA := res.Header.Get("Location")
	callbackAtB := strings.Replace(callbackA, strings.TrimPrefix(baseA, "http://"), strings.TrimPrefix(baseB, "http://"), 1)
	if callbackAtB == callbackA {
		t.Fatal("could not move the callback to B")
	}
	browserB := newBrowserAt(t, baseB)
	got := browserB.get(callbackAtB)
	loc, _ := got.Location()
	if loc == nil || !strings.HasPrefix(loc.String(), loginError) || loc.Query().Get("error") != "unknown" {
		t.Fatalf("A's state at B: %d %v", got.StatusCode, got.Header.Get("Location"))
	}
	if status, _ := browserB.api("GET", "auth/session", ""); status != 401 {
		t.Fatal("logged in at B with A's flow")
	}
}
