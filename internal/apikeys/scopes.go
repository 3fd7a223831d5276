package apikeys

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
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

// ParseExpiry reads a key's expiry as a command line gives it: a number of
// days ("90d"), a duration ("720h", "1h30m"), a date ("2027-01-01", at
// midnight UTC) or an RFC 3339 time; "" or "never" is no expiry. The
// result must lie after now.
func ParseExpiry(s string, now time.Time) (*time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "never" {
		return nil, nil
	}
	var at time.Time
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 36500 {
			return nil, fmt.Errorf("%w: expiry %q: want a positive number of days (90d)", ErrInvalidKey, s)
		}
		at = now.AddDate(0, 0, n)
	} else if d, err := time.ParseDuration(s); err == nil {
		if d <= 0 {
			return nil, fmt.Errorf("%w: expiry %q is not in the future", ErrInvalidKey, s)
		}
		at = now.Add(d)
	} else if t, err := time.Parse(time.DateOnly, s); err == nil {
		at = t
	} else if t, err := time.Parse(time.RFC3339, s); err == nil {
		at = t
	} else {
		return nil, fmt.Errorf("%w: expiry %q: want 90d, 720h, 2027-01-01 or an RFC 3339 time", ErrInvalidKey, s)
	}
	if !at.After(now) {
		return nil, fmt.Errorf("%w: expiry %q is not in the future", ErrInvalidKey, s)
	}
	at = at.UTC()
	return &at, nil
}
