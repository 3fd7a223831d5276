package tenants

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/hallpass/hallpass/internal/ratelimit"
)

// parser turns a decoded overrides document into Settings, collecting every
// problem instead of stopping at the first.
type parser struct {
	s   *Settings
	doc map[string]any
	// legacy holds the decoded values of legacy keys, which feed the
	// defaults of the settings that replaced them.
	legacy map[string]any
	// bad marks keys whose value was rejected; checks that involve them are
	// skipped so that one mistake is reported once.
	bad  map[string]bool
	errs SettingsErrors
	// stored marks a document read back from the database: values beyond
	// the platform's bounds (settings_bounds.go) are clamped, and recorded
	// in clamped, instead of refused.
	stored  bool
	clamped SettingsErrors
}

func buildSettings(doc map[string]any, stored bool) (*Settings, SettingsErrors, SettingsErrors) {
	p := &parser{s: &Settings{}, doc: doc, legacy: map[string]any{}, bad: map[string]bool{}, stored: stored}
	known := make(map[string]bool, len(settingSpecs))
	for _, sp := range settingSpecs {
		known[sp.key] = true
		if v, ok := doc[sp.key]; ok {
			err := sp.decode(p, v)
			if err == nil {
				continue
			}
			p.failErr(sp.key, err)
			p.bad[sp.key] = true
		}
		// Absent, or rejected: the default keeps later checks meaningful.
		p.applyDefault(sp)
	}
	for _, k := range sortedKeys(doc) {
		if !known[k] {
			p.unknownKey(k, doc[k], known)
		}
	}
	p.checkLegacy()
	p.validate()
	p.errs.sort()
	p.clamped.sort()
	return p.s, p.errs, p.clamped
}

func (p *parser) applyDefault(sp settingSpec) {
	switch {
	case sp.derive != nil:
		sp.derive(p)
	case sp.dflt != "":
		if err := sp.decode(p, mustJSON(sp.dflt)); err != nil {
			panic("tenants: invalid default for " + sp.key + ": " + err.Error())
		}
	}
}

// mustJSON decodes a JSON literal from the constant tables.
func mustJSON(s string) any {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	v, err := readJSONValue(dec, "", 0)
	if err != nil {
		panic("tenants: bad JSON literal " + s)
	}
	return v
}

func (p *parser) fail(key, format string, args ...any) {
	p.errs = append(p.errs, &SettingsError{Key: key, Reason: fmt.Sprintf(format, args...)})
}

// failErr records err, one SettingsError per joined error.
func (p *parser) failErr(key string, err error) {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range joined.Unwrap() {
			p.failErr(key, e)
		}
		return
	}
	p.errs = append(p.errs, &SettingsError{Key: key, Reason: err.Error()})
}

// ok reports whether none of keys had its value rejected.
func (p *parser) ok(keys ...string) bool {
	for _, k := range keys {
		if p.bad[k] {
			return false
		}
	}
	return true
}

// explicit reports whether key was given a value of its own (not one that
// makes allauth derive it from legacy settings).
func (p *parser) explicit(key string) bool {
	v, ok := p.doc[key]
	if !ok || p.bad[key] {
		return false
	}
	switch key {
	case "ACCOUNT_LOGIN_METHODS":
		return v != nil
	case "ACCOUNT_SIGNUP_FIELDS":
		l, isList := v.([]any)
		return isList && len(l) > 0
	}
	return true
}

func (p *parser) unknownKey(key string, v any, known map[string]bool) {
	if u, ok := unsupportedSettings[key]; ok {
		if u.dflt != "" && reflect.DeepEqual(v, mustJSON(u.dflt)) {
			return // allauth's default: asks for nothing Hallpass does not do
		}
		p.fail(key, "not supported by Hallpass: %s", u.why)
		return
	}
	if key == "" {
		p.fail("", "settings contain an empty setting name")
		return
	}
	reason := "unknown setting"
	if up := strings.ToUpper(key); up != key {
		if _, unsupported := unsupportedSettings[up]; known[up] || unsupported {
			reason += " (setting names are upper case: " + up + ")"
		}
	}
	p.fail(key, "%s", reason)
}

// checkLegacy rejects documents where a legacy key and its replacement say
// different things. allauth would silently ignore the legacy key, which
// hides the mistake; when they agree, the legacy key is harmless.
func (p *parser) checkLegacy() {
	s := p.s
	if m, ok := p.legacy["ACCOUNT_AUTHENTICATION_METHOD"].(string); ok && p.explicit("ACCOUNT_LOGIN_METHODS") {
		if LegacyAuthenticationMethod(s.LoginMethods) != m {
			p.fail("ACCOUNT_AUTHENTICATION_METHOD", "%q contradicts ACCOUNT_LOGIN_METHODS %s, which replaces it; remove the legacy key",
				m, jsonText(s.LoginMethods))
		}
	}

	if p.explicit("ACCOUNT_SIGNUP_FIELDS") {
		for _, c := range []struct {
			key, field string
			fieldSays  bool
		}{
			{"ACCOUNT_EMAIL_REQUIRED", `"email*"`, p.signupRequired("email")},
			{"ACCOUNT_USERNAME_REQUIRED", `"username*"`, p.signupRequired("username")},
			{"ACCOUNT_SIGNUP_EMAIL_ENTER_TWICE", `"email2"`, p.signupHas("email2")},
			{"ACCOUNT_SIGNUP_PASSWORD_ENTER_TWICE", `"password2"`, p.signupHas("password2")},
			{"ACCOUNT_SIGNUP_PASSWORD_VERIFICATION", `"password2"`, p.signupHas("password2")},
		} {
			b, ok := p.legacy[c.key].(bool)
			switch {
			case !ok || b == c.fieldSays:
			case b:
				p.fail(c.key, "is true, but ACCOUNT_SIGNUP_FIELDS, which replaces it, has no %s; remove the legacy key", c.field)
			default:
				p.fail(c.key, "is false, but ACCOUNT_SIGNUP_FIELDS, which replaces it, has %s; remove the legacy key", c.field)
			}
		}
	} else {
		twice, ok1 := p.legacy["ACCOUNT_SIGNUP_PASSWORD_ENTER_TWICE"].(bool)
		verification, ok2 := p.legacy["ACCOUNT_SIGNUP_PASSWORD_VERIFICATION"].(bool)
		if ok1 && ok2 && twice != verification {
			p.fail("ACCOUNT_SIGNUP_PASSWORD_VERIFICATION", "contradicts ACCOUNT_SIGNUP_PASSWORD_ENTER_TWICE, which replaces it; remove it")
		}
	}

	if p.explicit("ACCOUNT_RATE_LIMITS") {
		given := p.doc["ACCOUNT_RATE_LIMITS"]
		overrides := func(action string) bool {
			if given == false {
				return true
			}
			m, _ := given.(map[string]any)
			_, ok := m[action]
			return ok
		}
		if overrides(ratelimit.ActionLoginFailed) &&
			!slices.Equal(legacyLoginFailedRules(p), s.RateLimits[ratelimit.ActionLoginFailed]) {
			for _, key := range []string{"ACCOUNT_LOGIN_ATTEMPTS_LIMIT", "ACCOUNT_LOGIN_ATTEMPTS_TIMEOUT"} {
				if _, ok := p.legacy[key]; ok {
					p.fail(key, "contradicts ACCOUNT_RATE_LIMITS[%q], which replaces it; remove the legacy key", ratelimit.ActionLoginFailed)
				}
			}
		}
		if _, ok := p.legacy["ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN"]; ok && !s.EmailVerificationByCodeEnabled &&
			overrides(ratelimit.ActionConfirmEmail) &&
			!slices.Equal(legacyConfirmEmailRules(p), s.RateLimits[ratelimit.ActionConfirmEmail]) {
			p.fail("ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN", "contradicts ACCOUNT_RATE_LIMITS[%q], which replaces it; remove the legacy key", ratelimit.ActionConfirmEmail)
		}
	}

	for _, c := range []struct {
		legacy, modern string
		same           func(legacy any) bool
	}{
		{"EMAIL_CONFIRMATION_DAYS", "ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS",
			func(v any) bool { return v == s.EmailConfirmationExpireDays }},
		{"ACCOUNT_SESSION_COOKIE_AGE", "HALLPASS_SESSION_COOKIE_AGE",
			func(v any) bool { return v == s.SessionCookieAge }},
		{"ACCOUNT_PASSWORD_RESET_BY_CODE_FORMAT", "ACCOUNT_PASSWORD_RESET_BY_CODE_CODE_FORMAT",
			func(v any) bool { return v == s.PasswordResetByCodeFormat }},
	} {
		if v, ok := p.legacy[c.legacy]; ok && p.explicit(c.modern) && !c.same(v) {
			p.fail(c.legacy, "contradicts %s; set only one of them", c.modern)
		}
	}
}

func (p *parser) signupHas(name string) bool {
	_, ok := p.s.SignupField(name)
	return ok
}

func (p *parser) signupRequired(name string) bool {
	f, ok := p.s.SignupField(name)
	return ok && f.Required
}

// validate applies the rules that span settings: allauth's system checks
// (which it reports as Critical at startup), and Hallpass's own.
func (p *parser) validate() {
	s := p.s
	const (
		apps       = "HALLPASS_APPS"
		verifyKey  = "ACCOUNT_EMAIL_VERIFICATION"
		byCodeKey  = "ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED"
		fieldsKey  = "ACCOUNT_SIGNUP_FIELDS"
		methodsKey = "ACCOUNT_LOGIN_METHODS"
		typesKey   = "MFA_SUPPORTED_TYPES"
	)
	emailRequired := p.signupRequired("email")

	if s.SocialAccountOnly && p.ok("SOCIALACCOUNT_ONLY") {
		if !s.HasApp(AppSocialAccount) && p.ok(apps) {
			p.fail("SOCIALACCOUNT_ONLY", "needs %q in HALLPASS_APPS", AppSocialAccount)
		}
		if s.HasApp(AppMFA) && p.ok(apps) {
			p.fail(apps, "%q does not work with SOCIALACCOUNT_ONLY; remove it", AppMFA)
		}
		if s.LoginByCodeEnabled && p.ok("ACCOUNT_LOGIN_BY_CODE_ENABLED") {
			p.fail("ACCOUNT_LOGIN_BY_CODE_ENABLED", "does not work with SOCIALACCOUNT_ONLY")
		}
		if s.EmailVerification != EmailVerificationNone && p.ok(verifyKey) {
			p.fail(verifyKey, "must be %q with SOCIALACCOUNT_ONLY", EmailVerificationNone)
		}
		if s.SocialAccountEmailVerification != EmailVerificationNone && p.ok("SOCIALACCOUNT_EMAIL_VERIFICATION") {
			p.fail("SOCIALACCOUNT_EMAIL_VERIFICATION", "must be %q with SOCIALACCOUNT_ONLY", EmailVerificationNone)
		}
	}
	if len(s.LoginMethods) == 0 && !s.SocialAccountOnly && p.ok(methodsKey) {
		p.fail(methodsKey, "must list at least one login method (%s)", quoteList(allLoginMethods))
	}
	if s.EmailVerificationByCodeEnabled && s.EmailVerification != EmailVerificationMandatory && p.ok(byCodeKey, verifyKey) {
		p.fail(byCodeKey, "requires ACCOUNT_EMAIL_VERIFICATION = %q", EmailVerificationMandatory)
	}
	if s.EmailVerification == EmailVerificationMandatory && !emailRequired && p.ok(verifyKey, fieldsKey) {
		p.fail(verifyKey, "%q requires \"email*\" in ACCOUNT_SIGNUP_FIELDS", EmailVerificationMandatory)
	}
	if s.HasLoginMethod("email") && !s.UniqueEmail && p.ok(methodsKey, "ACCOUNT_UNIQUE_EMAIL") {
		p.fail("ACCOUNT_UNIQUE_EMAIL", "must be true while email is a login method")
	}
	if s.UserModelUsernameField == "" && p.ok("ACCOUNT_USER_MODEL_USERNAME_FIELD") {
		if p.signupHas("username") && p.ok(fieldsKey) {
			p.fail(fieldsKey, "contains \"username\", but ACCOUNT_USER_MODEL_USERNAME_FIELD is null")
		}
		if s.HasLoginMethod("username") && p.ok(methodsKey) {
			p.fail(methodsKey, "contains \"username\", but ACCOUNT_USER_MODEL_USERNAME_FIELD is null")
		}
	}
	if s.ChangeEmail && s.MaxEmailAddresses != 0 && s.MaxEmailAddresses != 2 && p.ok("ACCOUNT_CHANGE_EMAIL", "ACCOUNT_MAX_EMAIL_ADDRESSES") {
		p.fail("ACCOUNT_MAX_EMAIL_ADDRESSES", "must be null or 2 with ACCOUNT_CHANGE_EMAIL (the old address stays until the new one is verified)")
	}
	if s.LoginByCodeTrustEnabled && !s.HasApp(AppMFA) && p.ok("ACCOUNT_LOGIN_BY_CODE_TRUST_ENABLED", apps) {
		p.fail("ACCOUNT_LOGIN_BY_CODE_TRUST_ENABLED", "requires %q in HALLPASS_APPS", AppMFA)
	}

	webauthn := slices.Contains(s.MFASupportedTypes, "webauthn")
	if s.MFAPasskeyLoginEnabled && !webauthn && p.ok("MFA_PASSKEY_LOGIN_ENABLED", typesKey) {
		p.fail("MFA_PASSKEY_LOGIN_ENABLED", "requires \"webauthn\" in MFA_SUPPORTED_TYPES")
	}
	if s.MFAPasskeySignupEnabled && p.ok("MFA_PASSKEY_SIGNUP_ENABLED") {
		const key = "MFA_PASSKEY_SIGNUP_ENABLED"
		if !webauthn && p.ok(typesKey) {
			p.fail(key, "requires \"webauthn\" in MFA_SUPPORTED_TYPES")
		}
		// The passkey signup is remembered in the session, which a link
		// opened elsewhere would not have: verification must be by code.
		if !s.EmailVerificationByCodeEnabled && p.ok(byCodeKey) {
			p.fail(key, "requires ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED")
		}
		if !emailRequired && p.ok(fieldsKey) {
			p.fail(key, "requires \"email*\" in ACCOUNT_SIGNUP_FIELDS")
		}
		if s.EmailVerification != EmailVerificationMandatory && p.ok(verifyKey) {
			p.fail(key, "requires ACCOUNT_EMAIL_VERIFICATION = %q", EmailVerificationMandatory)
		}
	}
	if secureOnlyName(s.MFATrustCookieName) && !s.MFATrustCookieSecure && p.ok("MFA_TRUST_COOKIE_NAME", "MFA_TRUST_COOKIE_SECURE") {
		err := fmt.Errorf("%q: a __Secure- cookie requires MFA_TRUST_COOKIE_SECURE = true; browsers drop it otherwise", s.MFATrustCookieName)
		if p.stored {
			p.clampTo("MFA_TRUST_COOKIE_NAME", err, jsonText(DefaultTrustCookieName))
			s.MFATrustCookieName = DefaultTrustCookieName
		} else {
			p.failErr("MFA_TRUST_COOKIE_NAME", err)
		}
	}
	if s.MFATrustCookieSameSite == "None" && !s.MFATrustCookieSecure && p.ok("MFA_TRUST_COOKIE_SAMESITE", "MFA_TRUST_COOKIE_SECURE") {
		p.fail("MFA_TRUST_COOKIE_SAMESITE", "\"None\" requires MFA_TRUST_COOKIE_SECURE = true; browsers drop the cookie otherwise")
	}

	if p.ok("HEADLESS_JWT_ALGORITHM", "HEADLESS_JWT_PRIVATE_KEY") {
		if err := checkJWTKey(s.JWTAlgorithm, s.JWTPrivateKey); err != nil {
			p.failErr("HEADLESS_JWT_PRIVATE_KEY", err)
		}
	}

	if p.ok("HALLPASS_WEBAUTHN_ORIGINS", "HALLPASS_WEBAUTHN_RP_ID", "MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN") {
		for _, o := range s.WebAuthnOrigins {
			host := originHost(o)
			if strings.HasPrefix(o, "http://") && !isLoopbackHost(host) && !s.MFAWebAuthnAllowInsecureOrigin {
				p.fail("HALLPASS_WEBAUTHN_ORIGINS", "%q: WebAuthn needs https outside localhost (MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN allows it for development)", o)
			}
			if rp := s.WebAuthnRPID; rp != "" && host != rp && !strings.HasSuffix(host, "."+rp) {
				p.fail("HALLPASS_WEBAUTHN_ORIGINS", "%q is neither HALLPASS_WEBAUTHN_RP_ID %q nor a subdomain of it", o, rp)
			}
		}
	}

	p.checkHeadlessOnlyURLs()
}

// checkHeadlessOnlyURLs requires the frontend URLs allauth will look up:
// with HEADLESS_ONLY it has no pages of its own to fall back to and fails
// the request (ImproperlyConfigured) instead.
func (p *parser) checkHeadlessOnlyURLs() {
	s := p.s
	if !s.HeadlessOnly || !p.ok("HEADLESS_ONLY", "HEADLESS_FRONTEND_URLS") {
		return
	}
	type need struct{ name, use string }
	var needs []need
	if !s.SocialAccountOnly {
		if !s.EmailVerificationByCodeEnabled {
			needs = append(needs, need{"account_confirm_email", "email verification links"})
		}
		if !s.PasswordResetByCodeEnabled {
			needs = append(needs, need{"account_reset_password_from_key", "password reset links"})
		}
		if s.EmailUnknownAccounts || s.PreventEnumeration {
			needs = append(needs, need{"account_signup", "mails to addresses without an account"})
		}
		if s.PreventEnumeration {
			needs = append(needs, need{"account_reset_password", "account-already-exists mails"})
		}
	}
	if s.HasApp(AppSocialAccount) && hasProviderApps(s.SocialAccountProviders) {
		needs = append(needs, need{"socialaccount_login_error", "provider login errors"})
	}
	for _, n := range needs {
		if s.FrontendURLs[n.name] == "" {
			p.fail("HEADLESS_FRONTEND_URLS", "HEADLESS_ONLY requires %q (used for %s)", n.name, n.use)
		}
	}
}

// hasProviderApps reports whether any provider has an app, that is, whether
// a provider login can happen at all.
func hasProviderApps(providers map[string]ProviderSettings) bool {
	for _, ps := range providers {
		if len(ps.Apps) > 0 {
			return true
		}
	}
	return false
}

// jsonText renders a value compactly for messages.
func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
