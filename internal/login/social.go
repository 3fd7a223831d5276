package login

import (
	"slices"

	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/tenants"
)

// social is login with the tenant's provider apps (one per configured
// provider, from the tenant's settings): the browser redirect flow, the app
// token flow, and the provider signup that may follow either.
type social struct{}

func (social) ID() string { return MethodSocial }

func (social) Flows(v View) []Flow {
	s := v.Settings
	if !slices.Contains(s.Apps, tenants.AppSocialAccount) {
		return nil
	}
	var redirect, token []string
	for _, app := range s.ProviderApps() {
		k, ok := providers.Lookup(app.Provider)
		if !ok || !k.Supports(v.Client) {
			continue
		}
		if k.Redirect {
			redirect = append(redirect, app.SubID())
		}
		if k.Token {
			token = append(token, app.SubID())
		}
	}
	var out []Flow
	if len(redirect) > 0 && v.Client == "browser" {
		out = append(out, Flow{"id": FlowProviderRedirect, "providers": redirect})
	}
	if len(token) > 0 {
		out = append(out, Flow{"id": FlowProviderToken, "providers": token})
	}
	if v.HasSession && (len(redirect) > 0 || len(token) > 0) && v.PendingSocialSignup != nil {
		if p := v.PendingSocialSignup(); p != "" {
			if app, ok := s.ProviderApp(p); ok {
				out = append(out, Flow{"id": FlowProviderSignup, "provider": providers.Describe(app), "is_pending": true})
			}
		}
	}
	return out
}

func (social) ReauthenticationFlows(ReauthView) []Flow { return nil }

func (social) Stages() []string { return nil }
