package tenants

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/hallpass/hallpass/internal/providers"
)

var (
	// allauth provider ids are lower-case words joined by underscores.
	providerKeyPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_]*$`)
	// provider_id ends up in callback paths (/accounts/oidc/<id>/login/callback/).
	providerIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
)

// providerLevelKeys are the provider-level keys decoded into typed fields;
// everything else is provider-specific and kept in Extra.
var providerLevelKeys = []string{"APP", "APPS", "AUTH_PARAMS", "EMAIL_AUTHENTICATION", "OAUTH_PKCE_ENABLED", "SCOPE", "VERIFIED_EMAIL"}

// appKeys are the fields allauth copies from a settings-defined app.
var appKeys = []string{"certificate_key", "client_id", "key", "name", "provider_id", "secret", "settings"}

// decodeProviders reads SOCIALACCOUNT_PROVIDERS. Problems are reported with
// paths such as google.APPS[0].client_id and never quote secrets.
func decodeProviders(v any) (map[string]ProviderSettings, error) {
	m, err := asObject(v)
	if err != nil {
		return nil, err
	}
	out := make(map[string]ProviderSettings, len(m))
	var errs []error
	for _, name := range sortedKeys(m) {
		if !providerKeyPattern.MatchString(name) {
			errs = append(errs, fmt.Errorf("%q is not an allauth provider id (lower-case letters, digits, underscores)", name))
			continue
		}
		if _, ok := providers.Lookup(name); !ok {
			errs = append(errs, fmt.Errorf("provider %q is not supported (supported: %s)", name, strings.Join(providers.IDs(), ", ")))
			continue
		}
		ps, perrs := decodeProvider(name, m[name])
		errs = append(errs, perrs...)
		out[name] = ps
	}
	// allauth finds an app by provider or provider_id alike, so a provider_id
	// must not name another app or another configured provider.
	usedBy := map[string]string{}
	for _, name := range sortedKeys(out) {
		for i, app := range out[name].Apps {
			id := app.ProviderID
			if id == "" {
				continue
			}
			where := appPath(name, m[name], i)
			if prev, dup := usedBy[id]; dup {
				errs = append(errs, fmt.Errorf("%s.provider_id %q is already used by %s", where, id, prev))
				continue
			}
			if _, clash := m[id]; clash && id != name {
				errs = append(errs, fmt.Errorf("%s.provider_id %q is also the id of a configured provider", where, id))
				continue
			}
			usedBy[id] = where
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// appPath names the i-th app of provider as the customer wrote it.
func appPath(provider string, raw any, i int) string {
	if cfg, _ := raw.(map[string]any); cfg != nil {
		if _, apps := cfg["APPS"]; !apps {
			return provider + ".APP"
		}
	}
	return provider + ".APPS[" + strconv.Itoa(i) + "]"
}

func decodeProvider(name string, v any) (ProviderSettings, []error) {
	var ps ProviderSettings
	m, err := asObject(v)
	if err != nil {
		return ps, []error{fmt.Errorf("%s %w", name, err)}
	}
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s", name, fmt.Sprintf(format, args...)))
	}
	if _, ok := m["SERVERS"]; ok {
		// allauth migrates this pre-65 openid_connect shape on the fly; here
		// it would bypass secret sealing and the checks below.
		fail("SERVERS: the legacy SERVERS list is not accepted; give each server as an APPS entry with provider_id, name and settings.server_url")
	}
	_, hasApp := m["APP"]
	_, hasApps := m["APPS"]
	if hasApp && hasApps {
		// allauth would silently ignore APP.
		fail("APP: set APP or APPS, not both")
	}
	for _, k := range sortedKeys(m) {
		x := m[k]
		switch k {
		case "SERVERS":
		case "APP":
			if hasApps {
				continue
			}
			app, aerrs := decodeApp(name, name+".APP", x)
			errs = append(errs, aerrs...)
			ps.Apps = []SocialApp{app}
		case "APPS":
			l, ok := x.([]any)
			if !ok {
				fail("APPS must be a list of apps, not %s", describeJSON(x))
				continue
			}
			for i, a := range l {
				app, aerrs := decodeApp(name, fmt.Sprintf("%s.APPS[%d]", name, i), a)
				errs = append(errs, aerrs...)
				ps.Apps = append(ps.Apps, app)
			}
		case "SCOPE":
			scope, err := asStrings(x)
			if err != nil {
				fail("SCOPE %v", err)
			}
			ps.Scope = scope
		case "AUTH_PARAMS":
			params, err := asObject(x)
			if err != nil {
				fail("AUTH_PARAMS %v", err)
				continue
			}
			ps.AuthParams = make(map[string]string, len(params))
			for _, pk := range sortedKeys(params) {
				s, ok := params[pk].(string)
				if !ok {
					fail("AUTH_PARAMS.%s must be a string, not %s", pk, describeJSON(params[pk]))
				}
				ps.AuthParams[pk] = s
			}
		case "VERIFIED_EMAIL", "EMAIL_AUTHENTICATION", "OAUTH_PKCE_ENABLED":
			b, err := asBool(x)
			if err != nil {
				fail("%s %v", k, err)
				continue
			}
			switch k {
			case "VERIFIED_EMAIL":
				ps.VerifiedEmail = &b
			case "EMAIL_AUTHENTICATION":
				ps.EmailAuthentication = &b
			default:
				ps.OAuthPKCEEnabled = &b
			}
		default:
			// Provider-specific keys (FIELDS, METHOD, TENANT, ...) pass
			// through, but a near miss of a key decoded here is a typo that
			// allauth would silently ignore.
			if up := strings.ToUpper(k); slices.Contains(providerLevelKeys, up) {
				fail("%s: did you mean %s?", k, up)
				continue
			}
			if ps.Extra == nil {
				ps.Extra = map[string]any{}
			}
			ps.Extra[k] = cloneJSON(x)
		}
	}
	if len(ps.Apps) == 0 {
		ps.Apps = nil
	}
	return ps, errs
}

// decodeApp reads one app of provider at path.
func decodeApp(provider, path string, v any) (SocialApp, []error) {
	var app SocialApp
	m, err := asObject(v)
	if err != nil {
		return app, []error{fmt.Errorf("%s %w", path, err)}
	}
	var errs []error
	fail := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s", path, fmt.Sprintf(format, args...)))
	}
	var certificateKey *string
	for _, k := range sortedKeys(m) {
		x := m[k]
		if k == "settings" {
			s, err := asObject(x)
			if err != nil {
				fail("settings %v", err)
				continue
			}
			app.Settings = cloneJSON(s).(map[string]any)
			continue
		}
		if !slices.Contains(appKeys, k) {
			fail("%s is not an app field (allowed: %s)", k, quoteList(appKeys))
			continue
		}
		s, err := asString(x)
		if err != nil {
			fail("%s %v", k, err)
			continue
		}
		switch k {
		case "client_id":
			app.ClientID = s
		case "secret":
			app.Secret = s
		case "key":
			app.Key = s
		case "name":
			app.Name = s
		case "provider_id":
			app.ProviderID = s
		case "certificate_key":
			certificateKey = &s
		}
	}
	if certificateKey != nil {
		// allauth moves this legacy app-level field into settings.
		if _, both := app.Settings["certificate_key"]; both {
			fail("certificate_key: give it in settings only")
		} else {
			if app.Settings == nil {
				app.Settings = map[string]any{}
			}
			app.Settings["certificate_key"] = *certificateKey
		}
	}
	if strings.TrimSpace(app.ClientID) == "" {
		fail("client_id must not be empty")
	}
	if app.ProviderID != "" && !providerIDPattern.MatchString(app.ProviderID) {
		fail("provider_id %q must be letters, digits, dots, dashes and underscores", app.ProviderID)
	}
	if provider == "openid_connect" {
		// Each OpenID Connect app is its own provider: it needs an id for
		// its URLs and the issuer to discover.
		if app.ProviderID == "" {
			fail("provider_id must be set for openid_connect apps")
		}
		switch serverURL, isString := app.Settings["server_url"].(string); {
		case app.Settings["server_url"] != nil && !isString:
			fail("settings.server_url must be a string, not %s", describeJSON(app.Settings["server_url"]))
		case serverURL == "":
			fail("settings.server_url must be set for openid_connect apps")
		default:
			if err := checkHTTPSURL(serverURL); err != nil {
				fail("settings.server_url %v", err)
			}
		}
	}
	return app, errs
}

func encodeProviders(providers map[string]ProviderSettings) map[string]any {
	out := make(map[string]any, len(providers))
	for name, ps := range providers {
		m := make(map[string]any, len(ps.Extra)+7)
		for k, x := range ps.Extra {
			m[k] = cloneJSON(x)
		}
		if len(ps.Apps) > 0 {
			apps := make([]any, len(ps.Apps))
			for i, a := range ps.Apps {
				am := map[string]any{
					"client_id":   a.ClientID,
					"secret":      a.Secret,
					"key":         a.Key,
					"name":        a.Name,
					"provider_id": a.ProviderID,
				}
				if a.Settings != nil {
					am["settings"] = cloneJSON(a.Settings)
				}
				apps[i] = am
			}
			m["APPS"] = apps
		}
		if ps.Scope != nil {
			m["SCOPE"] = cloneStrings(ps.Scope)
		}
		if ps.AuthParams != nil {
			params := make(map[string]any, len(ps.AuthParams))
			for k, v := range ps.AuthParams {
				params[k] = v
			}
			m["AUTH_PARAMS"] = params
		}
		for k, b := range map[string]*bool{
			"VERIFIED_EMAIL":       ps.VerifiedEmail,
			"EMAIL_AUTHENTICATION": ps.EmailAuthentication,
			"OAUTH_PKCE_ENABLED":   ps.OAuthPKCEEnabled,
		} {
			if b != nil {
				m[k] = *b
			}
		}
		out[name] = m
	}
	return out
}
