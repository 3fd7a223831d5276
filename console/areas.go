package console

import "github.com/hallpass/hallpass/web"

// The console's handlers, grouped by the area of the console they serve.
// Each group is the Console seen from that area: it embeds the Console (its
// stores, rendering, audit and guards) and adds the area's own pages and
// steps. The route table names a group's handler with on.
type (
	// signInPages are sign-in with a password, sign-out, the account page
	// and home (auth.go).
	signInPages struct{ *Console }
	// secondFactorPages are the second sign-in step and passkey sign-in
	// (mfa_login.go).
	secondFactorPages struct{ *Console }
	// securityPages are a console user's own second factors: re-authentication,
	// TOTP, recovery codes and passkeys (security.go).
	securityPages struct{ *Console }
	// memberPages are a tenant's members and invitations (members.go,
	// invite.go).
	memberPages struct{ *Console }
	// tenantPages are the tenant list, creation, overview, renaming, deletion
	// and domains (tenants.go, domains.go).
	tenantPages struct{ *Console }
	// settingsPages are a tenant's settings, as forms, as JSON and their
	// history (settings.go, settings_json.go, history.go).
	settingsPages struct{ *Console }
	// userPages are a tenant's users and what the console does to them
	// (tenant_users.go).
	userPages struct{ *Console }
	// toolPages are a tenant's quickstart, audit trail, dev inbox and signing
	// keys (pages.go).
	toolPages struct{ *Console }
	// apiKeyPages are the management API's keys, a tenant's and the
	// platform's (apikeys.go).
	apiKeyPages struct{ *Console }
	// webhookPages are a tenant's webhook endpoints and their delivery
	// log (webhooks.go).
	webhookPages struct{ *Console }
)

// on adapts a group's handler to the route table's shape.
func on[G ~struct{ *Console }](handle func(G, *request) error) func(*Console, *request) error {
	return func(h *Console, r *request) error { return handle(G{h}, r) }
}

// tenantNav is the side navigation of a tenant's pages: the areas this
// console has.
func (h *Console) tenantNav(slug string) []web.NavItem {
	items := []web.NavItem{{Key: "overview", Label: "Overview", Href: tenantPath(slug, "")}}
	if h.accounts != nil {
		items = append(items, web.NavItem{Key: "users", Label: "Users", Href: tenantPath(slug, "users")})
	}
	items = append(items, web.NavItem{Key: "settings", Label: "Settings", Href: tenantPath(slug, "settings")})
	if h.keys != nil {
		items = append(items, web.NavItem{Key: "keys", Label: "Signing keys", Href: tenantPath(slug, "keys")})
	}
	if h.cfg.APIKeys != nil {
		items = append(items, web.NavItem{Key: "api-keys", Label: "API keys", Href: tenantPath(slug, "api-keys")})
	}
	items = append(items,
		web.NavItem{Key: "domains", Label: "Custom domains", Href: tenantPath(slug, "domains")},
	)
	if h.cfg.Webhooks != nil {
		items = append(items, web.NavItem{Key: "webhooks", Label: "Webhooks", Href: tenantPath(slug, "webhooks")})
	}
	items = append(items,
		web.NavItem{Key: "members", Label: "Members", Href: tenantPath(slug, "members")},
		web.NavItem{Key: "quickstart", Label: "Quickstart", Href: tenantPath(slug, "quickstart")},
	)
	if h.inbox != nil {
		items = append(items, web.NavItem{Key: "inbox", Label: "Dev inbox", Href: tenantPath(slug, "inbox")})
	}
	return append(items, web.NavItem{Key: "audit", Label: "Audit log", Href: tenantPath(slug, "audit")})
}
