package apikeys

import (
	"fmt"
	"slices"
	"strings"
)

// Scope is one permission an API key carries, "<resource>:<read|write>".
type Scope string

// The scopes. A tenant key holds tenant scopes only; a platform key may also
// hold the tenants:* scopes, and its tenant scopes reach every tenant.
const (
	UsersRead      Scope = "users:read"
	UsersWrite     Scope = "users:write"
	SessionsWrite  Scope = "sessions:write"
	SettingsRead   Scope = "settings:read"
	SettingsWrite  Scope = "settings:write"
	KeysRead       Scope = "keys:read"
	KeysWrite      Scope = "keys:write"
	AuditRead      Scope = "audit:read"
	WebhooksRead   Scope = "webhooks:read"
	WebhooksWrite  Scope = "webhooks:write"
	TenantsRead    Scope = "tenants:read"
	TenantsWrite   Scope = "tenants:write"
	DomainsRead    Scope = "domains:read"
	DomainsWrite   Scope = "domains:write"
	platformPrefix       = "tenants:"
)

// TenantScopes are the scopes a tenant key may hold, in display order.
var TenantScopes = []Scope{UsersRead, UsersWrite, SessionsWrite, SettingsRead, SettingsWrite,
	KeysRead, KeysWrite, DomainsRead, DomainsWrite, AuditRead, WebhooksRead, WebhooksWrite}

// PlatformScopes are the scopes a platform key may hold: the tenant scopes
// (on any tenant) and the tenants' own.
var PlatformScopes = append([]Scope{TenantsRead, TenantsWrite}, TenantScopes...)

// ParseScopes reads a comma- or space-separated list of scope names for a
// platform key (platform true) or a tenant key; it refuses an empty list,
// an unknown name, and a tenants:* scope on a tenant key. The result is
// sorted and has no duplicates.
func ParseScopes(list string, platform bool) ([]Scope, error) {
	fields := strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ' ' })
	names := make([]string, len(fields))
	for i, f := range fields {
		names[i] = strings.TrimSpace(f)
	}
	return CheckScopes(names, platform)
}

// CheckScopes validates scope names as ParseScopes does.
func CheckScopes(names []string, platform bool) ([]Scope, error) {
	allowed := TenantScopes
	if platform {
		allowed = PlatformScopes
	}
	var out []Scope
	for _, n := range names {
		s := Scope(n)
		if !slices.Contains(allowed, s) {
			if !platform && slices.Contains(PlatformScopes, s) {
				return nil, fmt.Errorf("%w: %q is for platform keys only", ErrInvalidScope, n)
			}
			return nil, fmt.Errorf("%w: unknown scope %q", ErrInvalidScope, n)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: a key needs at least one scope", ErrInvalidScope)
	}
	slices.Sort(out)
	return out, nil
}
