package tenants

import (
	"slices"

	"github.com/hallpass/hallpass/internal/providers"
)

// ProviderApps lists the tenant's configured social apps (sorted by
// provider, then by app order), as the provider registry sees them.
func (s *Settings) ProviderApps() []providers.App {
	names := make([]string, 0, len(s.SocialAccountProviders))
	for name := range s.SocialAccountProviders {
		names = append(names, name)
	}
	slices.Sort(names)
	var out []providers.App
	for _, name := range names {
		for _, app := range s.SocialAccountProviders[name].Apps {
			serverURL, _ := app.Settings["server_url"].(string)
			out = append(out, providers.App{
				Provider:   name,
				ProviderID: app.ProviderID,
				Name:       app.Name,
				ClientID:   app.ClientID,
				ServerURL:  serverURL,
			})
		}
	}
	return out
}

// ProviderApp returns the first configured app whose sub-id is subID.
func (s *Settings) ProviderApp(subID string) (providers.App, bool) {
	for _, a := range s.ProviderApps() {
		if a.SubID() == subID {
			return a, true
		}
	}
	return providers.App{}, false
}
