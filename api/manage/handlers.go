package manage

// The operations' handlers, grouped by the resource they serve. Each group
// is the API seen from that resource: it embeds the API (its Config,
// cursors and conventions) and adds the resource's operations list and
// handlers. The API itself keeps what every operation shares: routing,
// authentication, idempotency, rate limits and the document.
type (
	// tenantHandlers are the tenants themselves, for platform keys
	// (tenants.go).
	tenantHandlers struct{ *API }
	// settingsHandlers are a tenant's settings and their history
	// (settings.go).
	settingsHandlers struct{ *API }
	// signingKeyHandlers are a tenant's JWT signing keys (signingkeys.go).
	signingKeyHandlers struct{ *API }
	// domainHandlers are a tenant's custom domains (domains.go).
	domainHandlers struct{ *API }
	// auditHandlers are a tenant's audit trail (audit.go).
	auditHandlers struct{ *API }
	// userHandlers are a tenant's users, their sessions, second factors
	// and verification mail (users*.go).
	userHandlers struct{ *API }
	// webhookHandlers are a tenant's webhook endpoints, their delivery
	// log and the event types catalog (webhooks.go).
	webhookHandlers struct{ *API }
)
