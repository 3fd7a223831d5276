package social_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/social/oidctest"
	"github.com/hallpass/hallpass/tenants"
)

const tenantProviders = `{"HALLPASS_APPS": ["socialaccount"], "SOCIALACCOUNT_PROVIDERS": {
	"google": {"APPS": [{"client_id": "g-web", "secret": "s"}, {"client_id": "g-ios", "settings": {"hidden": true}}]},
	"github": {"APP": {"client_id": "gh", "secret": "s"}},
	"openid_connect": {"APPS": [
		{"provider_id": "acme", "name": "Acme", "client_id": "acme-client", "secret": "x", "settings": {"server_url": "https://sso.acme.example"}},
		{"provider_id": "beta", "name": "Beta", "client_id": "beta-client", "secret": "y", "settings": {"server_url": "https://sso.beta.example"}}
	]}}}`

func parsedSettings(t *testing.T) *tenants.Settings {
	t.Helper()
	s, err := tenants.ParseSettings([]byte(tenantProviders))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFindApp(t *testing.T) {
	s := parsedSettings(t)
	for _, c := range []struct{ sub, client, wantClient string }{
		{"google", "", "g-web"}, // the hidden app is dropped when ambiguous
		{"google", "g-ios", "g-ios"},
		{"github", "", "gh"},
		{"acme", "", "acme-client"},
		{"beta", "beta-client", "beta-client"},
	} {
		app, ps, err := social.FindApp(s, c.sub, c.client)
		if err != nil || app.ClientID != c.wantClient || len(ps.Apps) == 0 {
			t.Errorf("FindApp(%q, %q) = %+v, %v", c.sub, c.client, app, err)
		}
	}
	for _, c := range []struct{ sub, client string }{
		{"google", "nope"}, {"facebook", ""}, {"openid_connect", ""}, {"acme", "beta-client"},
	} {
		if _, _, err := social.FindApp(s, c.sub, c.client); !errors.Is(err, social.ErrUnknownProvider) {
			t.Errorf("FindApp(%q, %q): err = %v, want unknown_provider", c.sub, c.client, err)
		}
	}
}

func TestCheckTokenInput(t *testing.T) {
	s := parsedSettings(t)
	for _, c := range []struct {
		name, provider string
		token          any
		want           *social.Error
	}{
		{"token not an object", "google", "x", social.ErrInvalidToken},
		{"no client_id", "google", map[string]any{"id_token": "x"}, social.ErrClientIDRequired},
		{"client_id not a string", "google", map[string]any{"client_id": 5, "id_token": "x"}, social.ErrClientIDRequired},
		{"unknown client_id", "google", map[string]any{"client_id": "nope", "id_token": "x"}, social.ErrInvalidToken},
		{"unknown provider", "facebook", map[string]any{"client_id": "g-web", "id_token": "x"}, social.ErrInvalidToken},
		{"provider without token flow", "github", map[string]any{"client_id": "gh", "access_token": "x"}, social.ErrTokenAuthNotSupported},
		{"no token", "google", map[string]any{"client_id": "g-web"}, social.ErrTokenRequired},
		{"empty tokens", "google", map[string]any{"client_id": "g-web", "id_token": "", "access_token": ""}, social.ErrTokenRequired},
		{"id_token not a string", "google", map[string]any{"client_id": "g-web", "id_token": 5}, social.ErrTokenRequired},
		{"access_token not a string", "acme", map[string]any{"client_id": "acme-client", "id_token": "x", "access_token": []any{}}, social.ErrTokenRequired},
	} {
		_, err := social.CheckTokenInput(s, c.provider, c.token, true)
		var se *social.Error
		if !errors.As(err, &se) || se.Code != c.want.Code || se.Param != c.want.Param {
			t.Errorf("%s: err = %v, want %s on %s", c.name, err, c.want.Code, c.want.Param)
		}
	}
	r, err := social.CheckTokenInput(s, "google", map[string]any{"client_id": "g-ios", "id_token": "tok"}, true)
	if err != nil || r.Provider.ID() != "google" || r.App.ClientID != "g-ios" || r.IDToken != "tok" {
		t.Fatalf("valid input: %+v, %v", r, err)
	}
	r, err = social.CheckTokenInput(s, "acme", map[string]any{"client_id": "acme-client", "access_token": "at"}, true)
	if err != nil || r.Provider.ID() != "acme" || r.AccessToken != "at" {
		t.Fatalf("valid input: %+v, %v", r, err)
	}
	// As allauth, an access token alone does not log in.
	if _, err := social.VerifyToken(context.Background(), r); !errors.Is(err, social.ErrInvalidToken) {
		t.Errorf("access token only: %v", err)
	}
}

func TestVerifyTokenEndToEnd(t *testing.T) {
	srv := oidctest.Start(t)
	s := settingsWith("openid_connect", tenants.ProviderSettings{Apps: []tenants.SocialApp{{
		ClientID: srv.ClientID, Secret: srv.ClientSecret, ProviderID: "acme", Settings: map[string]any{"server_url": srv.URL},
	}}})
	token := map[string]any{"client_id": srv.ClientID, "id_token": srv.IDToken(t, oidctest.TokenOptions{})}
	r, err := social.CheckTokenInput(s, "acme", token, true, social.WithCache(social.NewCache()))
	if err != nil {
		t.Fatal(err)
	}
	prof, err := social.VerifyToken(context.Background(), r)
	if err != nil || prof.UID != srv.User().Sub {
		t.Fatalf("VerifyToken: %+v, %v", prof, err)
	}
	// The default client refuses loopback providers (SSRF guard).
	r, err = social.CheckTokenInput(s, "acme", token, false, social.WithCache(social.NewCache()))
	if err != nil {
		t.Fatal(err)
	}
	_, err = social.VerifyToken(context.Background(), r)
	if !errors.Is(err, social.ErrInvalidToken) || !errors.Is(err, social.ErrForbiddenAddress) {
		t.Errorf("loopback provider with the public client: %v", err)
	}
}

func TestVerifyAccessToken(t *testing.T) {
	ctx := context.Background()
	srv := oidctest.Start(t)

	// Google: tokeninfo names this app, then userinfo.
	google := googleAt(t, srv, nil)
	prof, err := google.VerifyAccessToken(ctx, srv.AccessToken())
	if err != nil || prof.UID != srv.User().Sub || !prof.EmailVerified {
		t.Fatalf("google: %+v, %v", prof, err)
	}
	if _, err := google.VerifyAccessToken(ctx, "bogus"); !errors.Is(err, social.ErrInvalidToken) {
		t.Errorf("google bogus token: %v", err)
	}
	// A token issued to another client (tokeninfo aud) is refused.
	other := plainProvider(t, "google", tenants.SocialApp{ClientID: "another-client"}, nil,
		social.WithEndpoints(oidcEndpoints(srv)), social.WithCache(social.NewCache()))
	if _, err := other.VerifyAccessToken(ctx, srv.AccessToken()); !errors.Is(err, social.ErrInvalidToken) {
		t.Errorf("google token of another client: %v", err)
	}

	// OpenID Connect: userinfo.
	oidc := oidcAt(t, srv, nil)
	prof, err = oidc.VerifyAccessToken(ctx, srv.AccessToken())
	if err != nil || prof.UID != srv.User().Sub || prof.Extra["userinfo"] == nil {
		t.Fatalf("oidc: %+v, %v", prof, err)
	}
	if _, err := oidc.VerifyAccessToken(ctx, "bogus"); !errors.Is(err, social.ErrInvalidToken) {
		t.Errorf("oidc bogus token: %v", err)
	}

	// GitHub: the app's token check, then /user.
	gh := oidctest.StartGitHub(t)
	github := githubAt(t, gh, social.WithQueryEmail(true))
	prof, err = github.VerifyAccessToken(ctx, gh.AccessToken())
	if err != nil || prof.UID != "583231" || prof.Email != "octocat@example.com" || !prof.EmailVerified {
		t.Fatalf("github: %+v, %v", prof, err)
	}
	if _, err := github.VerifyAccessToken(ctx, gh.ForeignAccessToken()); !errors.Is(err, social.ErrInvalidToken) {
		t.Errorf("github token of another app: %v", err)
	}
	if _, err := github.VerifyIDToken(ctx, "x", ""); !errors.Is(err, social.ErrTokenAuthNotSupported) {
		t.Errorf("github VerifyIDToken: %v", err)
	}

	// Apple has no userinfo.
	apple := plainProvider(t, "apple", tenants.SocialApp{ClientID: "c"}, nil)
	if _, err := apple.VerifyAccessToken(ctx, "x"); !errors.Is(err, social.ErrTokenAuthNotSupported) {
		t.Errorf("apple: %v", err)
	}
}
