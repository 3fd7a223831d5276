package tenants

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// decodeCodeFormat reads allauth's UserCodeFormat dict and fills in the
// defaults generate_user_code applies: dashed, 8 letters or 9 digits.
func decodeCodeFormat(v any) (UserCodeFormat, error) {
	m, err := asObject(v)
	if err != nil {
		return UserCodeFormat{}, err
	}
	f := UserCodeFormat{Dashed: true}
	lengthSet := false
	var errs []error
	for _, k := range sortedKeys(m) {
		var err error
		switch k {
		case "numeric":
			f.Numeric, err = asBool(m[k])
		case "dashed":
			f.Dashed, err = asBool(m[k])
		case "length":
			lengthSet = true
			f.Length, err = asMinInt(m[k], 1)
			if err == nil && f.Length > 64 {
				err = fmt.Errorf("must be at most 64, not %d", f.Length)
			}
		default:
			err = errors.New(`is not a code format key (allowed: "numeric", "dashed", "length")`)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s %w", k, err))
		}
	}
	if len(errs) > 0 {
		return UserCodeFormat{}, errors.Join(errs...)
	}
	if !lengthSet {
		f.Length = 8
		if f.Numeric {
			f.Length = 9
		}
	}
	return f, nil
}

func encodeCodeFormat(f UserCodeFormat) any {
	return map[string]any{"numeric": f.Numeric, "dashed": f.Dashed, "length": f.Length}
}

// decodeSignupFields reads ACCOUNT_SIGNUP_FIELDS ("email*", "username", ...).
func decodeSignupFields(v any) ([]SignupField, error) {
	l, err := asStrings(v)
	if err != nil {
		return nil, err
	}
	var errs []error
	fields := make([]SignupField, 0, len(l))
	for _, raw := range l {
		name, required := strings.CutSuffix(raw, "*")
		switch {
		case name == "password":
			// allauth's system check names this as an often-made mistake.
			errs = append(errs, fmt.Errorf("%q is not a signup field, use %q", raw, "password1"+strings.TrimPrefix(raw, "password")))
		case !slices.Contains(allSignupFields, name):
			errs = append(errs, fmt.Errorf("unknown signup field %q (allowed: %s, each optionally followed by * for required)", raw, quoteList(allSignupFields)))
		case slices.ContainsFunc(fields, func(f SignupField) bool { return f.Name == name }):
			errs = append(errs, fmt.Errorf("lists %q twice", name))
		default:
			fields = append(fields, SignupField{Name: name, Required: required})
		}
	}
	has := func(name string) bool {
		return slices.ContainsFunc(fields, func(f SignupField) bool { return f.Name == name })
	}
	if has("password2") && !has("password1") {
		errs = append(errs, errors.New(`"password2" repeats "password1", which is missing`))
	}
	if has("email2") && !has("email") {
		errs = append(errs, errors.New(`"email2" repeats "email", which is missing`))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return fields, nil
}

// frontendURLNames are the HEADLESS_FRONTEND_URLS allauth looks up, and
// whether it passes a {key} to the template.
var frontendURLNames = map[string]bool{
	"account_confirm_email":           true,
	"account_reset_password":          false,
	"account_reset_password_from_key": true,
	"account_signup":                  false,
	"socialaccount_login_error":       false,
}

func decodeFrontendURLs(v any) (map[string]string, error) {
	m, err := asObject(v)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(m))
	var errs []error
	for _, name := range sortedKeys(m) {
		takesKey, known := frontendURLNames[name]
		if !known {
			errs = append(errs, fmt.Errorf("unknown frontend URL %q (known: %s)", name, quoteList(sortedKeys(frontendURLNames))))
			continue
		}
		tmpl, err := asString(m[name])
		if err == nil {
			err = checkFrontendURL(tmpl, takesKey)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
			continue
		}
		out[name] = tmpl
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

var placeholderPattern = regexp.MustCompile(`\{[^{}]*\}`)

// checkFrontendURL accepts an absolute http(s) URL or a path (allauth makes
// a path absolute with the request's host), with {key} exactly where allauth
// substitutes one: a template missing it would mail links without the key.
func checkFrontendURL(tmpl string, takesKey bool) error {
	if tmpl == "" {
		return errors.New("must not be empty")
	}
	if strings.IndexFunc(tmpl, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Errorf("%q must not contain spaces or control characters", tmpl)
	}
	for _, ph := range placeholderPattern.FindAllString(tmpl, -1) {
		if ph != "{key}" || !takesKey {
			return fmt.Errorf("%q contains %s, which allauth never fills in", tmpl, ph)
		}
	}
	filled := strings.ReplaceAll(tmpl, "{key}", "KEY")
	if strings.ContainsAny(filled, "{}") {
		return fmt.Errorf("%q has an unbalanced brace", tmpl)
	}
	if takesKey && !strings.Contains(tmpl, "{key}") {
		return fmt.Errorf("%q must contain {key}, where allauth puts the key", tmpl)
	}
	u, err := url.Parse(filled)
	if err != nil {
		return fmt.Errorf("%q is not a URL", tmpl)
	}
	if strings.HasPrefix(filled, "/") && !strings.HasPrefix(filled, "//") {
		return nil // a path on the tenant's host
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return fmt.Errorf("%q must be an absolute http(s) URL or a path starting with /", tmpl)
	}
	if !validHostname(strings.ToLower(u.Hostname())) {
		return fmt.Errorf("%q has an invalid host", tmpl)
	}
	return nil
}

// decodeOrigins reads a list of origins, normalised and without duplicates.
func decodeOrigins(v any) ([]string, error) {
	l, err := asStrings(v)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(l))
	var errs []error
	for _, s := range l {
		o, err := normalizeOrigin(s)
		switch {
		case err != nil:
			errs = append(errs, err)
		case slices.Contains(out, o):
			errs = append(errs, fmt.Errorf("lists origin %q twice", o))
		default:
			out = append(out, o)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// normalizeOrigin turns "HTTPS://App.Example.com:443" into the form a
// browser sends in Origin ("https://app.example.com"), so that comparing
// against the header is a plain string match.
func normalizeOrigin(s string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%q is not an origin (scheme://host[:port]): %s", s, why)
	}
	u, err := url.Parse(s)
	if err != nil || u.Opaque != "" {
		return bad("cannot be parsed")
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return bad("the scheme must be http or https")
	}
	if u.User != nil {
		return bad("it must not carry credentials")
	}
	if u.Path != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return bad("it must not have a path, not even a trailing slash, query or fragment")
	}
	host := strings.ToLower(u.Hostname())
	if !validHostname(host) {
		return bad("invalid host (use punycode for international names; no wildcards)")
	}
	port := u.Port()
	if strings.HasSuffix(u.Host, ":") {
		return bad("empty port")
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return bad("invalid port")
		}
		port = strconv.Itoa(n)
		if (scheme == "https" && n == 443) || (scheme == "http" && n == 80) {
			port = "" // browsers omit the default port
		}
	}
	if strings.Contains(host, ":") { // IPv6
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

var dnsLabel = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// validHostname accepts lower-case DNS names and IP addresses.
func validHostname(h string) bool {
	if net.ParseIP(h) != nil {
		return true
	}
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if !dnsLabel.MatchString(label) {
			return false
		}
	}
	return true
}

func isDNSName(h string) bool { return net.ParseIP(h) == nil && validHostname(h) }

// normalizeRPID checks a WebAuthn relying-party id: a bare domain (no
// scheme, port or IP address), lower-cased.
func normalizeRPID(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	id := strings.ToLower(s)
	if !isDNSName(id) {
		return "", fmt.Errorf("%q must be a bare domain such as example.com (no scheme, port or IP address)", s)
	}
	return id, nil
}

// originHost returns the host name of a normalised origin.
func originHost(origin string) string {
	u, err := url.Parse(origin)
	if err != nil {
		return ""
	}
	return u.Hostname()
}

func isLoopbackHost(h string) bool {
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// loopbackHost reports whether host names the loopback interface.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
