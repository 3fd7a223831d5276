// Package providers describes the social login providers Hallpass supports:
// their allauth ids and names, which flows they offer, and how a configured
// app is presented to frontends. Adding a provider starts with one entry here.
package providers

import (
	"slices"
	"strings"
)

// Kind is a provider implementation: its allauth id and display name, and
// whether it supports the browser redirect flow and the app token flow.
type Kind struct {
	ID       string
	Name     string
	Redirect bool
	Token    bool
}

var kinds = map[string]Kind{
	"apple":          {ID: "apple", Name: "Apple", Redirect: true, Token: true},
	"github":         {ID: "github", Name: "GitHub", Redirect: true},
	"google":         {ID: "google", Name: "Google", Redirect: true, Token: true},
	"microsoft":      {ID: "microsoft", Name: "Microsoft", Redirect: true},
	"openid_connect": {ID: "openid_connect", Name: "OpenID Connect", Redirect: true, Token: true},
}

// Lookup returns the provider kind with allauth id id.
func Lookup(id string) (Kind, bool) {
	k, ok := kinds[id]
	return k, ok
}

// IDs lists the supported provider ids, sorted.
func IDs() []string {
	out := make([]string, 0, len(kinds))
	for id := range kinds {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// App is one configured OAuth/OIDC app of a tenant (allauth's SocialApp).
type App struct {
	Provider   string // allauth provider id, e.g. "google"
	ProviderID string // sub-id; required for openid_connect apps
	Name       string
	ClientID   string
	ServerURL  string // openid_connect: settings.server_url
}

// SubID is how frontends name the app: its provider_id, else the provider id.
func (a App) SubID() string {
	if a.ProviderID != "" {
		return a.ProviderID
	}
	return a.Provider
}

// Flow ids a provider can take part in.
const (
	FlowRedirect = "provider_redirect"
	FlowToken    = "provider_token"
)

// Data is a provider as allauth's headless API serialises it.
type Data struct {
	ID                     string   `json:"id"`
	Name                   string   `json:"name"`
	Flows                  []string `json:"flows"`
	ClientID               string   `json:"client_id,omitempty"`
	OpenIDConfigurationURL string   `json:"openid_configuration_url,omitempty"`
}

// Describe presents an app to frontends.
func Describe(a App) Data {
	k := kinds[a.Provider]
	d := Data{ID: a.SubID(), Name: k.Name, Flows: []string{}, ClientID: a.ClientID}
	if a.Provider == "openid_connect" {
		if a.Name != "" {
			d.Name = a.Name
		}
		d.OpenIDConfigurationURL = WellKnownURL(a.ServerURL)
	}
	if k.Redirect {
		d.Flows = append(d.Flows, FlowRedirect)
	}
	if k.Token {
		d.Flows = append(d.Flows, FlowToken)
	}
	return d
}

// WellKnownURL turns an OIDC server URL into its discovery document URL, as
// allauth does: append the well-known path unless the URL already has one.
func WellKnownURL(serverURL string) string {
	if serverURL == "" || strings.Contains(serverURL, "/.well-known/") {
		return serverURL
	}
	return strings.TrimSuffix(serverURL, "/") + "/.well-known/openid-configuration"
}

// Supports reports whether a provider kind can serve a client: browsers use
// the redirect flow, apps the token flow.
func (k Kind) Supports(client string) bool {
	switch client {
	case "browser":
		return k.Redirect
	case "app":
		return k.Token
	}
	return false
}

// ForClient lists the apps a client can use, described and sorted by name,
// as allauth's config and flows do.
func ForClient(apps []App, client string) []Data {
	out := []Data{}
	for _, a := range apps {
		if k, ok := kinds[a.Provider]; ok && k.Supports(client) {
			out = append(out, Describe(a))
		}
	}
	slices.SortStableFunc(out, func(a, b Data) int { return strings.Compare(a.Name, b.Name) })
	return out
}
