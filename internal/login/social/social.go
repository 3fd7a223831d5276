// Package social is the social login method: the tenant's provider apps.
package social

import (
	"slices"

	"github.com/hallpass/hallpass/internal/login"
	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/tenants"
)

// Method is login with the tenant's provider apps (one per configured
// provider, from the tenant's settings): the browser redirect flow, the app
// token flow, and the provider signup that may follow either.
type Method struct{}

// ID implements login.Method.
func (Method) ID() string { return login.MethodSocial }

// Flows implements login.Method.
func (Method) Flows(v login.View) []login.Flow {
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
	var out []login.Flow
	if len(redirect) > 0 && v.Client == "browser" {
		out = append(out, login.Flow{"id": login.FlowProviderRedirect, "providers": redirect})
	}
	if len(token) > 0 {
		out = append(out, login.Flow{"id": login.FlowProviderToken, "providers": token})
	}
	if v.HasSession && (len(redirect) > 0 || len(token) > 0) && v.PendingSocialSignup != nil {
		if p := v.PendingSocialSignup(); p != "" {
			if app, ok := s.ProviderApp(p); ok {
				out = append(out, login.Flow{"id": login.FlowProviderSignup, "provider": providers.Describe(app), "is_pending": true})
			}
		}
	}
	return out
}

// ReauthenticationFlows implements login.Method.
func (Method) ReauthenticationFlows(login.ReauthView) []login.Flow { return nil }

// Stages implements login.Method.
func (Method) Stages() []login.Stage { return nil }
