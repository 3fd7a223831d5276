package tenants

import (
	"fmt"
	"strconv"
	"strings"
)

// Redacted replaces secret values wherever settings are shown or audited.
const Redacted = "<redacted>"

// secretAppKeys are the keys of a SOCIALACCOUNT_PROVIDERS app (or of its
// "settings" object) whose values are secrets.
var secretAppKeys = map[string]bool{"secret": true, "certificate_key": true, "private_key": true}

// walkSecrets calls fn for every secret string in an overrides document and
// replaces it with fn's result. The path names the value, e.g.
// "SOCIALACCOUNT_PROVIDERS.google.APPS.0.secret".
func walkSecrets(doc map[string]any, fn func(path, value string) (string, error)) error {
	if v, ok := doc["HEADLESS_JWT_PRIVATE_KEY"].(string); ok && v != "" {
		out, err := fn("HEADLESS_JWT_PRIVATE_KEY", v)
		if err != nil {
			return err
		}
		doc["HEADLESS_JWT_PRIVATE_KEY"] = out
	}
	providers, _ := doc["SOCIALACCOUNT_PROVIDERS"].(map[string]any)
	for name, p := range providers {
		prov, ok := p.(map[string]any)
		if !ok {
			continue
		}
		base := "SOCIALACCOUNT_PROVIDERS." + name
		if app, ok := prov["APP"].(map[string]any); ok {
			if err := walkApp(app, base+".APP", fn); err != nil {
				return err
			}
		}
		apps, _ := prov["APPS"].([]any)
		for i, a := range apps {
			if app, ok := a.(map[string]any); ok {
				if err := walkApp(app, base+".APPS."+strconv.Itoa(i), fn); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func walkApp(app map[string]any, path string, fn func(path, value string) (string, error)) error {
	visit := func(m map[string]any, p string) error {
		for k, v := range m {
			s, ok := v.(string)
			if !ok || s == "" || !secretAppKeys[k] {
				continue
			}
			out, err := fn(p+"."+k, s)
			if err != nil {
				return err
			}
			m[k] = out
		}
		return nil
	}
	if err := visit(app, path); err != nil {
		return err
	}
	if settings, ok := app["settings"].(map[string]any); ok {
		return visit(settings, path+".settings")
	}
	return nil
}

// deepCopy returns an independent copy of a decoded JSON value.
func deepCopy(v any) any {
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[k] = deepCopy(x)
		}
		return m
	case []any:
		s := make([]any, len(t))
		for i, x := range t {
			s[i] = deepCopy(x)
		}
		return s
	default:
		return v
	}
}

// RedactSecrets returns a copy of an overrides document with every secret
// replaced by Redacted, for display and audit.
func RedactSecrets(doc map[string]any) map[string]any {
	out, _ := deepCopy(doc).(map[string]any)
	if out == nil {
		return map[string]any{}
	}
	_ = walkSecrets(out, func(string, string) (string, error) { return Redacted, nil })
	return out
}

// sealContext binds a sealed settings value to its tenant and place.
func sealContext(tenantID fmt.Stringer, path string) string {
	return "tenant:" + tenantID.String() + ":settings:" + strings.ToLower(path)
}
