package social

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/hallpass/hallpass/internal/address"
	"github.com/hallpass/hallpass/internal/pgtext"
	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/tenants"
)

// base is what every provider implementation shares: the app, its
// settings, the HTTP client and the options.
type base struct {
	app    providers.App
	sa     tenants.SocialApp
	ps     tenants.ProviderSettings
	client *http.Client
	cfg    config
}

func (b *base) ID() string { return b.app.SubID() }

// appSetting reads an app-level setting (the app's "settings" object).
func (b *base) appSetting(key string) (any, bool) {
	v, ok := b.sa.Settings[key]
	return v, ok && v != nil
}

func (b *base) appString(key string) string {
	s, _ := b.sa.Settings[key].(string)
	return s
}

// extraString reads a provider-level setting kept in Extra (TENANT, ...).
func (b *base) extraString(key string) string {
	s, _ := b.ps.Extra[key].(string)
	return s
}

// or returns override when set, else def.
func or(override, def string) string {
	if override != "" {
		return override
	}
	return def
}

// scope is allauth's get_scope: the app's settings.scope, else SCOPE, else
// the provider's default.
func (b *base) scope(p AuthParams, def []string) []string {
	if p.Scope != nil {
		return p.Scope
	}
	if v, ok := b.appSetting("scope"); ok {
		if l, ok := stringList(v); ok {
			return l
		}
	}
	if b.ps.Scope != nil {
		return b.ps.Scope
	}
	return def
}

// authParams is allauth's get_auth_params: the app's settings.auth_params,
// else AUTH_PARAMS, then the flow's extras.
func (b *base) authParams(p AuthParams) map[string]string {
	out := map[string]string{}
	if v, ok := b.appSetting("auth_params"); ok {
		if m, ok := v.(map[string]any); ok {
			for k, x := range m {
				if s, ok := x.(string); ok {
					out[k] = s
				}
			}
		}
	} else {
		maps.Copy(out, b.ps.AuthParams)
	}
	maps.Copy(out, p.Extra)
	return out
}

// pkceEnabled is allauth's get_pkce_params switch: the app's
// settings.oauth_pkce_enabled, else OAUTH_PKCE_ENABLED, else off.
func (b *base) pkceEnabled() bool {
	if v, ok := b.appSetting("oauth_pkce_enabled"); ok {
		if on, ok := v.(bool); ok {
			return on
		}
	}
	if b.ps.OAuthPKCEEnabled != nil {
		return *b.ps.OAuthPKCEEnabled
	}
	return false
}

func stringList(v any) ([]string, bool) {
	switch l := v.(type) {
	case []string:
		return l, true
	case []any:
		out := make([]string, 0, len(l))
		for _, x := range l {
			s, ok := x.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// str reads a string claim.
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// uidString renders a uid claim: strings as they are, numbers exactly.
func uidString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case float64:
		return fmt.Sprintf("%.0f", x)
	}
	return ""
}

// truthy reads a boolean claim that some providers send as a string
// (Apple's "true").
func truthy(v any) bool {
	switch x := v.(type) {
	case bool:
		return x
	case string:
		return strings.EqualFold(x, "true")
	}
	return false
}

// UIDMaxLength is allauth's SOCIALACCOUNT_UID_MAX_LENGTH.
const UIDMaxLength = 191

// profile finishes a provider's extraction as allauth's
// sociallogin_from_response: the uid is required, addresses are cleaned,
// VERIFIED_EMAIL applied and sorted, and the main email chosen.
type profileInput struct {
	uid           string
	email         string // the provider's email field ("common field")
	emailVerified bool   // its verification, when the provider says
	emails        []Email
	name          string
	first, last   string
	username      string
	extra         map[string]any
}

func (b *base) profile(in profileInput) (*Profile, error) {
	if in.uid == "" {
		return nil, &ProviderError{Op: "profile", Err: errors.New("no user id in the provider's answer")}
	}
	if len(in.uid) > UIDMaxLength {
		return nil, &ProviderError{Op: "profile", Err: fmt.Errorf("user id longer than %d", UIDMaxLength)}
	}
	// Refused, not cleaned: two different ids must stay two accounts.
	if !pgtext.Valid(in.uid) {
		return nil, &ProviderError{Op: "profile", Err: errors.New("user id is not UTF-8 text")}
	}
	p := &Profile{
		UID: in.uid, Name: in.name, FirstName: in.first, LastName: in.last, Username: in.username,
		Extra: in.extra,
	}
	if p.Extra == nil {
		p.Extra = map[string]any{}
	}
	email := cleanEmail(in.email)
	var emails []Email
	for _, e := range in.emails {
		e.Address = cleanEmail(e.Address)
		if e.Address == "" || slices.ContainsFunc(emails, func(x Email) bool { return x.Address == e.Address }) {
			continue
		}
		emails = append(emails, e)
	}
	if email != "" && !slices.ContainsFunc(emails, func(x Email) bool { return x.Address == email }) {
		emails = slices.Insert(emails, 0, Email{Address: email, Verified: in.emailVerified, Primary: true})
	}
	for i := range emails {
		if b.forceVerified(emails[i].Address) {
			emails[i].Verified = true
		}
	}
	slices.SortStableFunc(emails, func(x, y Email) int {
		if x.Primary != y.Primary {
			return boolCmp(y.Primary, x.Primary)
		}
		if x.Verified != y.Verified {
			return boolCmp(y.Verified, x.Verified)
		}
		return strings.Compare(y.Address, x.Address)
	})
	if email == "" && len(emails) > 0 {
		email = emails[0].Address
	}
	p.Emails = emails
	p.Email = email
	for _, e := range emails {
		if e.Address == email {
			p.EmailVerified = e.Verified
		}
	}
	return p, nil
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// forceVerified is allauth's is_email_verified: the app's
// settings.verified_email, else VERIFIED_EMAIL; true, or a list of domains.
func (b *base) forceVerified(email string) bool {
	var v any
	if x, ok := b.appSetting("verified_email"); ok {
		v = x
	} else if b.ps.VerifiedEmail != nil {
		v = *b.ps.VerifiedEmail
	}
	switch x := v.(type) {
	case bool:
		return x
	default:
		domains, ok := stringList(x)
		if !ok {
			return false
		}
		// Compared by IDNA key, never by strings.EqualFold (which takes ſ
		// for s and the KELVIN SIGN for k).
		_, domain, _ := address.Split(email)
		key, err := address.Domain(domain)
		if err != nil {
			return false
		}
		return slices.ContainsFunc(domains, func(d string) bool { k, err := address.Domain(strings.TrimSpace(d)); return err == nil && k == key })
	}
}

// cleanEmail is allauth's valid_email_or_none: a plausible address,
// lower-cased (along 1:1 case pairs, address.CaseKey: strings.ToLower would
// turn İ into i), else "". The account layer validates it fully.
func cleanEmail(s string) string {
	s = strings.TrimSpace(s)
	if !address.ValidText(s) {
		return ""
	}
	s = address.CaseKey(s)
	if len(s) > 254 || strings.ContainsAny(s, " \t\r\n<>()[],;:\\\"") {
		return ""
	}
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || !strings.Contains(domain, ".") ||
		strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") || strings.Contains(domain, "..") {
		return ""
	}
	return s
}
