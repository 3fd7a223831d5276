package social_test

import (
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/social/oidctest"
	"github.com/hallpass/hallpass/tenants"
)

// callback is the backend callback URL the tests use.
const callback = "https://acme.hallpass.test/accounts/provider/callback/"

// settingsWith returns default tenant settings with one provider entry.
func settingsWith(provider string, ps tenants.ProviderSettings) *tenants.Settings {
	s := tenants.DefaultSettings()
	s.SocialAccountProviders = map[string]tenants.ProviderSettings{provider: ps}
	s.SocialAccountQueryEmail = true
	s.SocialAccountRequestsTimeout = 5
	return s
}

// newProvider builds the provider of the only app of s's provider entry,
// with a private cache, allowing loopback.
func newProvider(t *testing.T, s *tenants.Settings, subID string, opts ...social.Option) social.Provider {
	t.Helper()
	opts = append([]social.Option{social.WithCache(social.NewCache())}, opts...)
	p, err := social.ForTenant(s, subID, "", true, opts...)
	if err != nil {
		t.Fatalf("ForTenant(%s): %v", subID, err)
	}
	return p
}

// oidcEndpoints points Google- or Apple-style providers at an oidctest server.
func oidcEndpoints(s *oidctest.Server) social.Endpoints {
	return social.Endpoints{
		Authorize: s.AuthorizeURL(), Token: s.TokenURL(), Userinfo: s.UserinfoURL(),
		TokenInfo: s.TokenInfoURL(), JWKS: s.JWKSURL(), Issuer: s.Issuer(),
	}
}

// googleAt is a Google provider talking to srv.
func googleAt(t *testing.T, srv *oidctest.Server, edit func(*tenants.ProviderSettings), opts ...social.Option) social.Provider {
	t.Helper()
	ps := tenants.ProviderSettings{Apps: []tenants.SocialApp{{ClientID: srv.ClientID, Secret: srv.ClientSecret}}}
	if edit != nil {
		edit(&ps)
	}
	return newProvider(t, settingsWith("google", ps), "google", append([]social.Option{social.WithEndpoints(oidcEndpoints(srv))}, opts...)...)
}

// oidcAt is a generic OpenID Connect app "acme-sso" discovered from srv.
func oidcAt(t *testing.T, srv *oidctest.Server, appSettings map[string]any, opts ...social.Option) social.Provider {
	t.Helper()
	settings := map[string]any{"server_url": srv.URL}
	for k, v := range appSettings {
		settings[k] = v
	}
	ps := tenants.ProviderSettings{Apps: []tenants.SocialApp{{
		ClientID: srv.ClientID, Secret: srv.ClientSecret, ProviderID: "acme-sso", Name: "Acme SSO", Settings: settings,
	}}}
	return newProvider(t, settingsWith("openid_connect", ps), "acme-sso", opts...)
}

// githubAt is a GitHub provider talking to gh.
func githubAt(t *testing.T, gh *oidctest.GitHub, opts ...social.Option) social.Provider {
	t.Helper()
	ps := tenants.ProviderSettings{Apps: []tenants.SocialApp{{ClientID: gh.ClientID, Secret: gh.ClientSecret}}}
	ep := social.Endpoints{Authorize: gh.AuthorizeURL(), Token: gh.TokenURL(), API: gh.APIURL()}
	return newProvider(t, settingsWith("github", ps), "github", append([]social.Option{social.WithEndpoints(ep)}, opts...)...)
}

// plainProvider builds a provider without any server, for URL tests.
func plainProvider(t *testing.T, provider string, app tenants.SocialApp, edit func(*tenants.ProviderSettings), opts ...social.Option) social.Provider {
	t.Helper()
	ps := tenants.ProviderSettings{Apps: []tenants.SocialApp{app}}
	if edit != nil {
		edit(&ps)
	}
	p, err := social.New(providers.App{Provider: provider, ProviderID: app.ProviderID, ClientID: app.ClientID, Name: app.Name},
		ps, social.NewHTTPClient(time.Second, true), opts...)
	if err != nil {
		t.Fatalf("New(%s): %v", provider, err)
	}
	return p
}

func ptr[T any](v T) *T { return &v }
