package tenants_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/tenants"
)

// doc is a settings document written as a Go map, for readable cases.
type doc map[string]any

func (d doc) json(t *testing.T) []byte {
	t.Helper()
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// with returns base with extra's keys set over it.
func with(base, extra doc) doc {
	out := doc{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range extra {
		out[k] = v
	}
	return out
}

func mustParse(t *testing.T, d doc) *tenants.Settings {
	t.Helper()
	s, err := tenants.ParseSettings(d.json(t))
	if err != nil {
		t.Fatalf("ParseSettings(%s): %v", d.json(t), err)
	}
	return s
}

// settingsErrors flattens what ParseSettings returned into its parts.
func settingsErrors(t *testing.T, err error) []*tenants.SettingsError {
	t.Helper()
	var many tenants.SettingsErrors
	if errors.As(err, &many) {
		return many
	}
	var one *tenants.SettingsError
	if errors.As(err, &one) {
		return []*tenants.SettingsError{one}
	}
	t.Fatalf("error %v (%T) is not a settings error", err, err)
	return nil
}

// Keys generated once: RSA generation is slow.
var (
	rsa2048 = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(2048) })
	rsa1024 = sync.OnceValue(func() *rsa.PrivateKey { return mustRSA(1024) })
)

func mustRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func pemBlock(typ string, der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func pkcs8PEM(t *testing.T, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("PRIVATE KEY", der)
}

func ecKey(t *testing.T, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sec1PEM(t *testing.T, k *ecdsa.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pemBlock("EC PRIVATE KEY", der)
}

func edKey(t *testing.T) ed25519.PrivateKey {
	t.Helper()
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestDefaultsAreAllauths(t *testing.T) {
	s := tenants.DefaultSettings()
	rules := func(r string) []ratelimit.Rule {
		out, err := ratelimit.ParseRules(r)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	code := tenants.UserCodeFormat{Numeric: false, Dashed: true, Length: 8}
	checks := []struct {
		name      string
		got, want any
	}{
		// HEADLESS_* (allauth/headless/app_settings.py)
		{"Clients", s.Clients, []string{"browser", "app"}},
		{"FrontendURLs", s.FrontendURLs, map[string]string{}},
		{"HeadlessOnly", s.HeadlessOnly, false},
		{"TokenStrategy", s.TokenStrategy, "session"},
		{"ServeSpecification", s.ServeSpecification, false},
		{"SpecificationTemplateName", s.SpecificationTemplateName, "headless/spec/redoc_cdn.html"},
		{"JWTAlgorithm", s.JWTAlgorithm, "RS256"},
		{"JWTPrivateKey", s.JWTPrivateKey, ""},
		{"JWTAccessTokenExpiresIn", s.JWTAccessTokenExpiresIn, 300},
		{"JWTRefreshTokenExpiresIn", s.JWTRefreshTokenExpiresIn, 86400},
		{"JWTAuthorizationHeaderScheme", s.JWTAuthorizationHeaderScheme, "Bearer"},
		{"JWTStatefulValidationEnabled", s.JWTStatefulValidationEnabled, false},
		{"JWTRotateRefreshToken", s.JWTRotateRefreshToken, true},
		// global
		{"SocialAccountOnly", s.SocialAccountOnly, false},
		{"TrustedProxyCount", s.TrustedProxyCount, 0},
		{"TrustedClientIPHeader", s.TrustedClientIPHeader, ""},
		{"UserCodeFormat", s.UserCodeFormat, code},
		// ACCOUNT_* (allauth/account/app_settings.py)
		{"LoginMethods", s.LoginMethods, []string{"username"}},
		{"SignupFields", s.SignupFields, []tenants.SignupField{
			{Name: "email"}, {Name: "username", Required: true}, {Name: "password1", Required: true}, {Name: "password2", Required: true}}},
		{"EmailVerification", s.EmailVerification, "optional"},
		{"EmailVerificationByCodeEnabled", s.EmailVerificationByCodeEnabled, false},
		{"EmailVerificationByCodeMaxAttempts", s.EmailVerificationByCodeMaxAttempts, 3},
		{"EmailVerificationByCodeTimeout", s.EmailVerificationByCodeTimeout, 900},
		{"EmailVerificationByCodeFormat", s.EmailVerificationByCodeFormat, code},
		{"EmailVerificationMaxResendCount", s.EmailVerificationMaxResendCount, 0},
		{"EmailVerificationMaxChangeCount", s.EmailVerificationMaxChangeCount, 0},
		{"EmailConfirmationExpireDays", s.EmailConfirmationExpireDays, 3},
		{"EmailConfirmationHMAC", s.EmailConfirmationHMAC, true},
		{"LoginOnEmailConfirmation", s.LoginOnEmailConfirmation, false},
		{"LoginOnPasswordReset", s.LoginOnPasswordReset, false},
		{"LogoutOnPasswordChange", s.LogoutOnPasswordChange, false},
		{"ChangeEmail", s.ChangeEmail, false},
		{"MaxEmailAddresses", s.MaxEmailAddresses, 0},
		{"UniqueEmail", s.UniqueEmail, true},
		{"EmailMaxLength", s.EmailMaxLength, 254},
		{"PreventEnumeration", s.PreventEnumeration, true},
		{"PreventEnumerationStrict", s.PreventEnumerationStrict, false},
		{"EmailUnknownAccounts", s.EmailUnknownAccounts, true},
		{"EmailNotifications", s.EmailNotifications, false},
		{"EmailSubjectPrefix", s.EmailSubjectPrefix, (*string)(nil)},
		{"ReauthenticationRequired", s.ReauthenticationRequired, false},
		{"ReauthenticationTimeout", s.ReauthenticationTimeout, 300},
		{"LoginTimeout", s.LoginTimeout, 900},
		{"LoginByCodeEnabled", s.LoginByCodeEnabled, false},
		{"LoginByCodeRequiredAlways", s.LoginByCodeRequiredAlways, false},
		{"LoginByCodeRequiredFor", s.LoginByCodeRequiredFor, []string{}},
		{"LoginByCodeMaxAttempts", s.LoginByCodeMaxAttempts, 3},
		{"LoginByCodeTimeout", s.LoginByCodeTimeout, 180},
		{"LoginByCodeMaxResendCount", s.LoginByCodeMaxResendCount, 0},
		{"LoginByCodeTrustEnabled", s.LoginByCodeTrustEnabled, false},
		{"LoginByCodeFormat", s.LoginByCodeFormat, code},
		{"PasswordResetByCodeEnabled", s.PasswordResetByCodeEnabled, false},
		{"PasswordResetByCodeMaxAttempts", s.PasswordResetByCodeMaxAttempts, 3},
		{"PasswordResetByCodeTimeout", s.PasswordResetByCodeTimeout, 180},
		{"PasswordResetByCodeFormat", s.PasswordResetByCodeFormat, code},
		{"PhoneVerificationEnabled", s.PhoneVerificationEnabled, true},
		{"PhoneVerificationMaxAttempts", s.PhoneVerificationMaxAttempts, 3},
		{"PhoneVerificationTimeout", s.PhoneVerificationTimeout, 900},
		{"PhoneVerificationMaxResendCount", s.PhoneVerificationMaxResendCount, 0},
		{"PhoneVerificationMaxChangeCount", s.PhoneVerificationMaxChangeCount, 0},
		{"PhoneVerificationCodeFormat", s.PhoneVerificationCodeFormat, code},
		// Not allauth's 6: Hallpass's floor (NIST SP 800-63B).
		{"PasswordMinLength", s.PasswordMinLength, tenants.PasswordMinLengthFloor},
		{"UserModelUsernameField", s.UserModelUsernameField, "username"},
		{"UserModelEmailField", s.UserModelEmailField, "email"},
		{"UsernameMinLength", s.UsernameMinLength, 1},
		{"UsernameBlacklist", s.UsernameBlacklist, []string{}},
		{"PreserveUsernameCasing", s.PreserveUsernameCasing, true},
		{"SessionRemember", s.SessionRemember, (*bool)(nil)},
		{"SignupFormHoneypotField", s.SignupFormHoneypotField, ""},
		{"DefaultHTTPProtocol", s.DefaultHTTPProtocol, "http"},
		{"Salt", s.Salt, "account"},
		// ACCOUNT_RATE_LIMITS (link mode)
		{"RateLimits", s.RateLimits, map[string][]ratelimit.Rule{
			"change_password":         rules("5/m/user"),
			"change_phone":            rules("1/m/user"),
			"manage_email":            rules("10/m/user"),
			"reset_password":          rules("20/m/ip,5/m/key"),
			"reauthenticate":          rules("10/m/user"),
			"reset_password_from_key": rules("20/m/ip"),
			"signup":                  rules("20/m/ip"),
			"login":                   rules("30/m/ip"),
			"request_login_code":      rules("20/m/ip,3/m/key"),
			"login_failed":            rules("10/m/ip,5/300s/key"),
			"confirm_email":           rules("1/180s/key"),
			"verify_phone":            rules("1/30s/key,3/m/ip"),
		}},
		// MFA_* (allauth/mfa/app_settings.py; cookie defaults are Django's)
		{"MFASupportedTypes", s.MFASupportedTypes, []string{"recovery_codes", "totp"}},
		{"MFAPasskeyLoginEnabled", s.MFAPasskeyLoginEnabled, false},
		{"MFAPasskeySignupEnabled", s.MFAPasskeySignupEnabled, false},
		{"MFAAllowUnverifiedEmail", s.MFAAllowUnverifiedEmail, false},
		{"MFATOTPPeriod", s.MFATOTPPeriod, 30},
		{"MFATOTPDigits", s.MFATOTPDigits, 6},
		{"MFATOTPTolerance", s.MFATOTPTolerance, 0},
		{"MFATOTPIssuer", s.MFATOTPIssuer, ""},
		{"MFARecoveryCodeCount", s.MFARecoveryCodeCount, 10},
		{"MFARecoveryCodeDigits", s.MFARecoveryCodeDigits, 8},
		{"MFARecoveryCodesShowOnce", s.MFARecoveryCodesShowOnce, false},
		{"MFAWebAuthnAllowInsecureOrigin", s.MFAWebAuthnAllowInsecureOrigin, false},
		{"MFATrustEnabled", s.MFATrustEnabled, false},
		{"MFATrustCookieAge", s.MFATrustCookieAge, int((14 * 24 * time.Hour).Seconds())},
		{"MFATrustCookieName", s.MFATrustCookieName, "mfa_trusted"},
		{"MFATrustCookieDomain", s.MFATrustCookieDomain, ""},
		{"MFATrustCookieHTTPOnly", s.MFATrustCookieHTTPOnly, true},
		{"MFATrustCookiePath", s.MFATrustCookiePath, "/"},
		{"MFATrustCookieSameSite", s.MFATrustCookieSameSite, "Lax"},
		{"MFATrustCookieSecure", s.MFATrustCookieSecure, false},
		// SOCIALACCOUNT_*
		{"SocialAccountProviders", s.SocialAccountProviders, map[string]tenants.ProviderSettings{}},
		{"SocialAccountAutoSignup", s.SocialAccountAutoSignup, true},
		{"SocialAccountEmailRequired", s.SocialAccountEmailRequired, false},
		{"SocialAccountQueryEmail", s.SocialAccountQueryEmail, false},
		{"SocialAccountEmailVerification", s.SocialAccountEmailVerification, ""},
		{"SocialAccountEmailAuthentication", s.SocialAccountEmailAuthentication, false},
		{"SocialAccountEmailAuthenticationAutoConnect", s.SocialAccountEmailAuthenticationAutoConnect, false},
		{"SocialAccountStoreTokens", s.SocialAccountStoreTokens, false},
		{"SocialAccountRequestsTimeout", s.SocialAccountRequestsTimeout, 5},
		{"SocialAccountOpenIDConnectURLPrefix", s.SocialAccountOpenIDConnectURLPrefix, "oidc"},
		// USERSESSIONS_*
		{"UserSessionsTrackActivity", s.UserSessionsTrackActivity, false},
		// HALLPASS_*
		{"Apps", s.Apps, []string{"socialaccount", "mfa", "usersessions"}},
		{"SignupOpen", s.SignupOpen, true},
		{"CORSAllowedOrigins", s.CORSAllowedOrigins, []string{}},
		{"JWTAudience", s.JWTAudience, ""},
		{"WebAuthnRPID", s.WebAuthnRPID, ""},
		{"WebAuthnOrigins", s.WebAuthnOrigins, []string{}},
		{"EmailFrom", s.EmailFrom, ""},
		{"SessionCookieAge", s.SessionCookieAge, 1209600},
		{"PasswordBreachCheck", s.PasswordBreachCheck, false},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("default %s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	for _, empty := range []string{"{}", " {\n} "} {
		parsed, err := tenants.ParseSettings([]byte(empty))
		if err != nil || !reflect.DeepEqual(parsed, s) {
			t.Errorf("ParseSettings(%q) differs from DefaultSettings: %v", empty, err)
		}
	}
	// Every call builds a fresh value: callers may not share mutations.
	s.Clients[0] = "mutated"
	if tenants.DefaultSettings().Clients[0] != "browser" {
		t.Fatal("DefaultSettings shares state between calls")
	}
}

func TestSettingKeys(t *testing.T) {
	keys := tenants.SettingKeys()
	if !sort.StringsAreSorted(keys) {
		t.Fatal("SettingKeys is not sorted")
	}
	docKeys := make([]string, 0)
	for k := range tenants.DefaultSettings().Document() {
		docKeys = append(docKeys, k)
	}
	slices.Sort(docKeys)
	legacy := tenants.LegacySettingKeys()
	all := slices.Sorted(slices.Values(append(slices.Clone(docKeys), legacy...)))
	if !slices.Equal(all, keys) {
		t.Fatalf("SettingKeys != Document keys + legacy keys:\n%v\n%v", keys, all)
	}
	for _, want := range []string{"ACCOUNT_AUTHENTICATION_METHOD", "ACCOUNT_EMAIL_REQUIRED", "ACCOUNT_USERNAME_REQUIRED"} {
		if !slices.Contains(legacy, want) {
			t.Errorf("legacy key %s not accepted", want)
		}
	}
	for _, k := range legacy {
		if slices.Contains(docKeys, k) {
			t.Errorf("Document includes legacy key %s", k)
		}
	}
	for _, want := range []string{"HEADLESS_CLIENTS", "HALLPASS_APPS", "ACCOUNT_RATE_LIMITS", "MFA_SUPPORTED_TYPES",
		"SOCIALACCOUNT_PROVIDERS", "USERSESSIONS_TRACK_ACTIVITY", "ALLAUTH_USER_CODE_FORMAT", "HALLPASS_SESSION_COOKIE_AGE", "HALLPASS_PASSWORD_BREACH_CHECK"} {
		if !slices.Contains(keys, want) {
			t.Errorf("SettingKeys lacks %s", want)
		}
	}
}

// seedDoc is the "complete example configuration" of the settings guide in
// shared/seed, as a customer would paste it (with a real key).
func seedDoc(t *testing.T) doc {
	return doc{
		"HEADLESS_ONLY": true,
		"HEADLESS_FRONTEND_URLS": map[string]string{
			"account_confirm_email":           "https://app.example.com/account/verify-email/{key}",
			"account_reset_password_from_key": "https://app.example.com/account/password/reset/key/{key}",
			"account_reset_password":          "https://app.example.com/account/password/reset",
			"account_signup":                  "https://app.example.com/account/signup",
		},
		"HEADLESS_TOKEN_STRATEGY":                    "allauth.headless.tokens.strategies.jwt.JWTTokenStrategy",
		"HEADLESS_JWT_ALGORITHM":                     "RS256",
		"HEADLESS_JWT_PRIVATE_KEY":                   "\n" + pkcs8PEM(t, rsa2048()),
		"HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN":       300,
		"HEADLESS_JWT_REFRESH_TOKEN_EXPIRES_IN":      604800,
		"HEADLESS_JWT_STATEFUL_VALIDATION_ENABLED":   true,
		"ACCOUNT_EMAIL_REQUIRED":                     true,
		"ACCOUNT_EMAIL_VERIFICATION":                 "mandatory",
		"ACCOUNT_AUTHENTICATION_METHOD":              "email",
		"ACCOUNT_USERNAME_REQUIRED":                  false,
		"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true,
		"ACCOUNT_LOGIN_BY_CODE_ENABLED":              true,
		"MFA_SUPPORTED_TYPES":                        []string{"totp", "recovery_codes", "webauthn"},
		"MFA_PASSKEY_LOGIN_ENABLED":                  true,
	}
}

// reactSPADoc is allauth's own React SPA example backend (code wins: these
// settings run there).
func reactSPADoc() doc {
	return doc{
		"ACCOUNT_EMAIL_VERIFICATION":                 "mandatory",
		"ACCOUNT_LOGIN_METHODS":                      []string{"email"},
		"ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE":          false,
		"ACCOUNT_LOGIN_BY_CODE_ENABLED":              true,
		"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true,
		"ACCOUNT_SIGNUP_FIELDS":                      []string{"email*", "password1*", "password2*"},
		"HEADLESS_ONLY":                              true,
		"HEADLESS_FRONTEND_URLS": map[string]string{
			"account_confirm_email":           "/account/verify-email/{key}",
			"account_reset_password":          "/account/password/reset",
			"account_reset_password_from_key": "/account/password/reset/key/{key}",
			"account_signup":                  "/account/signup",
			"socialaccount_login_error":       "/account/provider/callback",
		},
		"HEADLESS_SERVE_SPECIFICATION": true,
		"MFA_SUPPORTED_TYPES":          []string{"totp", "recovery_codes", "webauthn"},
		"MFA_PASSKEY_LOGIN_ENABLED":    true,
		"MFA_PASSKEY_SIGNUP_ENABLED":   true,
	}
}

func TestSeedExampleParses(t *testing.T) {
	s := mustParse(t, seedDoc(t))
	if s.TokenStrategy != tenants.TokenStrategyJWT || !s.HeadlessOnly || !s.JWTStatefulValidationEnabled {
		t.Errorf("headless settings not applied: %+v", s)
	}
	if !reflect.DeepEqual(s.LoginMethods, []string{"email"}) {
		t.Errorf("LoginMethods = %v", s.LoginMethods)
	}
	wantFields := []tenants.SignupField{{Name: "email", Required: true}, {Name: "password1", Required: true}, {Name: "password2", Required: true}}
	if !reflect.DeepEqual(s.SignupFields, wantFields) {
		t.Errorf("SignupFields = %v", s.SignupFields)
	}
	if !s.SocialAccountEmailRequired || !s.SocialAccountQueryEmail {
		t.Error("SOCIALACCOUNT_EMAIL_REQUIRED/QUERY_EMAIL should follow email*")
	}
	if got := ratelimit.FormatRules(s.RateLimits["confirm_email"]); got != "1/10s/key" {
		t.Errorf("code-mode confirm_email = %s", got)
	}

	spa := mustParse(t, reactSPADoc())
	if !spa.MFAPasskeySignupEnabled || spa.FrontendURLs["socialaccount_login_error"] != "/account/provider/callback" {
		t.Errorf("react-spa settings not applied: %+v", spa)
	}

	// allauth's tests: a query-string {key} and a trailing-slash path.
	mustParse(t, doc{"HEADLESS_FRONTEND_URLS": map[string]string{
		"account_confirm_email":           "/spa/confirm-email?key={key}",
		"account_reset_password_from_key": "/spa/password/reset/{key}/",
	}})
	// The guide's HEADLESS_CLIENTS order is kept as given.
	if got := mustParse(t, doc{"HEADLESS_CLIENTS": []string{"app", "browser"}}).Clients; !reflect.DeepEqual(got, []string{"app", "browser"}) {
		t.Errorf("Clients = %v", got)
	}
}

func TestLegacyDerivation(t *testing.T) {
	f := func(name string, required bool) tenants.SignupField {
		return tenants.SignupField{Name: name, Required: required}
	}
	tests := []struct {
		name    string
		doc     doc
		methods []string
		fields  []tenants.SignupField
	}{
		{"defaults", doc{}, []string{"username"},
			[]tenants.SignupField{f("email", false), f("username", true), f("password1", true), f("password2", true)}},
		{"email method", doc{"ACCOUNT_AUTHENTICATION_METHOD": "email", "ACCOUNT_EMAIL_REQUIRED": true, "ACCOUNT_USERNAME_REQUIRED": false},
			[]string{"email"}, []tenants.SignupField{f("email", true), f("password1", true), f("password2", true)}},
		{"username_email", doc{"ACCOUNT_AUTHENTICATION_METHOD": "username_email", "ACCOUNT_EMAIL_REQUIRED": true},
			[]string{"username", "email"}, []tenants.SignupField{f("email", true), f("username", true), f("password1", true), f("password2", true)}},
		{"enter twice", doc{"ACCOUNT_EMAIL_REQUIRED": true, "ACCOUNT_SIGNUP_EMAIL_ENTER_TWICE": true, "ACCOUNT_SIGNUP_PASSWORD_ENTER_TWICE": false},
			[]string{"username"}, []tenants.SignupField{f("email", true), f("email2", true), f("username", true), f("password1", true)}},
		{"optional email twice", doc{"ACCOUNT_SIGNUP_EMAIL_ENTER_TWICE": true},
			[]string{"username"}, []tenants.SignupField{f("email", false), f("email2", false), f("username", true), f("password1", true), f("password2", true)}},
		{"older password verification", doc{"ACCOUNT_SIGNUP_PASSWORD_VERIFICATION": false},
			[]string{"username"}, []tenants.SignupField{f("email", false), f("username", true), f("password1", true)}},
		{"null modern keys derive", doc{"ACCOUNT_LOGIN_METHODS": nil, "ACCOUNT_SIGNUP_FIELDS": nil, "ACCOUNT_AUTHENTICATION_METHOD": "email", "ACCOUNT_EMAIL_REQUIRED": true},
			[]string{"email"}, []tenants.SignupField{f("email", true), f("username", true), f("password1", true), f("password2", true)}},
		{"empty signup fields derive", doc{"ACCOUNT_SIGNUP_FIELDS": []string{}, "ACCOUNT_USERNAME_REQUIRED": false},
			[]string{"username"}, []tenants.SignupField{f("email", false), f("password1", true), f("password2", true)}},
		{"consistent legacy and modern", doc{"ACCOUNT_AUTHENTICATION_METHOD": "username_email", "ACCOUNT_LOGIN_METHODS": []string{"email", "username"},
			"ACCOUNT_EMAIL_REQUIRED": true, "ACCOUNT_USERNAME_REQUIRED": false, "ACCOUNT_SIGNUP_FIELDS": []string{"email*", "username", "password1*"}},
			[]string{"email", "username"}, []tenants.SignupField{f("email", true), f("username", false), f("password1", true)}},
		{"modern phone login, legacy email", doc{"ACCOUNT_AUTHENTICATION_METHOD": "email", "ACCOUNT_LOGIN_METHODS": []string{"email", "phone"},
			"ACCOUNT_SIGNUP_FIELDS": []string{"email*", "phone", "password1*"}},
			[]string{"email", "phone"}, []tenants.SignupField{f("email", true), f("phone", false), f("password1", true)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustParse(t, tt.doc)
			if !reflect.DeepEqual(s.LoginMethods, tt.methods) {
				t.Errorf("LoginMethods = %v, want %v", s.LoginMethods, tt.methods)
			}
			if !reflect.DeepEqual(s.SignupFields, tt.fields) {
				t.Errorf("SignupFields = %v, want %v", s.SignupFields, tt.fields)
			}
		})
	}

	other := []struct {
		name  string
		doc   doc
		check func(*tenants.Settings) bool
	}{
		{"login attempts feed login_failed", doc{"ACCOUNT_LOGIN_ATTEMPTS_LIMIT": 3, "ACCOUNT_LOGIN_ATTEMPTS_TIMEOUT": 600},
			func(s *tenants.Settings) bool {
				return ratelimit.FormatRules(s.RateLimits["login_failed"]) == "10/m/ip,3/10m/key"
			}},
		{"zero login attempts drop login_failed", doc{"ACCOUNT_LOGIN_ATTEMPTS_LIMIT": 0},
			func(s *tenants.Settings) bool { _, ok := s.RateLimits["login_failed"]; return !ok }},
		{"cooldown feeds confirm_email", doc{"ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN": 60},
			func(s *tenants.Settings) bool {
				return ratelimit.FormatRules(s.RateLimits["confirm_email"]) == "1/m/key"
			}},
		{"cooldown ignored in code mode", doc{"ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN": 60, "ACCOUNT_EMAIL_VERIFICATION": "mandatory",
			"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true, "ACCOUNT_SIGNUP_FIELDS": []string{"email*", "password1*"}},
			func(s *tenants.Settings) bool {
				return ratelimit.FormatRules(s.RateLimits["confirm_email"]) == "1/10s/key"
			}},
		{"EMAIL_CONFIRMATION_DAYS", doc{"EMAIL_CONFIRMATION_DAYS": 7},
			func(s *tenants.Settings) bool { return s.EmailConfirmationExpireDays == 7 }},
		{"ACCOUNT_SESSION_COOKIE_AGE", doc{"ACCOUNT_SESSION_COOKIE_AGE": 3600},
			func(s *tenants.Settings) bool { return s.SessionCookieAge == 3600 }},
		{"documented password reset format name", doc{"ACCOUNT_PASSWORD_RESET_BY_CODE_FORMAT": map[string]any{"numeric": true}},
			func(s *tenants.Settings) bool {
				return s.PasswordResetByCodeFormat == tenants.UserCodeFormat{Numeric: true, Dashed: true, Length: 9}
			}},
		{"boolean email verification", doc{"ACCOUNT_EMAIL_VERIFICATION": true, "ACCOUNT_EMAIL_REQUIRED": true},
			func(s *tenants.Settings) bool { return s.EmailVerification == "mandatory" }},
		{"false email verification", doc{"ACCOUNT_EMAIL_VERIFICATION": false},
			func(s *tenants.Settings) bool { return s.EmailVerification == "optional" }},
		{"social-only email verification", doc{"SOCIALACCOUNT_ONLY": true, "ACCOUNT_EMAIL_VERIFICATION": "none", "HALLPASS_APPS": []string{"socialaccount"}},
			func(s *tenants.Settings) bool { return s.SocialAccountEmailVerification == "none" }},
		{"global code format feeds flows", doc{"ALLAUTH_USER_CODE_FORMAT": map[string]any{"numeric": true, "dashed": false}},
			func(s *tenants.Settings) bool {
				want := tenants.UserCodeFormat{Numeric: true, Length: 9}
				return s.UserCodeFormat == want && s.LoginByCodeFormat == want && s.PhoneVerificationCodeFormat == want &&
					s.EmailVerificationByCodeFormat == want && s.PasswordResetByCodeFormat == want
			}},
		{"flow format replaces global", doc{"ALLAUTH_USER_CODE_FORMAT": map[string]any{"numeric": true}, "ACCOUNT_LOGIN_BY_CODE_FORMAT": map[string]any{"length": 6}},
			func(s *tenants.Settings) bool {
				return s.LoginByCodeFormat == tenants.UserCodeFormat{Dashed: true, Length: 6}
			}},
	}
	for _, tt := range other {
		t.Run(tt.name, func(t *testing.T) {
			if s := mustParse(t, tt.doc); !tt.check(s) {
				t.Errorf("unexpected result: %+v", s)
			}
		})
	}
}

func TestValues(t *testing.T) {
	tests := []struct {
		name  string
		doc   doc
		check func(*tenants.Settings) bool
	}{
		{"short jwt strategy", doc{"HEADLESS_TOKEN_STRATEGY": "jwt"},
			func(s *tenants.Settings) bool { return s.TokenStrategy == "jwt" }},
		{"dotted session strategy", doc{"HEADLESS_TOKEN_STRATEGY": "allauth.headless.tokens.strategies.sessions.SessionTokenStrategy"},
			func(s *tenants.Settings) bool { return s.TokenStrategy == "session" }},
		{"resend true is 2", doc{"ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND": true, "ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_RESEND": 5},
			func(s *tenants.Settings) bool {
				return s.LoginByCodeMaxResendCount == 2 && s.EmailVerificationMaxResendCount == 5
			}},
		{"login by code required set", doc{"ACCOUNT_LOGIN_BY_CODE_REQUIRED": []string{"socialaccount", "password"}},
			func(s *tenants.Settings) bool {
				return slices.Equal(s.LoginByCodeRequiredFor, []string{"password", "socialaccount"}) &&
					s.LoginCodeRequiredAfter("password") && !s.LoginCodeRequiredAfter("mfa") &&
					s.LoginCodeRequiredAfter("") && !s.LoginCodeRequiredAfter("code")
			}},
		{"login by code required always", doc{"ACCOUNT_LOGIN_BY_CODE_REQUIRED": true},
			func(s *tenants.Settings) bool {
				return s.LoginByCodeRequiredAlways && s.LoginCodeRequiredAfter("mfa") && !s.LoginCodeRequiredAfter("code")
			}},
		{"empty required set is false", doc{"ACCOUNT_LOGIN_BY_CODE_REQUIRED": []string{}},
			func(s *tenants.Settings) bool { return !s.LoginByCodeRequiredAlways && !s.LoginCodeRequiredAfter("") }},
		{"strict enumeration", doc{"ACCOUNT_PREVENT_ENUMERATION": "strict"},
			func(s *tenants.Settings) bool { return s.PreventEnumeration && s.PreventEnumerationStrict }},
		{"rate limits merged", doc{"ACCOUNT_RATE_LIMITS": map[string]any{"login": "5/m/ip", "signup": false, "change_phone": nil}},
			func(s *tenants.Settings) bool {
				_, signup := s.RateLimits["signup"]
				_, phone := s.RateLimits["change_phone"]
				return ratelimit.FormatRules(s.RateLimits["login"]) == "5/m/ip" && !signup && !phone &&
					ratelimit.FormatRules(s.RateLimits["reset_password"]) == "20/m/ip,5/m/key"
			}},
		{"rate limits off", doc{"ACCOUNT_RATE_LIMITS": false},
			func(s *tenants.Settings) bool { return s.RateLimits == nil }},
		{"rate limits empty object keeps defaults", doc{"ACCOUNT_RATE_LIMITS": map[string]any{}},
			func(s *tenants.Settings) bool { return len(s.RateLimits) == len(ratelimit.Actions()) }},
		{"origins normalised", doc{"HALLPASS_CORS_ALLOWED_ORIGINS": []string{"HTTPS://App.Example.com:443", "http://localhost:3000", "http://[::1]:8080"}},
			func(s *tenants.Settings) bool {
				return slices.Equal(s.CORSAllowedOrigins, []string{"https://app.example.com", "http://localhost:3000", "http://[::1]:8080"})
			}},
		{"webauthn", doc{"HALLPASS_WEBAUTHN_RP_ID": "Example.com", "HALLPASS_WEBAUTHN_ORIGINS": []string{"https://example.com", "https://app.example.com"}},
			func(s *tenants.Settings) bool { return s.WebAuthnRPID == "example.com" && len(s.WebAuthnOrigins) == 2 }},
		{"webauthn on localhost", doc{"HALLPASS_WEBAUTHN_RP_ID": "localhost", "HALLPASS_WEBAUTHN_ORIGINS": []string{"http://localhost:5173"}},
			func(s *tenants.Settings) bool { return s.WebAuthnOrigins[0] == "http://localhost:5173" }},
		{"webauthn insecure origin allowed", doc{"MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN": true, "HALLPASS_WEBAUTHN_ORIGINS": []string{"http://dev.example.com:8000"}},
			func(s *tenants.Settings) bool { return len(s.WebAuthnOrigins) == 1 }},
		{"email from with name", doc{"HALLPASS_EMAIL_FROM": "Acme <no-reply@acme.example>"},
			func(s *tenants.Settings) bool { return s.EmailFrom == "Acme <no-reply@acme.example>" }},
		{"apps subset", doc{"HALLPASS_APPS": []string{"mfa"}, "HALLPASS_SIGNUP_OPEN": false},
			func(s *tenants.Settings) bool { return s.HasApp("mfa") && !s.HasApp("socialaccount") && !s.SignupOpen }},
		{"password minimum at the floor", doc{"ACCOUNT_PASSWORD_MIN_LENGTH": 8},
			func(s *tenants.Settings) bool { return s.PasswordMinLength == 8 }},
		{"password minimum at NIST's 64", doc{"ACCOUNT_PASSWORD_MIN_LENGTH": 64},
			func(s *tenants.Settings) bool { return s.PasswordMinLength == 64 }},
		{"breach check on", doc{"HALLPASS_PASSWORD_BREACH_CHECK": true},
			func(s *tenants.Settings) bool { return s.PasswordBreachCheck }},
		{"samesite false", doc{"MFA_TRUST_COOKIE_SAMESITE": false},
			func(s *tenants.Settings) bool { return s.MFATrustCookieSameSite == "" }},
		{"null subject prefix vs empty", doc{"ACCOUNT_EMAIL_SUBJECT_PREFIX": ""},
			func(s *tenants.Settings) bool { return s.EmailSubjectPrefix != nil && *s.EmailSubjectPrefix == "" }},
		{"adapter at allauth's default is harmless", doc{"HEADLESS_ADAPTER": "allauth.headless.adapter.DefaultHeadlessAdapter", "ACCOUNT_FORMS": map[string]any{}},
			func(s *tenants.Settings) bool { return true }},
		{"social email required overrides derivation", doc{"SOCIALACCOUNT_EMAIL_REQUIRED": true},
			func(s *tenants.Settings) bool { return s.SocialAccountEmailRequired && s.SocialAccountQueryEmail }},
		{"headless only, provider without apps", with(reactSPADoc(), doc{
			"HEADLESS_FRONTEND_URLS": map[string]string{"account_confirm_email": "/v/{key}", "account_reset_password": "/r",
				"account_reset_password_from_key": "/r/{key}", "account_signup": "/s"},
			"SOCIALACCOUNT_PROVIDERS": map[string]any{"google": map[string]any{"SCOPE": []string{"email"}}}}),
			func(s *tenants.Settings) bool { return s.SocialAccountProviders["google"].Apps == nil }},
		{"headless only, all by code", doc{"HEADLESS_ONLY": true, "ACCOUNT_EMAIL_VERIFICATION": "mandatory",
			"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true, "ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED": true,
			"ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS": false, "ACCOUNT_PREVENT_ENUMERATION": false, "ACCOUNT_SIGNUP_FIELDS": []string{"email*", "password1*"}},
			func(s *tenants.Settings) bool { return s.HeadlessOnly && len(s.FrontendURLs) == 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s := mustParse(t, tt.doc); !tt.check(s) {
				t.Errorf("unexpected result: %+v", s)
			}
		})
	}
}

func TestProviders(t *testing.T) {
	s := mustParse(t, doc{"SOCIALACCOUNT_PROVIDERS": map[string]any{
		"google": map[string]any{
			"APP":            map[string]any{"client_id": "gid", "secret": "gsecret", "key": ""},
			"SCOPE":          []string{"profile", "email"},
			"AUTH_PARAMS":    map[string]any{"access_type": "online"},
			"FETCH_USERINFO": true,
			"VERIFIED_EMAIL": true,
		},
		"openid_connect": map[string]any{
			"OAUTH_PKCE_ENABLED": true,
			"APPS": []any{
				map[string]any{"provider_id": "keycloak", "name": "Keycloak", "client_id": "kc", "secret": "s",
					"settings": map[string]any{"server_url": "https://id.example.com/realms/main", "token_auth_method": "client_secret_post"}},
				map[string]any{"provider_id": "okta", "client_id": "ok", "settings": map[string]any{"server_url": "https://okta.example.com"}},
			},
		},
		"apple": map[string]any{"APPS": []any{map[string]any{"client_id": "com.example", "key": "KEYID", "certificate_key": "-----BEGIN PRIVATE KEY-----"}}},
	}})
	g := s.SocialAccountProviders["google"]
	if len(g.Apps) != 1 || g.Apps[0].ClientID != "gid" || g.Apps[0].Secret != "gsecret" {
		t.Errorf("google app = %+v", g.Apps)
	}
	if !slices.Equal(g.Scope, []string{"profile", "email"}) || g.AuthParams["access_type"] != "online" ||
		g.VerifiedEmail == nil || !*g.VerifiedEmail || g.EmailAuthentication != nil {
		t.Errorf("google typed keys = %+v", g)
	}
	if g.Extra["FETCH_USERINFO"] != true {
		t.Errorf("unknown provider-level key not kept: %v", g.Extra)
	}
	oidc := s.SocialAccountProviders["openid_connect"]
	if len(oidc.Apps) != 2 || oidc.Apps[0].ProviderID != "keycloak" || oidc.Apps[0].Settings["server_url"] != "https://id.example.com/realms/main" {
		t.Errorf("oidc apps = %+v", oidc.Apps)
	}
	if oidc.OAuthPKCEEnabled == nil || !*oidc.OAuthPKCEEnabled {
		t.Error("OAUTH_PKCE_ENABLED lost")
	}
	if apple := s.SocialAccountProviders["apple"].Apps[0]; apple.Settings["certificate_key"] != "-----BEGIN PRIVATE KEY-----" {
		t.Errorf("legacy certificate_key not moved into settings: %+v", apple)
	}
}

func TestRoundTrip(t *testing.T) {
	full := seedDoc(t)
	extra := doc{
		"SOCIALACCOUNT_PROVIDERS": map[string]any{
			"github": map[string]any{"APPS": []any{map[string]any{"client_id": "a", "secret": "b"}}, "SCOPE": []string{}, "METHOD": "oauth2",
				"NESTED": map[string]any{"n": 1.5, "big": json.RawMessage("12345678901234567890"), "l": []any{nil, true, "x"}}},
			"openid_connect": map[string]any{"APPS": []any{map[string]any{"provider_id": "kc", "client_id": "kc",
				"settings": map[string]any{"server_url": "https://kc.example.com"}}}},
		},
		"HEADLESS_FRONTEND_URLS": map[string]string{
			"account_confirm_email":           "https://app.example.com/verify/{key}",
			"account_reset_password_from_key": "https://app.example.com/reset/{key}",
			"account_reset_password":          "https://app.example.com/reset",
			"account_signup":                  "https://app.example.com/signup",
			"socialaccount_login_error":       "https://app.example.com/error",
		},
		"ACCOUNT_RATE_LIMITS":                 map[string]any{"login": "3/1.5m", "signup": false},
		"ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN": 90,
		"ACCOUNT_LOGIN_BY_CODE_REQUIRED":      []string{"mfa"},
		"ACCOUNT_PREVENT_ENUMERATION":         "strict",
		"ACCOUNT_SESSION_REMEMBER":            true,
		"ACCOUNT_EMAIL_SUBJECT_PREFIX":        "[Acme] ",
		"ACCOUNT_MAX_EMAIL_ADDRESSES":         3,
		"ACCOUNT_SIGNUP_FORM_HONEYPOT_FIELD":  "website",
		"ALLAUTH_TRUSTED_CLIENT_IP_HEADER":    "CF-Connecting-IP",
		"ALLAUTH_USER_CODE_FORMAT":            map[string]any{"numeric": true},
		"MFA_TRUST_COOKIE_SAMESITE":           false,
		"MFA_TRUST_COOKIE_PATH":               "/_allauth/",
		"HALLPASS_CORS_ALLOWED_ORIGINS":       []string{"https://app.example.com:8443"},
		"HALLPASS_WEBAUTHN_RP_ID":             "example.com",
		"HALLPASS_WEBAUTHN_ORIGINS":           []string{"https://app.example.com"},
		"HALLPASS_EMAIL_FROM":                 "Acme <no-reply@example.com>",
		"HALLPASS_PASSWORD_BREACH_CHECK":      true,
		"ACCOUNT_PASSWORD_MIN_LENGTH":         12,
		"SOCIALACCOUNT_EMAIL_VERIFICATION":    "optional",
	}
	for k, v := range extra {
		full[k] = v
	}
	cases := map[string]doc{
		"defaults":        {},
		"seed":            seedDoc(t),
		"react-spa":       reactSPADoc(),
		"everything":      full,
		"rate limits off": {"ACCOUNT_RATE_LIMITS": false, "ACCOUNT_LOGIN_ATTEMPTS_LIMIT": 0},
		"social only": {"SOCIALACCOUNT_ONLY": true, "ACCOUNT_EMAIL_VERIFICATION": "none", "HALLPASS_APPS": []string{"socialaccount"},
			"ACCOUNT_LOGIN_METHODS": []string{}},
		"hs256":       {"HEADLESS_JWT_ALGORITHM": "HS512", "HEADLESS_JWT_PRIVATE_KEY": strings.Repeat("k", 64)},
		"always code": {"ACCOUNT_LOGIN_BY_CODE_REQUIRED": true},
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) {
			s := mustParse(t, d)
			b, err := json.Marshal(s.Document())
			if err != nil {
				t.Fatal(err)
			}
			again, err := tenants.ParseSettings(b)
			if err != nil {
				t.Fatalf("Document does not parse: %v\n%s", err, b)
			}
			if !reflect.DeepEqual(again, s) {
				t.Fatalf("round trip changed the settings:\nbefore %+v\nafter  %+v", s, again)
			}
			b2, _ := json.Marshal(again.Document())
			if string(b) != string(b2) {
				t.Fatalf("Document is not stable:\n%s\n%s", b, b2)
			}
		})
	}
}

// Each case breaks one rule and must be reported under Key.
func TestValidationErrors(t *testing.T) {
	ec256 := ecKey(t, elliptic.P256())
	ec384 := ecKey(t, elliptic.P384())
	rsaPKCS1 := pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048()))
	oidcApp := func(extra map[string]any) map[string]any {
		app := map[string]any{"provider_id": "kc", "client_id": "kc", "settings": map[string]any{"server_url": "https://kc.example.com"}}
		for k, v := range extra {
			app[k] = v
		}
		return app
	}
	providers := func(p map[string]any) doc { return doc{"SOCIALACCOUNT_PROVIDERS": p} }
	codeMode := doc{"ACCOUNT_EMAIL_VERIFICATION": "mandatory", "ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true,
		"ACCOUNT_SIGNUP_FIELDS": []string{"email*", "password1*"}}
	tests := []struct {
		name   string
		doc    doc
		key    string
		reason string // substring of the reason
	}{
		// keys and types
		{"unknown key", doc{"ACCOUNT_NOPE": 1}, "ACCOUNT_NOPE", "unknown setting"},
		{"lower-case key", doc{"headless_only": true}, "headless_only", "HEADLESS_ONLY"},
		{"custom adapter", doc{"ACCOUNT_ADAPTER": "myapp.adapters.Mine"}, "ACCOUNT_ADAPTER", "not supported"},
		{"headed redirect", doc{"ACCOUNT_LOGOUT_REDIRECT_URL": "/"}, "ACCOUNT_LOGOUT_REDIRECT_URL", "not supported"},
		{"insecure bypass code", doc{"MFA_TOTP_INSECURE_BYPASS_CODE": "123456"}, "MFA_TOTP_INSECURE_BYPASS_CODE", "DEBUG"},
		{"bool as string", doc{"ACCOUNT_LOGIN_BY_CODE_ENABLED": "yes"}, "ACCOUNT_LOGIN_BY_CODE_ENABLED", "true or false"},
		{"null bool", doc{"HEADLESS_ONLY": nil}, "HEADLESS_ONLY", "not null"},
		{"int as string", doc{"ACCOUNT_LOGIN_TIMEOUT": "900"}, "ACCOUNT_LOGIN_TIMEOUT", "whole number"},
		{"fractional int", doc{"ACCOUNT_LOGIN_TIMEOUT": 900.5}, "ACCOUNT_LOGIN_TIMEOUT", "whole number"},
		{"huge int", doc{"ACCOUNT_LOGIN_TIMEOUT": 1e12}, "ACCOUNT_LOGIN_TIMEOUT", ""},
		{"zero timeout", doc{"ACCOUNT_LOGIN_TIMEOUT": 0}, "ACCOUNT_LOGIN_TIMEOUT", "at least 1"},
		{"negative lifetime", doc{"HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN": -1}, "HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN", "at least 1"},
		{"negative proxies", doc{"ALLAUTH_TRUSTED_PROXY_COUNT": -1}, "ALLAUTH_TRUSTED_PROXY_COUNT", "at least 0"},
		{"zero max attempts", doc{"ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS": 0}, "ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS", ""},
		{"zero max emails", doc{"ACCOUNT_MAX_EMAIL_ADDRESSES": 0}, "ACCOUNT_MAX_EMAIL_ADDRESSES", "null"},
		{"negative resend", doc{"ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND": -1}, "ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND", ""},
		{"resend as string", doc{"ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND": "2"}, "ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND", "count"},
		{"short totp", doc{"MFA_TOTP_DIGITS": 4}, "MFA_TOTP_DIGITS", ""},
		{"zero session age", doc{"HALLPASS_SESSION_COOKIE_AGE": 0}, "HALLPASS_SESSION_COOKIE_AGE", ""},
		{"allauth's password minimum", doc{"ACCOUNT_PASSWORD_MIN_LENGTH": 6}, "ACCOUNT_PASSWORD_MIN_LENGTH", "at least 8, not 6: Hallpass follows NIST SP 800-63B"},
		{"password minimum 7", doc{"ACCOUNT_PASSWORD_MIN_LENGTH": 7}, "ACCOUNT_PASSWORD_MIN_LENGTH", "at least 8"},
		{"password minimum 0", doc{"ACCOUNT_PASSWORD_MIN_LENGTH": 0}, "ACCOUNT_PASSWORD_MIN_LENGTH", "at least 8"},
		{"password minimum beyond the maximum", doc{"ACCOUNT_PASSWORD_MIN_LENGTH": 4097}, "ACCOUNT_PASSWORD_MIN_LENGTH", "at most 4096"},
		{"password minimum as string", doc{"ACCOUNT_PASSWORD_MIN_LENGTH": "8"}, "ACCOUNT_PASSWORD_MIN_LENGTH", "whole number"},
		{"breach check as string", doc{"HALLPASS_PASSWORD_BREACH_CHECK": "yes"}, "HALLPASS_PASSWORD_BREACH_CHECK", "true or false"},
		{"bad enum", doc{"ACCOUNT_EMAIL_VERIFICATION": "sometimes"}, "ACCOUNT_EMAIL_VERIFICATION", `"sometimes"`},
		{"bad strategy", doc{"HEADLESS_TOKEN_STRATEGY": "myapp.MyStrategy"}, "HEADLESS_TOKEN_STRATEGY", ""},
		{"bad spec template", doc{"HEADLESS_SPECIFICATION_TEMPLATE_NAME": "mine.html"}, "HEADLESS_SPECIFICATION_TEMPLATE_NAME", ""},
		{"bad enumeration", doc{"ACCOUNT_PREVENT_ENUMERATION": "yes"}, "ACCOUNT_PREVENT_ENUMERATION", ""},
		{"bad protocol", doc{"ACCOUNT_DEFAULT_HTTP_PROTOCOL": "ftp"}, "ACCOUNT_DEFAULT_HTTP_PROTOCOL", ""},
		{"custom username field", doc{"ACCOUNT_USER_MODEL_USERNAME_FIELD": "email"}, "ACCOUNT_USER_MODEL_USERNAME_FIELD", ""},
		{"bad samesite", doc{"MFA_TRUST_COOKIE_SAMESITE": "lax"}, "MFA_TRUST_COOKIE_SAMESITE", ""},
		{"bad header scheme", doc{"HEADLESS_JWT_AUTHORIZATION_HEADER_SCHEME": "Bear er"}, "HEADLESS_JWT_AUTHORIZATION_HEADER_SCHEME", ""},
		{"bad ip header", doc{"ALLAUTH_TRUSTED_CLIENT_IP_HEADER": "X Real IP"}, "ALLAUTH_TRUSTED_CLIENT_IP_HEADER", ""},
		{"bad cookie path", doc{"MFA_TRUST_COOKIE_PATH": "mfa"}, "MFA_TRUST_COOKIE_PATH", ""},
		{"bad oidc prefix", doc{"SOCIALACCOUNT_OPENID_CONNECT_URL_PREFIX": "/oidc/"}, "SOCIALACCOUNT_OPENID_CONNECT_URL_PREFIX", ""},
		{"code format key", doc{"ALLAUTH_USER_CODE_FORMAT": map[string]any{"allowed_chars": "ABC"}}, "ALLAUTH_USER_CODE_FORMAT", "allowed_chars"},
		{"code format length", doc{"ACCOUNT_LOGIN_BY_CODE_FORMAT": map[string]any{"length": 0}}, "ACCOUNT_LOGIN_BY_CODE_FORMAT", "length"},
		{"code required method", doc{"ACCOUNT_LOGIN_BY_CODE_REQUIRED": []string{"passkey"}}, "ACCOUNT_LOGIN_BY_CODE_REQUIRED", "passkey"},
		{"code required string", doc{"ACCOUNT_LOGIN_BY_CODE_REQUIRED": "password"}, "ACCOUNT_LOGIN_BY_CODE_REQUIRED", ""},
		{"unknown app", doc{"HALLPASS_APPS": []string{"idp"}}, "HALLPASS_APPS", `"idp"`},

		// login methods and signup fields
		{"unknown login method", doc{"ACCOUNT_LOGIN_METHODS": []string{"email", "sms"}}, "ACCOUNT_LOGIN_METHODS", `"sms"`},
		{"duplicate login method", doc{"ACCOUNT_LOGIN_METHODS": []string{"email", "email"}}, "ACCOUNT_LOGIN_METHODS", "twice"},
		{"no login method", doc{"ACCOUNT_LOGIN_METHODS": []string{}}, "ACCOUNT_LOGIN_METHODS", "at least one"},
		{"password field", doc{"ACCOUNT_SIGNUP_FIELDS": []string{"username*", "password*"}}, "ACCOUNT_SIGNUP_FIELDS", `"password1*"`},
		{"unknown signup field", doc{"ACCOUNT_SIGNUP_FIELDS": []string{"username*", "nickname", "password1*"}}, "ACCOUNT_SIGNUP_FIELDS", "nickname"},
		{"duplicate signup field", doc{"ACCOUNT_SIGNUP_FIELDS": []string{"username*", "username", "password1*"}}, "ACCOUNT_SIGNUP_FIELDS", "twice"},
		{"password2 alone", doc{"ACCOUNT_SIGNUP_FIELDS": []string{"username*", "password2*"}}, "ACCOUNT_SIGNUP_FIELDS", "password1"},
		{"legacy auth method value", doc{"ACCOUNT_AUTHENTICATION_METHOD": "phone"}, "ACCOUNT_AUTHENTICATION_METHOD", ""},
		{"honeypot is a real field", doc{"ACCOUNT_SIGNUP_FORM_HONEYPOT_FIELD": "email"}, "ACCOUNT_SIGNUP_FORM_HONEYPOT_FIELD", ""},

		// frontend URLs
		{"unknown frontend url", doc{"HEADLESS_FRONTEND_URLS": map[string]string{"account_login": "/login"}}, "HEADLESS_FRONTEND_URLS", "account_login"},
		{"missing key placeholder", doc{"HEADLESS_FRONTEND_URLS": map[string]string{"account_confirm_email": "https://app.example.com/verify"}}, "HEADLESS_FRONTEND_URLS", "{key}"},
		{"reset without key", doc{"HEADLESS_FRONTEND_URLS": map[string]string{"account_reset_password_from_key": "/reset/"}}, "HEADLESS_FRONTEND_URLS", "{key}"},
		{"unknown placeholder", doc{"HEADLESS_FRONTEND_URLS": map[string]string{"account_confirm_email": "/verify/{uid}/{key}"}}, "HEADLESS_FRONTEND_URLS", "{uid}"},
		{"key where none is passed", doc{"HEADLESS_FRONTEND_URLS": map[string]string{"account_signup": "/signup/{key}"}}, "HEADLESS_FRONTEND_URLS", "{key}"},
		{"relative without slash", doc{"HEADLESS_FRONTEND_URLS": map[string]string{"account_signup": "signup"}}, "HEADLESS_FRONTEND_URLS", "absolute"},
		{"scheme-relative", doc{"HEADLESS_FRONTEND_URLS": map[string]string{"account_signup": "//evil.example/signup"}}, "HEADLESS_FRONTEND_URLS", "absolute"},
		{"not http", doc{"HEADLESS_FRONTEND_URLS": map[string]string{"account_signup": "javascript:alert(1)"}}, "HEADLESS_FRONTEND_URLS", "absolute"},
		{"empty url", doc{"HEADLESS_FRONTEND_URLS": map[string]string{"account_signup": ""}}, "HEADLESS_FRONTEND_URLS", "empty"},
		{"url with space", doc{"HEADLESS_FRONTEND_URLS": map[string]string{"account_signup": "https://app.example.com/sign up"}}, "HEADLESS_FRONTEND_URLS", "spaces"},
		{"url not a string", doc{"HEADLESS_FRONTEND_URLS": map[string]any{"account_signup": 1}}, "HEADLESS_FRONTEND_URLS", ""},
		{"headless only without urls", doc{"HEADLESS_ONLY": true}, "HEADLESS_FRONTEND_URLS", "account_confirm_email"},
		{"headless only with providers", with(reactSPADoc(), doc{
			"HEADLESS_FRONTEND_URLS":                 map[string]string{"account_reset_password": "/r", "account_signup": "/s"},
			"ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED": true,
			"SOCIALACCOUNT_PROVIDERS":                map[string]any{"github": map[string]any{"APP": map[string]any{"client_id": "x"}}}}),
			"HEADLESS_FRONTEND_URLS", "socialaccount_login_error"},

		// clients
		{"no clients", doc{"HEADLESS_CLIENTS": []string{}}, "HEADLESS_CLIENTS", "at least one"},
		{"unknown client", doc{"HEADLESS_CLIENTS": []string{"browser", "mobile"}}, "HEADLESS_CLIENTS", "mobile"},
		{"duplicate client", doc{"HEADLESS_CLIENTS": []string{"app", "app"}}, "HEADLESS_CLIENTS", "twice"},

		// JWT
		{"unknown algorithm", doc{"HEADLESS_JWT_ALGORITHM": "PS256"}, "HEADLESS_JWT_ALGORITHM", "PS256"},
		{"none algorithm", doc{"HEADLESS_JWT_ALGORITHM": "none"}, "HEADLESS_JWT_ALGORITHM", ""},
		{"rs256 not pem", doc{"HEADLESS_JWT_PRIVATE_KEY": "not a key"}, "HEADLESS_JWT_PRIVATE_KEY", "PEM"},
		{"rs256 short key", doc{"HEADLESS_JWT_PRIVATE_KEY": pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa1024()))}, "HEADLESS_JWT_PRIVATE_KEY", "1024-bit"},
		{"rs256 ec key", doc{"HEADLESS_JWT_PRIVATE_KEY": sec1PEM(t, ec256)}, "HEADLESS_JWT_PRIVATE_KEY", "RSA"},
		{"rs256 public key", doc{"HEADLESS_JWT_PRIVATE_KEY": pemBlock("PUBLIC KEY", mustPKIX(t, &rsa2048().PublicKey))}, "HEADLESS_JWT_PRIVATE_KEY", "public key"},
		{"rs256 encrypted", doc{"HEADLESS_JWT_PRIVATE_KEY": pemBlock("ENCRYPTED PRIVATE KEY", []byte("opaque"))}, "HEADLESS_JWT_PRIVATE_KEY", "encrypted"},
		{"rs256 legacy encrypted", doc{"HEADLESS_JWT_PRIVATE_KEY": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
			Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00000000000000000000000000000000"}, Bytes: []byte("opaque")}))},
			"HEADLESS_JWT_PRIVATE_KEY", "encrypted"},
		{"rs256 two blocks", doc{"HEADLESS_JWT_PRIVATE_KEY": rsaPKCS1 + rsaPKCS1}, "HEADLESS_JWT_PRIVATE_KEY", "exactly one"},
		{"rs256 corrupt", doc{"HEADLESS_JWT_PRIVATE_KEY": pemBlock("PRIVATE KEY", []byte("garbage"))}, "HEADLESS_JWT_PRIVATE_KEY", "not a valid"},
		{"es256 rsa key", doc{"HEADLESS_JWT_ALGORITHM": "ES256", "HEADLESS_JWT_PRIVATE_KEY": rsaPKCS1}, "HEADLESS_JWT_PRIVATE_KEY", "P-256"},
		{"es256 p-384", doc{"HEADLESS_JWT_ALGORITHM": "ES256", "HEADLESS_JWT_PRIVATE_KEY": pkcs8PEM(t, ec384)}, "HEADLESS_JWT_PRIVATE_KEY", "P-384"},
		{"eddsa ec key", doc{"HEADLESS_JWT_ALGORITHM": "EdDSA", "HEADLESS_JWT_PRIVATE_KEY": pkcs8PEM(t, ec256)}, "HEADLESS_JWT_PRIVATE_KEY", "Ed25519"},
		{"hs256 pem", doc{"HEADLESS_JWT_ALGORITHM": "HS256", "HEADLESS_JWT_PRIVATE_KEY": rsaPKCS1}, "HEADLESS_JWT_PRIVATE_KEY", "shared secret"},
		{"hs256 short", doc{"HEADLESS_JWT_ALGORITHM": "HS256", "HEADLESS_JWT_PRIVATE_KEY": "your-secret-key-here"}, "HEADLESS_JWT_PRIVATE_KEY", "32 bytes"},
		{"hs512 short", doc{"HEADLESS_JWT_ALGORITHM": "HS512", "HEADLESS_JWT_PRIVATE_KEY": strings.Repeat("k", 32)}, "HEADLESS_JWT_PRIVATE_KEY", "64 bytes"},
		{"key not a string", doc{"HEADLESS_JWT_PRIVATE_KEY": 42}, "HEADLESS_JWT_PRIVATE_KEY", "string"},

		// rate limits
		{"malformed rate", doc{"ACCOUNT_RATE_LIMITS": map[string]any{"login": "ten per minute"}}, "ACCOUNT_RATE_LIMITS", "login"},
		{"bad period", doc{"ACCOUNT_RATE_LIMITS": map[string]any{"login": "10/w/ip"}}, "ACCOUNT_RATE_LIMITS", "period"},
		{"unknown action", doc{"ACCOUNT_RATE_LIMITS": map[string]any{"logn": "10/m/ip"}}, "ACCOUNT_RATE_LIMITS", "logn"},
		{"per key without key", doc{"ACCOUNT_RATE_LIMITS": map[string]any{"signup": "1/m/key"}}, "ACCOUNT_RATE_LIMITS", "signup"},
		{"rate true", doc{"ACCOUNT_RATE_LIMITS": map[string]any{"login": true}}, "ACCOUNT_RATE_LIMITS", "login"},
		{"rate number", doc{"ACCOUNT_RATE_LIMITS": map[string]any{"login": 10}}, "ACCOUNT_RATE_LIMITS", "login"},
		{"rate limits true", doc{"ACCOUNT_RATE_LIMITS": true}, "ACCOUNT_RATE_LIMITS", ""},

		// MFA
		{"unknown mfa type", doc{"MFA_SUPPORTED_TYPES": []string{"totp", "sms"}}, "MFA_SUPPORTED_TYPES", "sms"},
		{"passkey login without webauthn", doc{"MFA_PASSKEY_LOGIN_ENABLED": true}, "MFA_PASSKEY_LOGIN_ENABLED", "webauthn"},
		{"passkey signup without webauthn", with(codeMode, doc{"MFA_PASSKEY_SIGNUP_ENABLED": true}), "MFA_PASSKEY_SIGNUP_ENABLED", "webauthn"},
		{"passkey signup with link verification", doc{"MFA_PASSKEY_SIGNUP_ENABLED": true, "MFA_SUPPORTED_TYPES": []string{"webauthn"},
			"ACCOUNT_EMAIL_VERIFICATION": "mandatory", "ACCOUNT_SIGNUP_FIELDS": []string{"email*", "password1"}},
			"MFA_PASSKEY_SIGNUP_ENABLED", "BY_CODE"},
		{"samesite none insecure", doc{"MFA_TRUST_COOKIE_SAMESITE": "None"}, "MFA_TRUST_COOKIE_SAMESITE", "SECURE"},

		// allauth's system checks
		{"code verification needs mandatory", doc{"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true}, "ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED", "mandatory"},
		{"mandatory needs email*", doc{"ACCOUNT_EMAIL_VERIFICATION": "mandatory"}, "ACCOUNT_EMAIL_VERIFICATION", "email*"},
		{"email login needs unique email", doc{"ACCOUNT_LOGIN_METHODS": []string{"email"}, "ACCOUNT_UNIQUE_EMAIL": false}, "ACCOUNT_UNIQUE_EMAIL", ""},
		{"no username field", doc{"ACCOUNT_USER_MODEL_USERNAME_FIELD": nil, "ACCOUNT_LOGIN_METHODS": []string{"email"}}, "ACCOUNT_SIGNUP_FIELDS", "username"},
		{"no username field, username login", doc{"ACCOUNT_USER_MODEL_USERNAME_FIELD": nil, "ACCOUNT_SIGNUP_FIELDS": []string{"email*", "password1*"}}, "ACCOUNT_LOGIN_METHODS", "username"},
		{"change email with max 3", doc{"ACCOUNT_CHANGE_EMAIL": true, "ACCOUNT_MAX_EMAIL_ADDRESSES": 3}, "ACCOUNT_MAX_EMAIL_ADDRESSES", "CHANGE_EMAIL"},
		{"code trust without mfa", doc{"ACCOUNT_LOGIN_BY_CODE_TRUST_ENABLED": true, "HALLPASS_APPS": []string{"socialaccount"}}, "ACCOUNT_LOGIN_BY_CODE_TRUST_ENABLED", "mfa"},
		{"social only with mfa", doc{"SOCIALACCOUNT_ONLY": true, "ACCOUNT_EMAIL_VERIFICATION": "none"}, "HALLPASS_APPS", "mfa"},
		{"social only without socialaccount", doc{"SOCIALACCOUNT_ONLY": true, "ACCOUNT_EMAIL_VERIFICATION": "none", "HALLPASS_APPS": []string{}}, "SOCIALACCOUNT_ONLY", "socialaccount"},
		{"social only with verification", doc{"SOCIALACCOUNT_ONLY": true, "HALLPASS_APPS": []string{"socialaccount"}}, "ACCOUNT_EMAIL_VERIFICATION", "none"},
		{"social only with code login", doc{"SOCIALACCOUNT_ONLY": true, "ACCOUNT_EMAIL_VERIFICATION": "none", "HALLPASS_APPS": []string{"socialaccount"},
			"ACCOUNT_LOGIN_BY_CODE_ENABLED": true}, "ACCOUNT_LOGIN_BY_CODE_ENABLED", "SOCIALACCOUNT_ONLY"},
		{"social only, social verification", doc{"SOCIALACCOUNT_ONLY": true, "ACCOUNT_EMAIL_VERIFICATION": "none", "HALLPASS_APPS": []string{"socialaccount"},
			"SOCIALACCOUNT_EMAIL_VERIFICATION": nil}, "SOCIALACCOUNT_EMAIL_VERIFICATION", "none"},

		// origins, WebAuthn, mail
		{"origin with path", doc{"HALLPASS_CORS_ALLOWED_ORIGINS": []string{"https://app.example.com/"}}, "HALLPASS_CORS_ALLOWED_ORIGINS", "path"},
		{"origin wildcard", doc{"HALLPASS_CORS_ALLOWED_ORIGINS": []string{"https://*.example.com"}}, "HALLPASS_CORS_ALLOWED_ORIGINS", "host"},
		{"origin scheme", doc{"HALLPASS_CORS_ALLOWED_ORIGINS": []string{"app.example.com"}}, "HALLPASS_CORS_ALLOWED_ORIGINS", "scheme"},
		{"origin duplicate", doc{"HALLPASS_CORS_ALLOWED_ORIGINS": []string{"https://a.example", "https://A.example:443"}}, "HALLPASS_CORS_ALLOWED_ORIGINS", "twice"},
		{"origin port", doc{"HALLPASS_WEBAUTHN_ORIGINS": []string{"https://a.example:99999"}}, "HALLPASS_WEBAUTHN_ORIGINS", "port"},
		{"rp id with scheme", doc{"HALLPASS_WEBAUTHN_RP_ID": "https://example.com"}, "HALLPASS_WEBAUTHN_RP_ID", "bare domain"},
		{"rp id ip", doc{"HALLPASS_WEBAUTHN_RP_ID": "10.0.0.1"}, "HALLPASS_WEBAUTHN_RP_ID", ""},
		{"webauthn origin off rp", doc{"HALLPASS_WEBAUTHN_RP_ID": "example.com", "HALLPASS_WEBAUTHN_ORIGINS": []string{"https://example.org"}}, "HALLPASS_WEBAUTHN_ORIGINS", "subdomain"},
		{"webauthn suffix is not a subdomain", doc{"HALLPASS_WEBAUTHN_RP_ID": "example.com", "HALLPASS_WEBAUTHN_ORIGINS": []string{"https://badexample.com"}}, "HALLPASS_WEBAUTHN_ORIGINS", "subdomain"},
		{"webauthn http origin", doc{"HALLPASS_WEBAUTHN_ORIGINS": []string{"http://app.example.com"}}, "HALLPASS_WEBAUTHN_ORIGINS", "https"},
		{"email from", doc{"HALLPASS_EMAIL_FROM": "not an address"}, "HALLPASS_EMAIL_FROM", ""},
		{"email from header injection", doc{"HALLPASS_EMAIL_FROM": "a@example.com\r\nBcc: x@example.com"}, "HALLPASS_EMAIL_FROM", "single line"},

		// providers
		{"empty client id", providers(map[string]any{"google": map[string]any{"APP": map[string]any{"client_id": " ", "secret": "s"}}}), "SOCIALACCOUNT_PROVIDERS", "google.APP.client_id"},
		{"missing client id", providers(map[string]any{"github": map[string]any{"APPS": []any{map[string]any{"secret": "s"}}}}), "SOCIALACCOUNT_PROVIDERS", "github.APPS[0].client_id"},
		{"oidc without server_url", providers(map[string]any{"openid_connect": map[string]any{"APPS": []any{oidcApp(map[string]any{"settings": map[string]any{}})}}}),
			"SOCIALACCOUNT_PROVIDERS", "server_url"},
		{"oidc server_url not a string", providers(map[string]any{"openid_connect": map[string]any{"APPS": []any{oidcApp(map[string]any{"settings": map[string]any{"server_url": 1}})}}}),
			"SOCIALACCOUNT_PROVIDERS", "must be a string"},
		{"oidc http server_url", providers(map[string]any{"openid_connect": map[string]any{"APPS": []any{oidcApp(map[string]any{"settings": map[string]any{"server_url": "http://kc.example.com"}})}}}),
			"SOCIALACCOUNT_PROVIDERS", "https"},
		{"oidc without provider_id", providers(map[string]any{"openid_connect": map[string]any{"APPS": []any{oidcApp(map[string]any{"provider_id": ""})}}}),
			"SOCIALACCOUNT_PROVIDERS", "provider_id"},
		{"duplicate provider_id", providers(map[string]any{
			"openid_connect": map[string]any{"APPS": []any{oidcApp(nil), oidcApp(map[string]any{"client_id": "other"})}}}),
			"SOCIALACCOUNT_PROVIDERS", "already used"},
		{"provider_id shared across providers", providers(map[string]any{
			"openid_connect": map[string]any{"APPS": []any{oidcApp(nil)}},
			"google":         map[string]any{"APPS": []any{map[string]any{"client_id": "org", "provider_id": "kc"}}}}),
			"SOCIALACCOUNT_PROVIDERS", "already used"},
		{"provider_id is a provider", providers(map[string]any{
			"openid_connect": map[string]any{"APPS": []any{oidcApp(map[string]any{"provider_id": "google"})}},
			"google":         map[string]any{"APP": map[string]any{"client_id": "g"}}}),
			"SOCIALACCOUNT_PROVIDERS", "configured provider"},
		{"bad provider_id", providers(map[string]any{"openid_connect": map[string]any{"APPS": []any{oidcApp(map[string]any{"provider_id": "a/b"})}}}),
			"SOCIALACCOUNT_PROVIDERS", "provider_id"},
		{"APP and APPS", providers(map[string]any{"google": map[string]any{"APP": map[string]any{"client_id": "a"}, "APPS": []any{}}}), "SOCIALACCOUNT_PROVIDERS", "not both"},
		{"legacy SERVERS", providers(map[string]any{"openid_connect": map[string]any{"SERVERS": []any{}}}), "SOCIALACCOUNT_PROVIDERS", "SERVERS"},
		{"unknown app field", providers(map[string]any{"google": map[string]any{"APP": map[string]any{"client_id": "a", "clientsecret": "s"}}}), "SOCIALACCOUNT_PROVIDERS", "clientsecret"},
		{"bad provider key", providers(map[string]any{"Google": map[string]any{}}), "SOCIALACCOUNT_PROVIDERS", "Google"},
		{"lower-case provider-level key", providers(map[string]any{"google": map[string]any{"scope": []string{"email"}}}), "SOCIALACCOUNT_PROVIDERS", "SCOPE"},
		{"scope not a list", providers(map[string]any{"google": map[string]any{"SCOPE": "email"}}), "SOCIALACCOUNT_PROVIDERS", "SCOPE"},
		{"provider not an object", providers(map[string]any{"google": []any{}}), "SOCIALACCOUNT_PROVIDERS", "google"},
		{"apps not a list", providers(map[string]any{"google": map[string]any{"APPS": map[string]any{}}}), "SOCIALACCOUNT_PROVIDERS", "APPS"},

		// legacy keys contradicting their replacements
		{"auth method vs login methods", doc{"ACCOUNT_AUTHENTICATION_METHOD": "email", "ACCOUNT_LOGIN_METHODS": []string{"username"}}, "ACCOUNT_AUTHENTICATION_METHOD", "ACCOUNT_LOGIN_METHODS"},
		{"email required vs fields", doc{"ACCOUNT_EMAIL_REQUIRED": true, "ACCOUNT_SIGNUP_FIELDS": []string{"email", "username*", "password1*"}}, "ACCOUNT_EMAIL_REQUIRED", `"email*"`},
		{"username required vs fields", doc{"ACCOUNT_USERNAME_REQUIRED": false, "ACCOUNT_SIGNUP_FIELDS": []string{"email", "username*", "password1*"}}, "ACCOUNT_USERNAME_REQUIRED", `"username*"`},
		{"password twice vs fields", doc{"ACCOUNT_SIGNUP_PASSWORD_ENTER_TWICE": true, "ACCOUNT_SIGNUP_FIELDS": []string{"username*", "password1*"}}, "ACCOUNT_SIGNUP_PASSWORD_ENTER_TWICE", "password2"},
		{"password legacy vs legacy", doc{"ACCOUNT_SIGNUP_PASSWORD_ENTER_TWICE": true, "ACCOUNT_SIGNUP_PASSWORD_VERIFICATION": false}, "ACCOUNT_SIGNUP_PASSWORD_VERIFICATION", ""},
		{"login attempts vs rate limits", doc{"ACCOUNT_LOGIN_ATTEMPTS_LIMIT": 3, "ACCOUNT_RATE_LIMITS": map[string]any{"login_failed": "10/m/ip,5/300s/key"}}, "ACCOUNT_LOGIN_ATTEMPTS_LIMIT", "login_failed"},
		{"login attempts vs no rate limits", doc{"ACCOUNT_LOGIN_ATTEMPTS_TIMEOUT": 60, "ACCOUNT_RATE_LIMITS": false}, "ACCOUNT_LOGIN_ATTEMPTS_TIMEOUT", ""},
		{"cooldown vs rate limits", doc{"ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN": 60, "ACCOUNT_RATE_LIMITS": map[string]any{"confirm_email": "1/3m/key"}}, "ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN", "confirm_email"},
		{"confirmation days", doc{"EMAIL_CONFIRMATION_DAYS": 7, "ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS": 3}, "EMAIL_CONFIRMATION_DAYS", ""},
		{"session cookie age", doc{"ACCOUNT_SESSION_COOKIE_AGE": 60, "HALLPASS_SESSION_COOKIE_AGE": 120}, "ACCOUNT_SESSION_COOKIE_AGE", ""},
		{"reset format names", doc{"ACCOUNT_PASSWORD_RESET_BY_CODE_FORMAT": map[string]any{"numeric": true},
			"ACCOUNT_PASSWORD_RESET_BY_CODE_CODE_FORMAT": map[string]any{}}, "ACCOUNT_PASSWORD_RESET_BY_CODE_FORMAT", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tenants.ParseSettings(tt.doc.json(t))
			if err == nil {
				t.Fatalf("accepted: %+v", s)
			}
			if s != nil {
				t.Error("settings returned along with an error")
			}
			for _, e := range settingsErrors(t, err) {
				if e.Key == tt.key && strings.Contains(e.Reason, tt.reason) {
					return
				}
			}
			t.Fatalf("no error for %s containing %q in: %v", tt.key, tt.reason, err)
		})
	}
}

func mustPKIX(t *testing.T, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestValidJWTKeys(t *testing.T) {
	cases := map[string]doc{
		"RS256 PKCS#8": {"HEADLESS_JWT_PRIVATE_KEY": pkcs8PEM(t, rsa2048())},
		"RS512 PKCS#1": {"HEADLESS_JWT_ALGORITHM": "RS512", "HEADLESS_JWT_PRIVATE_KEY": pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsa2048()))},
		"ES256 SEC1":   {"HEADLESS_JWT_ALGORITHM": "ES256", "HEADLESS_JWT_PRIVATE_KEY": sec1PEM(t, ecKey(t, elliptic.P256()))},
		"ES256 PKCS#8": {"HEADLESS_JWT_ALGORITHM": "ES256", "HEADLESS_JWT_PRIVATE_KEY": pkcs8PEM(t, ecKey(t, elliptic.P256()))},
		"EdDSA":        {"HEADLESS_JWT_ALGORITHM": "EdDSA", "HEADLESS_JWT_PRIVATE_KEY": pkcs8PEM(t, edKey(t))},
		"HS256":        {"HEADLESS_JWT_ALGORITHM": "HS256", "HEADLESS_JWT_PRIVATE_KEY": strings.Repeat("s", 32)},
		"HS384":        {"HEADLESS_JWT_ALGORITHM": "HS384", "HEADLESS_JWT_PRIVATE_KEY": strings.Repeat("s", 48)},
		"empty for RS": {"HEADLESS_JWT_ALGORITHM": "RS384", "HEADLESS_JWT_PRIVATE_KEY": ""},
		"empty for HS": {"HEADLESS_JWT_ALGORITHM": "HS256"},
		"indented PEM": {"HEADLESS_JWT_PRIVATE_KEY": "\n  " + pkcs8PEM(t, rsa2048()) + "\n"},
	}
	for name, d := range cases {
		t.Run(name, func(t *testing.T) { mustParse(t, d) })
	}
}

func TestStructuralErrors(t *testing.T) {
	for _, raw := range []string{
		``,
		`   `,
		`null`,
		`[]`,
		`"settings"`,
		`42`,
		`{`,
		`{"HEADLESS_ONLY": true,}`,
		`{"HEADLESS_ONLY": true} {"HEADLESS_ONLY": false}`,
		`{"HEADLESS_ONLY": true} x`,
		`{"HEADLESS_ONLY": true, "HEADLESS_ONLY": false}`,
		`{"HEADLESS_FRONTEND_URLS": {"account_signup": "/a", "account_signup": "/b"}}`,
		`{"SOCIALACCOUNT_PROVIDERS": {"google": {"APPS": [{"client_id": "a", "client_id": "b"}]}}}`,
		`{"X": ` + strings.Repeat("[", 100) + strings.Repeat("]", 100) + `}`,
	} {
		t.Run(raw, func(t *testing.T) {
			_, err := tenants.ParseSettings([]byte(raw))
			if err == nil {
				t.Fatal("accepted")
			}
			var one *tenants.SettingsError
			if !errors.As(err, &one) || one.Key != "" {
				t.Fatalf("want one SettingsError with Key \"\", got %#v", err)
			}
		})
	}
	_, err := tenants.ParseSettings([]byte(`{"A": 1, "A": 2}`))
	if err == nil || !strings.Contains(err.Error(), `duplicate key "A"`) {
		t.Fatalf("duplicate not named: %v", err)
	}
}

func TestAllErrorsReported(t *testing.T) {
	_, err := tenants.ParseSettings([]byte(`{
		"MFA_SUPPORTED_TYPES": ["sms"],
		"ACCOUNT_NOPE": 1,
		"HEADLESS_CLIENTS": [],
		"ACCOUNT_RATE_LIMITS": {"login": "x", "signup": "y"},
		"ACCOUNT_LOGIN_TIMEOUT": 0
	}`))
	var many tenants.SettingsErrors
	if !errors.As(err, &many) {
		t.Fatalf("want SettingsErrors, got %T %v", err, err)
	}
	var keys []string
	for _, e := range many {
		keys = append(keys, e.Key)
	}
	want := []string{"ACCOUNT_LOGIN_TIMEOUT", "ACCOUNT_NOPE", "ACCOUNT_RATE_LIMITS", "ACCOUNT_RATE_LIMITS", "HEADLESS_CLIENTS", "MFA_SUPPORTED_TYPES"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys = %v, want %v (sorted, one per problem)", keys, want)
	}
	parts := strings.Split(err.Error(), "; ")
	if len(parts) != len(want) || !strings.HasPrefix(parts[0], "ACCOUNT_LOGIN_TIMEOUT: ") {
		t.Fatalf("Error() = %q", err)
	}
	var one *tenants.SettingsError
	if !errors.As(err, &one) || one.Key != "ACCOUNT_LOGIN_TIMEOUT" {
		t.Fatalf("errors.As through SettingsErrors: %v", one)
	}

	// A single problem comes back as a plain *SettingsError.
	_, err = tenants.ParseSettings([]byte(`{"HEADLESS_ONLY": 1}`))
	if e, ok := err.(*tenants.SettingsError); !ok || e.Key != "HEADLESS_ONLY" || e.Error() != "HEADLESS_ONLY: "+e.Reason {
		t.Fatalf("single error = %#v", err)
	}

	// One bad value does not cascade into errors about the settings it feeds.
	_, err = tenants.ParseSettings([]byte(`{"ACCOUNT_SIGNUP_FIELDS": ["email*", "bogus"], "ACCOUNT_EMAIL_VERIFICATION": "mandatory"}`))
	if errs := settingsErrors(t, err); len(errs) != 1 || errs[0].Key != "ACCOUNT_SIGNUP_FIELDS" {
		t.Fatalf("cascade: %v", err)
	}
}

func TestSecretsNotEchoed(t *testing.T) {
	const marker = "S3CRET-MARKER-7f9a"
	longSecret := marker + strings.Repeat("x", 10)
	pemWithMarker := "-----BEGIN PRIVATE KEY-----\n" + marker + "\n-----END PRIVATE KEY-----\n"
	cases := map[string]string{
		"hs short":        `{"HEADLESS_JWT_ALGORITHM": "HS256", "HEADLESS_JWT_PRIVATE_KEY": "` + marker + `"}`,
		"rs not pem":      `{"HEADLESS_JWT_PRIVATE_KEY": "` + longSecret + `"}`,
		"rs bad pem":      mustJSONDoc(t, doc{"HEADLESS_JWT_PRIVATE_KEY": pemWithMarker}),
		"rs pem and junk": mustJSONDoc(t, doc{"HEADLESS_JWT_PRIVATE_KEY": pkcs8PEM(t, rsa2048()) + marker}),
		"hs pem":          mustJSONDoc(t, doc{"HEADLESS_JWT_ALGORITHM": "HS256", "HEADLESS_JWT_PRIVATE_KEY": pemWithMarker}),
		"app secret": mustJSONDoc(t, doc{"SOCIALACCOUNT_PROVIDERS": map[string]any{"google": map[string]any{
			"APP": map[string]any{"client_id": "", "secret": marker, "settings": map[string]any{"certificate_key": marker}, "certificate_key": marker}}}}),
		"oidc app secret": mustJSONDoc(t, doc{"SOCIALACCOUNT_PROVIDERS": map[string]any{"openid_connect": map[string]any{
			"APPS": []any{map[string]any{"client_id": "c", "secret": marker, "settings": map[string]any{"private_key": marker}}}}}}),
		"syntax error in secret": `{"HEADLESS_JWT_PRIVATE_KEY": "` + marker + `\q"}`,
		"unterminated secret":    `{"HEADLESS_JWT_PRIVATE_KEY": "` + marker,
		"duplicate secret":       `{"HEADLESS_JWT_PRIVATE_KEY": "` + marker + `", "HEADLESS_JWT_PRIVATE_KEY": "` + marker + `"}`,
		"garbage after secret":   `{"HEADLESS_JWT_PRIVATE_KEY": "a"} ` + marker,
	}
	for name, raw := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := tenants.ParseSettings([]byte(raw))
			if err == nil {
				t.Fatal("accepted")
			}
			if strings.Contains(err.Error(), marker) || strings.Contains(err.Error(), "S3CRET") {
				t.Fatalf("error echoes the secret: %v", err)
			}
		})
	}
}

func mustJSONDoc(t *testing.T, d doc) string { return string(d.json(t)) }
