package console

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
