// Package social is the social login method: the tenant's provider apps.
package social

import (
	"net/http"
	"slices"

	"github.com/hallpass/hallpass/internal/login"
	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/tenants"
)

// Operations of the social method's routes.
const (
	OpRedirect     = "social.redirect"
	OpToken        = "social.token"
	OpSignupInfo   = "social.signup_info"
	OpSignup       = "social.signup"
	OpListAccounts = "social.list_accounts"
	OpDisconnect   = "social.disconnect"
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

// Routes implements login.Method: the provider flows and the connected
// accounts, with socialaccount in HALLPASS_APPS. The provider callbacks
// are allauth's own paths outside the headless tree, and so outside the
// catalog (api/social serves them).
func (Method) Routes() []login.Route {
	app := login.AppEnabled(tenants.AppSocialAccount)
	return []login.Route{
		{Method: http.MethodPost, Path: "/auth/provider/redirect", Rule: app, Operation: OpRedirect},
		{Method: http.MethodPost, Path: "/auth/provider/token", Rule: app, Operation: OpToken},
		{Method: http.MethodGet, Path: "/auth/provider/signup", Rule: app, Operation: OpSignupInfo},
		{Method: http.MethodPost, Path: "/auth/provider/signup", Rule: app, Operation: OpSignup},
		{Method: http.MethodGet, Path: "/account/providers", Rule: app, Operation: OpListAccounts},
		{Method: http.MethodDelete, Path: "/account/providers", Rule: app, Operation: OpDisconnect},
	}
}
