package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/hallpass/hallpass/tenants"
)

// The settings forms are built from the tenants package's catalog: every
// key SettingKeys lists that Document renders (legacy keys are accepted in
// the JSON view but have no field), its default from DefaultSettings, and a
// widget chosen from the default's JSON type. The console adds only what the
// catalog cannot say: which group a key belongs to, the choices of a few
// enumerated settings, and which keys are secrets.

// groupDef places keys in a form: a key belongs to the group with the
// longest prefix that matches it ("ACCOUNT_EMAIL_" beats "ACCOUNT_").
type groupDef struct {
	slug, title, intro string
	prefixes           []string
}

var groupDefs = []groupDef{
	{"headless", "Headless", "Clients, frontend URLs, token strategy and JWTs (allauth.headless), and the origins allowed to call the API.",
		[]string{"HEADLESS_", "HALLPASS_CORS_ALLOWED_ORIGINS", "HALLPASS_JWT_AUDIENCE"}},
	{"accounts", "Accounts", "Signup and login: identifiers, signup fields, usernames, passwords, phone numbers.",
		[]string{"ACCOUNT_", "HALLPASS_SIGNUP_OPEN", "HALLPASS_APPS"}},
	{"email", "Email verification", "Email addresses, their verification by link or code, and the mail sent.",
		[]string{"ACCOUNT_EMAIL_", "ACCOUNT_CHANGE_EMAIL", "ACCOUNT_MAX_EMAIL_ADDRESSES", "ACCOUNT_UNIQUE_EMAIL",
			"ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION", "ACCOUNT_SALT", "HALLPASS_EMAIL_FROM"}},
	{"codes", "Login and reset by code", "Passwordless login by code, password reset by code, and the format of codes.",
		[]string{"ACCOUNT_LOGIN_BY_CODE_", "ACCOUNT_PASSWORD_RESET_BY_CODE_", "ACCOUNT_LOGIN_ON_PASSWORD_RESET", "ALLAUTH_USER_CODE_FORMAT"}},
	{"mfa", "MFA", "Authenticator types, TOTP, recovery codes, WebAuthn and passkeys, trusted browsers.",
		[]string{"MFA_", "HALLPASS_WEBAUTHN_"}},
	{"social", "Social providers", "Third-party providers (SOCIALACCOUNT_PROVIDERS) and how their signups behave.",
		[]string{"SOCIALACCOUNT_"}},
	{"rate-limits", "Rate limits", "allauth's per-action limits (an empty rule disables one) and how client addresses are found behind proxies.",
		[]string{"ACCOUNT_RATE_LIMITS", "ALLAUTH_TRUSTED_"}},
	{"sessions", "Sessions", "Session lifetime, remember-me, reauthentication and user-session tracking.",
		[]string{"HALLPASS_SESSION_COOKIE_AGE", "ACCOUNT_SESSION_REMEMBER", "USERSESSIONS_", "ACCOUNT_REAUTHENTICATION_",
			"ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE", "ACCOUNT_LOGIN_TIMEOUT"}},
	{"user-data", "User data", "The hosted HEADLESS_ADAPTER: the profile fields users have (HALLPASS_USER_FIELDS), and CEL expressions that add keys to allauth's user object (HALLPASS_USER_SERIALIZER) and claims to access tokens (HALLPASS_JWT_CLAIMS). The preview evaluates your draft for a user of this tenant before you save.",
		[]string{"HALLPASS_USER_", "HALLPASS_JWT_CLAIMS"}},
	{"branding", "Branding", "How the hosted account pages look: product name, logo, primary colour and custom CSS (HALLPASS_BRANDING).",
		[]string{"HALLPASS_BRANDING"}},
	{"other", "Other", "Settings that fit no group above.", nil},
}

// choice is one option of an enumerated setting; Value is its JSON.
type choice struct {
	Value string
	Label string
}

func choices(values ...string) []choice {
	out := make([]choice, len(values))
	for i, v := range values {
		label := v
		var s string
		if json.Unmarshal([]byte(v), &s) == nil {
			label = s
		}
		out[i] = choice{Value: v, Label: label}
	}
	return out
}

// selectChoices are settings with a closed set of values (a select).
var selectChoices = map[string][]choice{
	"ACCOUNT_EMAIL_VERIFICATION": choices(`"none"`, `"optional"`, `"mandatory"`),
	"SOCIALACCOUNT_EMAIL_VERIFICATION": {{`null`, "same as ACCOUNT_EMAIL_VERIFICATION"},
		{`"none"`, "none"}, {`"optional"`, "optional"}, {`"mandatory"`, "mandatory"}},
	"HEADLESS_TOKEN_STRATEGY": {
		{`"allauth.headless.tokens.strategies.sessions.SessionTokenStrategy"`, "session (SessionTokenStrategy)"},
		{`"allauth.headless.tokens.strategies.jwt.JWTTokenStrategy"`, "jwt (JWTTokenStrategy)"}},
	"HEADLESS_JWT_ALGORITHM":               choices(`"RS256"`, `"RS384"`, `"RS512"`, `"HS256"`, `"HS384"`, `"HS512"`, `"ES256"`, `"EdDSA"`),
	"HEADLESS_SPECIFICATION_TEMPLATE_NAME": choices(`"headless/spec/redoc_cdn.html"`, `"headless/spec/swagger_cdn.html"`),
	"ACCOUNT_DEFAULT_HTTP_PROTOCOL":        choices(`"http"`, `"https"`),
	"ACCOUNT_PREVENT_ENUMERATION":          {{`true`, "true"}, {`false`, "false"}, {`"strict"`, "strict"}},
	"ACCOUNT_SESSION_REMEMBER":             {{`null`, "ask the user (None)"}, {`true`, "always remember"}, {`false`, "never remember"}},
	"MFA_TRUST_COOKIE_SAMESITE":            {{`"Lax"`, "Lax"}, {`"Strict"`, "Strict"}, {`"None"`, "None"}, {`false`, "omit (False)"}},
}

// setChoices are lists drawn from a closed set (checkboxes).
var setChoices = map[string][]choice{
	"HEADLESS_CLIENTS":      choices(`"browser"`, `"app"`),
	"HALLPASS_APPS":         choices(`"socialaccount"`, `"mfa"`, `"usersessions"`),
	"ACCOUNT_LOGIN_METHODS": choices(`"email"`, `"username"`, `"phone"`),
	"MFA_SUPPORTED_TYPES":   choices(`"recovery_codes"`, `"totp"`, `"webauthn"`),
}

// secretKeys are written, never shown.
var secretKeys = map[string]bool{"HEADLESS_JWT_PRIVATE_KEY": true}

// Widgets of a settings field.
const (
	widgetBool   = "bool"   // checkbox
	widgetInt    = "int"    // number input
	widgetString = "string" // text input
	widgetSecret = "secret" // write-only text area
	widgetSelect = "select" // one of selectChoices
	widgetSet    = "set"    // checkboxes of setChoices
	widgetMap    = "map"    // one text input per key of an object of rule strings
	widgetJSON   = "json"   // any JSON value
)

// field is one setting in a form.
type field struct {
	Key     string
	Label   string
	Widget  string
	Default any
	Choices []choice
}

// group is one settings form.
type group struct {
	Slug, Title, Intro string
	Fields             []*field
}

// catalog is every settings form.
type catalog struct {
	groups   []*group
	bySlug   map[string]*group
	defaults map[string]any
}

func newCatalog() (*catalog, error) {
	defaults := tenants.DefaultSettings().Document()
	cat := &catalog{bySlug: map[string]*group{}, defaults: defaults}
	for _, d := range groupDefs {
		g := &group{Slug: d.slug, Title: d.title, Intro: d.intro}
		cat.groups = append(cat.groups, g)
		cat.bySlug[g.Slug] = g
	}
	for _, key := range tenants.SettingKeys() {
		def, ok := defaults[key]
		if !ok {
			continue // a legacy key: JSON view only
		}
		f := &field{Key: key, Label: labelOf(key), Default: def, Widget: widgetFor(key, def)}
		f.Choices = selectChoices[key]
		if f.Choices == nil {
			f.Choices = setChoices[key]
		}
		g := cat.bySlug[groupOf(key)]
		g.Fields = append(g.Fields, f)
	}
	for _, g := range cat.groups {
		slices.SortStableFunc(g.Fields, func(a, b *field) int { return strings.Compare(a.Key, b.Key) })
	}
	if len(cat.bySlug["other"].Fields) == 0 {
		delete(cat.bySlug, "other")
		cat.groups = cat.groups[:len(cat.groups)-1]
	}
	return cat, nil
}

// groupOf names the group of a key by longest matching prefix.
func groupOf(key string) string {
	best, bestLen := "other", 0
	for _, d := range groupDefs {
		for _, p := range d.prefixes {
			if strings.HasPrefix(key, p) && len(p) > bestLen {
				best, bestLen = d.slug, len(p)
			}
		}
	}
	return best
}

// widgetFor picks a field's widget from the console's few tables, else
// from the JSON type of its default.
func widgetFor(key string, def any) string {
	switch {
	case secretKeys[key]:
		return widgetSecret
	case selectChoices[key] != nil:
		return widgetSelect
	case setChoices[key] != nil:
		return widgetSet
	}
	switch v := def.(type) {
	case bool:
		return widgetBool
	case int, int64, float64, json.Number:
		return widgetInt
	case string:
		return widgetString
	case map[string]any:
		for _, x := range v {
			if _, ok := x.(string); !ok && x != false {
				return widgetJSON
			}
		}
		if len(v) > 0 {
			return widgetMap
		}
	}
	return widgetJSON
}

// widgetOf is the widget a field takes for its current value: its own, or
// JSON when the value does not fit (a list where a boolean is usual).
func (f *field) widgetOf(v any) string {
	ok := true
	switch f.Widget {
	case widgetBool:
		_, ok = v.(bool)
	case widgetInt:
		switch v.(type) {
		case int, int64, float64, json.Number:
		default:
			ok = false
		}
	case widgetString:
		_, ok = v.(string)
	case widgetSelect:
		ok = slices.ContainsFunc(f.Choices, func(c choice) bool { return c.Value == canonical(v) })
	case widgetSet:
		l, isList := v.([]any)
		ok = isList
		for _, x := range l {
			ok = ok && slices.ContainsFunc(f.Choices, func(c choice) bool { return c.Value == canonical(x) })
		}
		if s, isStrings := v.([]string); isStrings {
			ok = true
			for _, x := range s {
				ok = ok && slices.ContainsFunc(f.Choices, func(c choice) bool { return c.Value == canonical(x) })
			}
		}
	case widgetMap:
		m, isMap := v.(map[string]any)
		ok = isMap
		for _, x := range m {
			if _, isStr := x.(string); !isStr && x != false {
				ok = false
			}
		}
	}
	if !ok {
		return widgetJSON
	}
	return f.Widget
}

var acronyms = map[string]string{"jwt": "JWT", "mfa": "MFA", "totp": "TOTP", "urls": "URLs", "url": "URL", "http": "HTTP",
	"ip": "IP", "cors": "CORS", "hmac": "HMAC", "rp": "RP", "id": "ID", "oidc": "OIDC", "webauthn": "WebAuthn", "api": "API"}

// labelOf turns a setting name into words: ACCOUNT_LOGIN_BY_CODE_ENABLED →
// "Login by code enabled".
func labelOf(key string) string {
	for _, p := range []string{"HALLPASS_", "HEADLESS_", "ACCOUNT_", "SOCIALACCOUNT_", "MFA_", "ALLAUTH_", "USERSESSIONS_"} {
		if rest, ok := strings.CutPrefix(key, p); ok {
			key = rest
			break
		}
	}
	words := strings.Split(strings.ToLower(key), "_")
	for i, w := range words {
		if a, ok := acronyms[w]; ok {
			words[i] = a
		}
	}
	s := strings.Join(words, " ")
	if s == "" {
		return key
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// canonical is a value's JSON with object keys sorted, for comparisons.
func canonical(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

// pretty is a value's indented JSON, for display.
func pretty(v any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Sprintf("%v", v)
	}
	return strings.TrimRight(buf.String(), "\n")
}
