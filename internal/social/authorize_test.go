package social_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/social/oidctest"
	"github.com/hallpass/hallpass/tenants"
)

func authorizeQuery(t *testing.T, p social.Provider, ap social.AuthParams) (*url.URL, url.Values) {
	t.Helper()
	raw, err := p.AuthorizeURL(context.Background(), ap)
	if err != nil {
		t.Fatalf("AuthorizeURL: %v", err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u, u.Query()
}

func wantParams(t *testing.T, q url.Values, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got, ok := q[k]; !ok && v != "" || ok && (len(got) != 1 || got[0] != v) {
			t.Errorf("%s = %q, want %q (query %v)", k, q[k], v, q)
		}
	}
}

func wantAbsent(t *testing.T, q url.Values, keys ...string) {
	t.Helper()
	for _, k := range keys {
		if q.Has(k) {
			t.Errorf("%s = %q, want absent", k, q.Get(k))
		}
	}
}

func TestAuthorizeURLGoogle(t *testing.T) {
	verifier, challenge := social.NewPKCE()
	_ = verifier
	ap := social.AuthParams{State: "st", Nonce: "n0nce", CodeChallenge: challenge, RedirectURI: callback}

	p := plainProvider(t, "google", tenants.SocialApp{ClientID: "g-client", Secret: "s"}, nil)
	u, q := authorizeQuery(t, p, ap)
	if got := u.Scheme + "://" + u.Host + u.Path; got != "https://accounts.google.com/o/oauth2/v2/auth" {
		t.Errorf("endpoint = %s", got)
	}
	wantParams(t, q, map[string]string{
		"client_id": "g-client", "redirect_uri": callback, "response_type": "code",
		"scope": "profile", "state": "st", "nonce": "n0nce",
	})
	// PKCE is off by default (allauth's pkce_enabled_default).
	wantAbsent(t, q, "code_challenge", "code_challenge_method", "client_secret")

	// QUERY_EMAIL adds email; OAUTH_PKCE_ENABLED adds the S256 challenge;
	// AUTH_PARAMS pass through but cannot override the flow's parameters.
	p = plainProvider(t, "google", tenants.SocialApp{ClientID: "g-client"}, func(ps *tenants.ProviderSettings) {
		ps.OAuthPKCEEnabled = ptr(true)
		ps.AuthParams = map[string]string{"access_type": "online", "prompt": "select_account", "state": "evil", "client_id": "evil"}
	}, social.WithQueryEmail(true))
	_, q = authorizeQuery(t, p, ap)
	wantParams(t, q, map[string]string{
		"scope": "profile email", "code_challenge": challenge, "code_challenge_method": "S256",
		"access_type": "online", "prompt": "select_account", "state": "st", "client_id": "g-client",
	})
	// The flow's extras override AUTH_PARAMS.
	ap2 := ap
	ap2.Extra = map[string]string{"prompt": "consent", "login_hint": "jane@example.com"}
	_, q = authorizeQuery(t, p, ap2)
	wantParams(t, q, map[string]string{"prompt": "consent", "login_hint": "jane@example.com", "access_type": "online"})

	// PKCE enabled without a challenge is a programming error.
	if _, err := p.AuthorizeURL(context.Background(), social.AuthParams{State: "st", RedirectURI: callback}); err == nil {
		t.Error("PKCE without challenge accepted")
	}

	// SCOPE replaces the defaults; app settings.scope replaces SCOPE; the
	// flow's Scope replaces both.
	p = plainProvider(t, "google", tenants.SocialApp{ClientID: "g"}, func(ps *tenants.ProviderSettings) {
		ps.Scope = []string{"openid", "email"}
	}, social.WithQueryEmail(true))
	_, q = authorizeQuery(t, p, ap)
	wantParams(t, q, map[string]string{"scope": "openid email"})
	p = plainProvider(t, "google", tenants.SocialApp{ClientID: "g", Settings: map[string]any{"scope": []any{"openid"}}}, func(ps *tenants.ProviderSettings) {
		ps.Scope = []string{"openid", "email"}
	})
	_, q = authorizeQuery(t, p, ap)
	wantParams(t, q, map[string]string{"scope": "openid"})
	ap3 := ap
	ap3.Scope = []string{"email", "email", "profile"}
	_, q = authorizeQuery(t, p, ap3)
	wantParams(t, q, map[string]string{"scope": "email profile"})
}

func TestAuthorizeURLGitHub(t *testing.T) {
	ap := social.AuthParams{State: "st", Nonce: "n0nce", RedirectURI: callback}
	p := plainProvider(t, "github", tenants.SocialApp{ClientID: "gh"}, nil)
	u, q := authorizeQuery(t, p, ap)
	if got := u.Scheme + "://" + u.Host + u.Path; got != "https://github.com/login/oauth/authorize" {
		t.Errorf("endpoint = %s", got)
	}
	wantParams(t, q, map[string]string{"client_id": "gh", "redirect_uri": callback, "response_type": "code", "state": "st"})
	// No default scope without QUERY_EMAIL, and no nonce (not OpenID).
	wantAbsent(t, q, "scope", "nonce", "code_challenge")

	p = plainProvider(t, "github", tenants.SocialApp{ClientID: "gh"}, func(ps *tenants.ProviderSettings) {
		ps.Extra = map[string]any{"GITHUB_URL": "https://ghe.example.com/"}
	}, social.WithQueryEmail(true))
	u, q = authorizeQuery(t, p, ap)
	if got := u.Scheme + "://" + u.Host + u.Path; got != "https://ghe.example.com/login/oauth/authorize" {
		t.Errorf("GitHub Enterprise endpoint = %s", got)
	}
	wantParams(t, q, map[string]string{"scope": "user:email"})
}

func TestAuthorizeURLMicrosoft(t *testing.T) {
	ap := social.AuthParams{State: "st", Nonce: "n0nce", RedirectURI: callback}
	p := plainProvider(t, "microsoft", tenants.SocialApp{ClientID: "ms"}, nil)
	u, q := authorizeQuery(t, p, ap)
	if got := u.Scheme + "://" + u.Host + u.Path; got != "https://login.microsoftonline.com/common/oauth2/v2.0/authorize" {
		t.Errorf("endpoint = %s", got)
	}
	wantParams(t, q, map[string]string{"client_id": "ms", "scope": "User.Read", "state": "st", "response_type": "code"})
	wantAbsent(t, q, "nonce")

	// TENANT at provider level; the app's settings.tenant wins.
	p = plainProvider(t, "microsoft", tenants.SocialApp{ClientID: "ms"}, func(ps *tenants.ProviderSettings) {
		ps.Extra = map[string]any{"TENANT": "organizations"}
	})
	u, _ = authorizeQuery(t, p, ap)
	if !strings.HasPrefix(u.String(), "https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize?") {
		t.Errorf("TENANT: %s", u)
	}
	p = plainProvider(t, "microsoft", tenants.SocialApp{ClientID: "ms", Settings: map[string]any{
		"tenant": "contoso.onmicrosoft.com", "login_url": "https://login.example.com/",
	}}, func(ps *tenants.ProviderSettings) { ps.Extra = map[string]any{"TENANT": "organizations"} })
	u, _ = authorizeQuery(t, p, ap)
	if !strings.HasPrefix(u.String(), "https://login.example.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize?") {
		t.Errorf("app tenant: %s", u)
	}
	// A tenant cannot inject path segments.
	p = plainProvider(t, "microsoft", tenants.SocialApp{ClientID: "ms", Settings: map[string]any{"tenant": "x/../../evil"}}, nil)
	if _, err := p.AuthorizeURL(context.Background(), ap); err == nil {
		t.Error("path-injecting tenant accepted")
	}
}

func TestAuthorizeURLApple(t *testing.T) {
	ap := social.AuthParams{State: "st", Nonce: "n0nce", RedirectURI: callback}
	p := plainProvider(t, "apple", tenants.SocialApp{ClientID: "com.example.web, com.example.ios", Secret: "KEYID", Key: "TEAMID"}, nil,
		social.WithQueryEmail(true))
	u, q := authorizeQuery(t, p, ap)
	if got := u.Scheme + "://" + u.Host + u.Path; got != "https://appleid.apple.com/auth/authorize" {
		t.Errorf("endpoint = %s", got)
	}
	// The first of several client ids is used; Apple posts the answer.
	wantParams(t, q, map[string]string{
		"client_id": "com.example.web", "scope": "name email", "response_mode": "form_post",
		"response_type": "code id_token", "nonce": "n0nce", "state": "st",
	})
}

func TestAuthorizeURLOpenIDConnect(t *testing.T) {
	srv := oidctest.Start(t)
	_, challenge := social.NewPKCE()
	ap := social.AuthParams{State: "st", Nonce: "n0nce", CodeChallenge: challenge, RedirectURI: callback}
	p := oidcAt(t, srv, map[string]any{"oauth_pkce_enabled": true})
	if p.ID() != "acme-sso" {
		t.Errorf("ID = %q, want the provider_id", p.ID())
	}
	u, q := authorizeQuery(t, p, ap)
	if got := u.Scheme + "://" + u.Host + u.Path; got != srv.AuthorizeURL() {
		t.Errorf("endpoint = %s, want the discovered %s", got, srv.AuthorizeURL())
	}
	wantParams(t, q, map[string]string{
		"client_id": srv.ClientID, "scope": "openid profile email", "nonce": "n0nce",
		"code_challenge": challenge, "code_challenge_method": "S256", "state": "st",
	})
	// The discovery document is cached.
	_, _ = authorizeQuery(t, p, ap)
	if n := srv.Hits("/.well-known/openid-configuration"); n != 1 {
		t.Errorf("discovery fetched %d times, want 1", n)
	}
}

func TestPKCEAndNonce(t *testing.T) {
	v, c := social.NewPKCE()
	if len(v) != 43 || len(c) != 43 {
		t.Errorf("verifier %q challenge %q: want 43 characters each", v, c)
	}
	// RFC 7636 appendix B.
	if got := social.PKCEChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"); got != "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" {
		t.Errorf("PKCEChallenge = %s", got)
	}
	if a, b := social.NewNonce(), social.NewNonce(); a == b || len(a) < 43 {
		t.Errorf("nonces %q %q", a, b)
	}
	if v2, _ := social.NewPKCE(); v2 == v {
		t.Error("PKCE verifiers repeat")
	}
}
