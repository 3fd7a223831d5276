package social

import (
	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/tenants"
)

// displayKeys are, per provider, the extra_data fields that name an account
// to people, most telling first (allauth's ProviderAccount.to_str).
var displayKeys = map[string][]string{
	"apple":          {"email"},
	"github":         {"login", "name"},
	"google":         {"email", "name"},
	"microsoft":      {"mail", "userPrincipalName", "email", "displayName"},
	"openid_connect": {"email", "preferred_username", "name"},
}

// Display is how a connected account is shown (the headless `display`):
// a name or address from its extra_data, else the provider's name.
func Display(provider string, extra map[string]any) string {
	// OpenID Connect apps keep the claims under userinfo and id_token.
	for _, data := range []any{extra, extra["userinfo"], extra["id_token"]} {
		m, _ := data.(map[string]any)
		for _, k := range displayKeys[provider] {
			if s, ok := m[k].(string); ok && s != "" {
				return s
			}
		}
	}
	if k, ok := providers.Lookup(provider); ok {
		return k.Name
	}
	return provider
}

// EmailAuthentication reports whether a login with app may sign into the
// local account holding one of its verified addresses: the app's
// settings.email_authentication when set, else
// SOCIALACCOUNT_EMAIL_AUTHENTICATION or the provider's EMAIL_AUTHENTICATION
// (allauth's can_authenticate_by_email).
func EmailAuthentication(s *tenants.Settings, app providers.App) bool {
	if v, ok := appSettings(s, app)["email_authentication"].(bool); ok {
		return v
	}
	if s.SocialAccountEmailAuthentication {
		return true
	}
	ps := s.SocialAccountProviders[app.Provider]
	return ps.EmailAuthentication != nil && *ps.EmailAuthentication
}
