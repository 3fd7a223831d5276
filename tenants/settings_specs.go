package tenants

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/hallpass/hallpass/internal/ratelimit"
)

// settingSpec is one accepted key: how to apply an explicit value, how its
// default arises, and how it appears in Document.
type settingSpec struct {
	key string
	// dflt is allauth's default as a JSON literal, decoded like a customer's
	// value; "" when derive computes the default (or, for legacy keys, when
	// absence simply means "not given").
	dflt string
	// decode applies a present value to p.s (or p.legacy), changing nothing
	// when it returns an error.
	decode func(p *parser, v any) error
	// derive computes the default from settings decoded earlier in the table.
	derive func(p *parser)
	// encode renders the effective value; nil marks a legacy key, which
	// Document leaves out.
	encode func(s *Settings) any
}

// Choices of enumerated settings.
var (
	allApps           = []string{AppSocialAccount, AppMFA, AppUserSessions}
	allClients        = []string{"browser", "app"}
	allLoginMethods   = []string{"email", "username", "phone"}
	allSignupFields   = []string{"email", "email2", "username", "phone", "password1", "password2"}
	allMFATypes       = []string{"recovery_codes", "totp", "webauthn"}
	allCodeAfter      = []string{"mfa", "password", "socialaccount"}
	allJWTAlgorithms  = []string{"RS256", "RS384", "RS512", "HS256", "HS384", "HS512", "ES256", "EdDSA"}
	allSpecTemplates  = []string{"headless/spec/redoc_cdn.html", "headless/spec/swagger_cdn.html"}
	allVerifications  = []string{EmailVerificationNone, EmailVerificationOptional, EmailVerificationMandatory}
	allSameSite       = []string{"Lax", "Strict", "None"}
	legacyAuthMethods = []string{"username", "email", "username_email"}
)

// allauth's class paths of its two token strategies.
const (
	sessionStrategyPath = "allauth.headless.tokens.strategies.sessions.SessionTokenStrategy"
	jwtStrategyPath     = "allauth.headless.tokens.strategies.jwt.JWTTokenStrategy"
)

// settingSpecs lists every accepted key. Order matters: a derived default
// or a decode that depends on another setting comes after it, and legacy
// keys come before the settings they feed.
var settingSpecs = []settingSpec{
	// HALLPASS_* extensions.
	{
		key:  "HALLPASS_APPS",
		dflt: `["socialaccount", "mfa", "usersessions"]`,
		decode: func(p *parser, v any) error {
			apps, err := asStringSet(v, allApps...)
			if err == nil {
				p.s.Apps = apps
			}
			return err
		},
		encode: func(s *Settings) any { return cloneStrings(s.Apps) },
	},
	boolSetting("HALLPASS_SIGNUP_OPEN", "true", func(s *Settings) *bool { return &s.SignupOpen }),
	originsSetting("HALLPASS_CORS_ALLOWED_ORIGINS", func(s *Settings) *[]string { return &s.CORSAllowedOrigins }),
	stringSetting("HALLPASS_JWT_AUDIENCE", `""`, func(s *Settings) *string { return &s.JWTAudience }, checkPrintable),
	stringSetting("HALLPASS_WEBAUTHN_RP_ID", `""`, func(s *Settings) *string { return &s.WebAuthnRPID }, normalizeRPID),
	originsSetting("HALLPASS_WEBAUTHN_ORIGINS", func(s *Settings) *[]string { return &s.WebAuthnOrigins }),
	stringSetting("HALLPASS_EMAIL_FROM", `""`, func(s *Settings) *string { return &s.EmailFrom }, checkEmailFrom),
	boolSetting("HALLPASS_PASSWORD_BREACH_CHECK", "false", func(s *Settings) *bool { return &s.PasswordBreachCheck }),
	legacyIntSetting("ACCOUNT_SESSION_COOKIE_AGE", 1),
	{
		key: "HALLPASS_SESSION_COOKIE_AGE",
		decode: func(p *parser, v any) error {
			n, err := asMinInt(v, 1)
			if err == nil {
				n, err = p.bounded("HALLPASS_SESSION_COOKIE_AGE", n)
			}
			if err == nil {
				p.s.SessionCookieAge = n
			}
			return err
		},
		derive: func(p *parser) {
			// Django's SESSION_COOKIE_AGE, two weeks, unless allauth's
			// deprecated per-app copy of it was given.
			p.s.SessionCookieAge = 1209600
			if n, ok := p.legacy["ACCOUNT_SESSION_COOKIE_AGE"].(int); ok {
				p.s.SessionCookieAge = n
			}
		},
		encode: func(s *Settings) any { return s.SessionCookieAge },
	},

	// Global (allauth/app_settings.py).
	boolSetting("SOCIALACCOUNT_ONLY", "false", func(s *Settings) *bool { return &s.SocialAccountOnly }),
	boolSetting("HEADLESS_ONLY", "false", func(s *Settings) *bool { return &s.HeadlessOnly }),
	intSetting("ALLAUTH_TRUSTED_PROXY_COUNT", "0", 0, func(s *Settings) *int { return &s.TrustedProxyCount }),
	nullableStringSetting("ALLAUTH_TRUSTED_CLIENT_IP_HEADER", func(s *Settings) *string { return &s.TrustedClientIPHeader }, checkHeaderName),
	{
		key:  "ALLAUTH_USER_CODE_FORMAT",
		dflt: `{}`,
		decode: func(p *parser, v any) error {
			f, err := decodeCodeFormat(v)
			if err == nil {
				p.s.UserCodeFormat = f
			}
			return err
		},
		encode: func(s *Settings) any { return encodeCodeFormat(s.UserCodeFormat) },
	},

	// HEADLESS_* (allauth/headless/app_settings.py).
	{
		key:  "HEADLESS_CLIENTS",
		dflt: `["browser", "app"]`,
		decode: func(p *parser, v any) error {
			clients, err := asStringSet(v, allClients...)
			if err == nil && len(clients) == 0 {
				err = errors.New("must enable at least one client (\"browser\", \"app\")")
			}
			if err == nil {
				p.s.Clients = clients
			}
			return err
		},
		encode: func(s *Settings) any { return cloneStrings(s.Clients) },
	},
	{
		key:  "HEADLESS_FRONTEND_URLS",
		dflt: `{}`,
		decode: func(p *parser, v any) error {
			urls, err := decodeFrontendURLs(v)
			if err == nil {
				p.s.FrontendURLs = urls
			}
			return err
		},
		encode: func(s *Settings) any {
			m := make(map[string]any, len(s.FrontendURLs))
			for k, u := range s.FrontendURLs {
				m[k] = u
			}
			return m
		},
	},
	{
		key:  "HEADLESS_TOKEN_STRATEGY",
		dflt: `"` + sessionStrategyPath + `"`,
		decode: func(p *parser, v any) error {
			str, err := asString(v)
			if err != nil {
				return err
			}
			switch str {
			case TokenStrategySession, sessionStrategyPath:
				p.s.TokenStrategy = TokenStrategySession
			case TokenStrategyJWT, jwtStrategyPath:
				p.s.TokenStrategy = TokenStrategyJWT
			default:
				// Custom strategies are Python classes; only allauth's two exist here.
				return fmt.Errorf("must be %q, %q or allauth's class path of either, not %q",
					TokenStrategySession, TokenStrategyJWT, str)
			}
			return nil
		},
		encode: func(s *Settings) any {
			if s.TokenStrategy == TokenStrategyJWT {
				return jwtStrategyPath
			}
			return sessionStrategyPath
		},
	},
	boolSetting("HEADLESS_SERVE_SPECIFICATION", "false", func(s *Settings) *bool { return &s.ServeSpecification }),
	enumSetting("HEADLESS_SPECIFICATION_TEMPLATE_NAME", `"headless/spec/redoc_cdn.html"`, func(s *Settings) *string { return &s.SpecificationTemplateName }, allSpecTemplates...),
	enumSetting("HEADLESS_JWT_ALGORITHM", `"RS256"`, func(s *Settings) *string { return &s.JWTAlgorithm }, allJWTAlgorithms...),
	// Checked against the algorithm in validate, once both are known.
	stringSetting("HEADLESS_JWT_PRIVATE_KEY", `""`, func(s *Settings) *string { return &s.JWTPrivateKey }, nil),
	intSetting("HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN", "300", 1, func(s *Settings) *int { return &s.JWTAccessTokenExpiresIn }),
	intSetting("HEADLESS_JWT_REFRESH_TOKEN_EXPIRES_IN", "86400", 1, func(s *Settings) *int { return &s.JWTRefreshTokenExpiresIn }),
	stringSetting("HEADLESS_JWT_AUTHORIZATION_HEADER_SCHEME", `"Bearer"`, func(s *Settings) *string { return &s.JWTAuthorizationHeaderScheme }, checkToken),
	boolSetting("HEADLESS_JWT_STATEFUL_VALIDATION_ENABLED", "false", func(s *Settings) *bool { return &s.JWTStatefulValidationEnabled }),
	boolSetting("HEADLESS_JWT_ROTATE_REFRESH_TOKEN", "true", func(s *Settings) *bool { return &s.JWTRotateRefreshToken }),

	// Legacy ACCOUNT_* keys, before the settings derived from them.
	{
		key: "ACCOUNT_AUTHENTICATION_METHOD",
		decode: func(p *parser, v any) error {
			m, err := asEnum(v, legacyAuthMethods...)
			if err == nil {
				p.legacy["ACCOUNT_AUTHENTICATION_METHOD"] = m
			}
			return err
		},
	},
	legacyBoolSetting("ACCOUNT_EMAIL_REQUIRED"),
	legacyBoolSetting("ACCOUNT_USERNAME_REQUIRED"),
	legacyBoolSetting("ACCOUNT_SIGNUP_EMAIL_ENTER_TWICE"),
	legacyBoolSetting("ACCOUNT_SIGNUP_PASSWORD_ENTER_TWICE"),
	legacyBoolSetting("ACCOUNT_SIGNUP_PASSWORD_VERIFICATION"),
	legacyIntSetting("ACCOUNT_LOGIN_ATTEMPTS_LIMIT", 0),
	legacyIntSetting("ACCOUNT_LOGIN_ATTEMPTS_TIMEOUT", 0),
	legacyIntSetting("ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN", 0),
	legacyIntSetting("EMAIL_CONFIRMATION_DAYS", 1),
	{
		// The name allauth's documentation uses; its code reads
		// ACCOUNT_PASSWORD_RESET_BY_CODE_CODE_FORMAT. Accepting both keeps a
		// documented setting from being silently ignored.
		key: "ACCOUNT_PASSWORD_RESET_BY_CODE_FORMAT",
		decode: func(p *parser, v any) error {
			f, err := decodeCodeFormat(v)
			if err == nil {
				p.legacy["ACCOUNT_PASSWORD_RESET_BY_CODE_FORMAT"] = f
			}
			return err
		},
	},

	// ACCOUNT_* (allauth/account/app_settings.py).
	{
		key: "ACCOUNT_LOGIN_METHODS",
		decode: func(p *parser, v any) error {
			if v == nil { // None: derive from ACCOUNT_AUTHENTICATION_METHOD, as allauth does
				p.s.LoginMethods = legacyLoginMethods(p)
				return nil
			}
			methods, err := asStringSet(v, allLoginMethods...)
			if err == nil {
				p.s.LoginMethods = methods
			}
			return err
		},
		derive: func(p *parser) { p.s.LoginMethods = legacyLoginMethods(p) },
		encode: func(s *Settings) any { return cloneStrings(s.LoginMethods) },
	},
	{
		key: "ACCOUNT_SIGNUP_FIELDS",
		decode: func(p *parser, v any) error {
			if l, ok := v.([]any); v == nil || (ok && len(l) == 0) {
				// allauth derives the fields when the setting is falsy.
				p.s.SignupFields = legacySignupFields(p)
				return nil
			}
			fields, err := decodeSignupFields(v)
			if err == nil {
				p.s.SignupFields = fields
			}
			return err
		},
		derive: func(p *parser) { p.s.SignupFields = legacySignupFields(p) },
		encode: func(s *Settings) any {
			out := make([]string, len(s.SignupFields))
			for i, f := range s.SignupFields {
				out[i] = f.Name
				if f.Required {
					out[i] += "*"
				}
			}
			return out
		},
	},
	{
		key:  "ACCOUNT_EMAIL_VERIFICATION",
		dflt: `"optional"`,
		decode: func(p *parser, v any) error {
			if b, ok := v.(bool); ok { // allauth's legacy boolean form
				p.s.EmailVerification = map[bool]string{true: EmailVerificationMandatory, false: EmailVerificationOptional}[b]
				return nil
			}
			m, err := asEnum(v, allVerifications...)
			if err == nil {
				p.s.EmailVerification = m
			}
			return err
		},
		encode: func(s *Settings) any { return s.EmailVerification },
	},
	boolSetting("ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED", "false", func(s *Settings) *bool { return &s.EmailVerificationByCodeEnabled }),
	intSetting("ACCOUNT_EMAIL_VERIFICATION_BY_CODE_MAX_ATTEMPTS", "3", 1, func(s *Settings) *int { return &s.EmailVerificationByCodeMaxAttempts }),
	intSetting("ACCOUNT_EMAIL_VERIFICATION_BY_CODE_TIMEOUT", "900", 1, func(s *Settings) *int { return &s.EmailVerificationByCodeTimeout }),
	codeFormatSetting("ACCOUNT_EMAIL_VERIFICATION_BY_CODE_FORMAT", "", func(s *Settings) *UserCodeFormat { return &s.EmailVerificationByCodeFormat }),
	countSetting("ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_RESEND", func(s *Settings) *int { return &s.EmailVerificationMaxResendCount }),
	countSetting("ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_CHANGE", func(s *Settings) *int { return &s.EmailVerificationMaxChangeCount }),
	{
		key: "ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS",
		decode: func(p *parser, v any) error {
			n, err := asMinInt(v, 1)
			if err == nil {
				n, err = p.bounded("ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS", n)
			}
			if err == nil {
				p.s.EmailConfirmationExpireDays = n
			}
			return err
		},
		derive: func(p *parser) {
			// allauth falls back to Django-level EMAIL_CONFIRMATION_DAYS, then 3.
			p.s.EmailConfirmationExpireDays = 3
			if n, ok := p.legacy["EMAIL_CONFIRMATION_DAYS"].(int); ok {
				p.s.EmailConfirmationExpireDays = n
			}
		},
		encode: func(s *Settings) any { return s.EmailConfirmationExpireDays },
	},
	boolSetting("ACCOUNT_EMAIL_CONFIRMATION_HMAC", "true", func(s *Settings) *bool { return &s.EmailConfirmationHMAC }),
	boolSetting("ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION", "false", func(s *Settings) *bool { return &s.LoginOnEmailConfirmation }),
	boolSetting("ACCOUNT_LOGIN_ON_PASSWORD_RESET", "false", func(s *Settings) *bool { return &s.LoginOnPasswordReset }),
	boolSetting("ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE", "false", func(s *Settings) *bool { return &s.LogoutOnPasswordChange }),
	boolSetting("ACCOUNT_CHANGE_EMAIL", "false", func(s *Settings) *bool { return &s.ChangeEmail }),
	{
		key:  "ACCOUNT_MAX_EMAIL_ADDRESSES",
		dflt: "null",
		decode: func(p *parser, v any) error {
			if v == nil {
				p.s.MaxEmailAddresses = 0
				return nil
			}
			n, err := asInt(v)
			if err == nil && n < 1 {
				err = fmt.Errorf("must be null (no limit) or at least 1, not %d", n)
			}
			if err == nil {
				n, err = p.bounded("ACCOUNT_MAX_EMAIL_ADDRESSES", n)
			}
			if err == nil {
				p.s.MaxEmailAddresses = n
			}
			return err
		},
		encode: func(s *Settings) any {
			if s.MaxEmailAddresses == 0 {
				return nil
			}
			return s.MaxEmailAddresses
		},
	},
	boolSetting("ACCOUNT_UNIQUE_EMAIL", "true", func(s *Settings) *bool { return &s.UniqueEmail }),
	{
		key:  "ACCOUNT_EMAIL_MAX_LENGTH",
		dflt: "254",
		decode: func(p *parser, v any) error {
			n, err := asMinInt(v, 3)
			if err == nil && n > 254 {
				// RFC 5321 caps a usable address at 254 characters.
				err = fmt.Errorf("must be at most 254, not %d", n)
			}
			if err == nil {
				p.s.EmailMaxLength = n
			}
			return err
		},
		encode: func(s *Settings) any { return s.EmailMaxLength },
	},
	{
		key:  "ACCOUNT_PREVENT_ENUMERATION",
		dflt: "true",
		decode: func(p *parser, v any) error {
			if v == "strict" {
				p.s.PreventEnumeration, p.s.PreventEnumerationStrict = true, true
				return nil
			}
			b, ok := v.(bool)
			if !ok {
				return fmt.Errorf("must be true, false or \"strict\", not %s", describeJSON(v))
			}
			p.s.PreventEnumeration, p.s.PreventEnumerationStrict = b, false
			return nil
		},
		encode: func(s *Settings) any {
			if s.PreventEnumerationStrict {
				return "strict"
			}
			return s.PreventEnumeration
		},
	},
	boolSetting("ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS", "true", func(s *Settings) *bool { return &s.EmailUnknownAccounts }),
	boolSetting("ACCOUNT_EMAIL_NOTIFICATIONS", "false", func(s *Settings) *bool { return &s.EmailNotifications }),
	{
		key:  "ACCOUNT_EMAIL_SUBJECT_PREFIX",
		dflt: "null",
		decode: func(p *parser, v any) error {
			if v == nil {
				p.s.EmailSubjectPrefix = nil
				return nil
			}
			str, err := asString(v)
			if err == nil {
				str, err = checkPrintable(str)
			}
			if err == nil {
				p.s.EmailSubjectPrefix = &str
			}
			return err
		},
		encode: func(s *Settings) any {
			if s.EmailSubjectPrefix == nil {
				return nil
			}
			return *s.EmailSubjectPrefix
		},
	},
	boolSetting("ACCOUNT_REAUTHENTICATION_REQUIRED", "false", func(s *Settings) *bool { return &s.ReauthenticationRequired }),
	intSetting("ACCOUNT_REAUTHENTICATION_TIMEOUT", "300", 1, func(s *Settings) *int { return &s.ReauthenticationTimeout }),
	intSetting("ACCOUNT_LOGIN_TIMEOUT", "900", 1, func(s *Settings) *int { return &s.LoginTimeout }),
	boolSetting("ACCOUNT_LOGIN_BY_CODE_ENABLED", "false", func(s *Settings) *bool { return &s.LoginByCodeEnabled }),
	{
		key:  "ACCOUNT_LOGIN_BY_CODE_REQUIRED",
		dflt: "false",
		decode: func(p *parser, v any) error {
			if b, ok := v.(bool); ok {
				p.s.LoginByCodeRequiredAlways, p.s.LoginByCodeRequiredFor = b, []string{}
				return nil
			}
			if _, ok := v.([]any); !ok {
				return fmt.Errorf("must be true, false or a list of %s, not %s", quoteList(allCodeAfter), describeJSON(v))
			}
			methods, err := asStringSet(v, allCodeAfter...)
			if err != nil {
				return err
			}
			slices.Sort(methods) // a set in allauth
			p.s.LoginByCodeRequiredAlways, p.s.LoginByCodeRequiredFor = false, methods
			return nil
		},
		encode: func(s *Settings) any {
			switch {
			case s.LoginByCodeRequiredAlways:
				return true
			case len(s.LoginByCodeRequiredFor) == 0:
				return false
			}
			return cloneStrings(s.LoginByCodeRequiredFor)
		},
	},
	intSetting("ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS", "3", 1, func(s *Settings) *int { return &s.LoginByCodeMaxAttempts }),
	intSetting("ACCOUNT_LOGIN_BY_CODE_TIMEOUT", "180", 1, func(s *Settings) *int { return &s.LoginByCodeTimeout }),
	countSetting("ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND", func(s *Settings) *int { return &s.LoginByCodeMaxResendCount }),
	boolSetting("ACCOUNT_LOGIN_BY_CODE_TRUST_ENABLED", "false", func(s *Settings) *bool { return &s.LoginByCodeTrustEnabled }),
	codeFormatSetting("ACCOUNT_LOGIN_BY_CODE_FORMAT", "", func(s *Settings) *UserCodeFormat { return &s.LoginByCodeFormat }),
	boolSetting("ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED", "false", func(s *Settings) *bool { return &s.PasswordResetByCodeEnabled }),
	intSetting("ACCOUNT_PASSWORD_RESET_BY_CODE_MAX_ATTEMPTS", "3", 1, func(s *Settings) *int { return &s.PasswordResetByCodeMaxAttempts }),
	intSetting("ACCOUNT_PASSWORD_RESET_BY_CODE_TIMEOUT", "180", 1, func(s *Settings) *int { return &s.PasswordResetByCodeTimeout }),
	codeFormatSetting("ACCOUNT_PASSWORD_RESET_BY_CODE_CODE_FORMAT", "ACCOUNT_PASSWORD_RESET_BY_CODE_FORMAT", func(s *Settings) *UserCodeFormat { return &s.PasswordResetByCodeFormat }),
	boolSetting("ACCOUNT_PHONE_VERIFICATION_ENABLED", "true", func(s *Settings) *bool { return &s.PhoneVerificationEnabled }),
	intSetting("ACCOUNT_PHONE_VERIFICATION_MAX_ATTEMPTS", "3", 1, func(s *Settings) *int { return &s.PhoneVerificationMaxAttempts }),
	intSetting("ACCOUNT_PHONE_VERIFICATION_TIMEOUT", "900", 1, func(s *Settings) *int { return &s.PhoneVerificationTimeout }),
	countSetting("ACCOUNT_PHONE_VERIFICATION_SUPPORTS_RESEND", func(s *Settings) *int { return &s.PhoneVerificationMaxResendCount }),
	countSetting("ACCOUNT_PHONE_VERIFICATION_SUPPORTS_CHANGE", func(s *Settings) *int { return &s.PhoneVerificationMaxChangeCount }),
	codeFormatSetting("ACCOUNT_PHONE_VERIFICATION_CODE_FORMAT", "", func(s *Settings) *UserCodeFormat { return &s.PhoneVerificationCodeFormat }),
	{
		// allauth's default is 6; Hallpass's is PasswordMinLengthFloor, and
		// no tenant may go below it (NIST SP 800-63B §3.1.1.2).
		key:  "ACCOUNT_PASSWORD_MIN_LENGTH",
		dflt: "8",
		decode: func(p *parser, v any) error {
			n, err := asInt(v)
			switch {
			case err != nil:
				return err
			case n < PasswordMinLengthFloor:
				return fmt.Errorf("must be at least %d, not %d: Hallpass follows NIST SP 800-63B, whose floor is %d characters (allauth's default of 6 is below it)",
					PasswordMinLengthFloor, n, PasswordMinLengthFloor)
			case n > PasswordMaxLength:
				return fmt.Errorf("must be at most %d, not %d: passwords longer than %d characters are refused", PasswordMaxLength, n, PasswordMaxLength)
			}
			p.s.PasswordMinLength = n
			return nil
		},
		encode: func(s *Settings) any { return s.PasswordMinLength },
	},
	{
		key:  "ACCOUNT_USER_MODEL_USERNAME_FIELD",
		dflt: `"username"`,
		decode: func(p *parser, v any) error {
			// Hallpass's user model is fixed: it has a username or not.
			if v != nil && v != "username" {
				return fmt.Errorf(`must be "username" or null (Hallpass users have a fixed username field)`)
			}
			p.s.UserModelUsernameField, _ = v.(string)
			return nil
		},
		encode: func(s *Settings) any { return nullIfEmpty(s.UserModelUsernameField) },
	},
	{
		key:  "ACCOUNT_USER_MODEL_EMAIL_FIELD",
		dflt: `"email"`,
		decode: func(p *parser, v any) error {
			if v != nil && v != "email" {
				return fmt.Errorf(`must be "email" or null (Hallpass users have a fixed email field)`)
			}
			p.s.UserModelEmailField, _ = v.(string)
			return nil
		},
		encode: func(s *Settings) any { return nullIfEmpty(s.UserModelEmailField) },
	},
	intSetting("ACCOUNT_USERNAME_MIN_LENGTH", "1", 1, func(s *Settings) *int { return &s.UsernameMinLength }),
	{
		key:  "ACCOUNT_USERNAME_BLACKLIST",
		dflt: "[]",
		decode: func(p *parser, v any) error {
			l, err := asStrings(v)
			if err == nil {
				p.s.UsernameBlacklist = l
			}
			return err
		},
		encode: func(s *Settings) any { return cloneStrings(s.UsernameBlacklist) },
	},
	boolSetting("ACCOUNT_PRESERVE_USERNAME_CASING", "true", func(s *Settings) *bool { return &s.PreserveUsernameCasing }),
	{
		key:  "ACCOUNT_SESSION_REMEMBER",
		dflt: "null",
		decode: func(p *parser, v any) error {
			if v == nil {
				p.s.SessionRemember = nil
				return nil
			}
			b, err := asBool(v)
			if err != nil {
				return typeError("true, false or null", v)
			}
			p.s.SessionRemember = &b
			return nil
		},
		encode: func(s *Settings) any {
			if s.SessionRemember == nil {
				return nil
			}
			return *s.SessionRemember
		},
	},
	nullableStringSetting("ACCOUNT_SIGNUP_FORM_HONEYPOT_FIELD", func(s *Settings) *string { return &s.SignupFormHoneypotField }, checkHoneypotName),
	{
		key:  "ACCOUNT_DEFAULT_HTTP_PROTOCOL",
		dflt: `"http"`,
		decode: func(p *parser, v any) error {
			str, err := asString(v)
			if err != nil {
				return err
			}
			// allauth lower-cases it.
			if str = strings.ToLower(str); str != "http" && str != "https" {
				return fmt.Errorf(`must be "http" or "https", not %q`, str)
			}
			p.s.DefaultHTTPProtocol = str
			return nil
		},
		encode: func(s *Settings) any { return s.DefaultHTTPProtocol },
	},
	stringSetting("ACCOUNT_SALT", `"account"`, func(s *Settings) *string { return &s.Salt }, checkNonEmpty),
	{
		key: "ACCOUNT_RATE_LIMITS",
		decode: func(p *parser, v any) error {
			limits, err := p.decodeRateLimits("ACCOUNT_RATE_LIMITS", v, defaultRateLimits(p), ratelimit.CheckAction)
			if err == nil {
				p.s.RateLimits = limits
			}
			return err
		},
		derive: func(p *parser) { p.s.RateLimits = defaultRateLimits(p) },
		encode: func(s *Settings) any {
			if s.RateLimits == nil {
				return false
			}
			m := make(map[string]any, len(ratelimit.Actions()))
			for _, a := range ratelimit.Actions() {
				if rules, ok := s.RateLimits[a]; ok {
					m[a] = ratelimit.FormatRules(rules)
				} else {
					m[a] = false
				}
			}
			return m
		},
	},

	{
		key: "HALLPASS_RATE_LIMITS",
		decode: func(p *parser, v any) error {
			limits, err := p.decodeRateLimits("HALLPASS_RATE_LIMITS", v, defaultHallpassRateLimits(), ratelimit.CheckHallpassAction)
			if err == nil {
				p.s.HallpassRateLimits = limits
			}
			return err
		},
		derive: func(p *parser) { p.s.HallpassRateLimits = defaultHallpassRateLimits() },
		encode: func(s *Settings) any {
			if s.HallpassRateLimits == nil {
				return false
			}
			m := make(map[string]any, len(ratelimit.HallpassActions()))
			for _, a := range ratelimit.HallpassActions() {
				if rules, ok := s.HallpassRateLimits[a]; ok {
					m[a] = ratelimit.FormatRules(rules)
				} else {
					m[a] = false
				}
			}
			return m
		},
	},

	// MFA_* (allauth/mfa/app_settings.py).
	{
		key:  "MFA_SUPPORTED_TYPES",
		dflt: `["recovery_codes", "totp"]`,
		decode: func(p *parser, v any) error {
			types, err := asStringSet(v, allMFATypes...)
			if err == nil {
				p.s.MFASupportedTypes = types
			}
			return err
		},
		encode: func(s *Settings) any { return cloneStrings(s.MFASupportedTypes) },
	},
	boolSetting("MFA_PASSKEY_LOGIN_ENABLED", "false", func(s *Settings) *bool { return &s.MFAPasskeyLoginEnabled }),
	boolSetting("MFA_PASSKEY_SIGNUP_ENABLED", "false", func(s *Settings) *bool { return &s.MFAPasskeySignupEnabled }),
	boolSetting("MFA_ALLOW_UNVERIFIED_EMAIL", "false", func(s *Settings) *bool { return &s.MFAAllowUnverifiedEmail }),
	intSetting("MFA_TOTP_PERIOD", "30", 1, func(s *Settings) *int { return &s.MFATOTPPeriod }),
	{
		key:  "MFA_TOTP_DIGITS",
		dflt: "6",
		decode: func(p *parser, v any) error {
			// RFC 4226: at least 6 digits; a 31-bit HOTP value has at most 10.
			n, err := asMinInt(v, 6)
			if err == nil && n > 10 {
				err = fmt.Errorf("must be at most 10, not %d", n)
			}
			if err == nil {
				p.s.MFATOTPDigits = n
			}
			return err
		},
		encode: func(s *Settings) any { return s.MFATOTPDigits },
	},
	intSetting("MFA_TOTP_TOLERANCE", "0", 0, func(s *Settings) *int { return &s.MFATOTPTolerance }),
	stringSetting("MFA_TOTP_ISSUER", `""`, func(s *Settings) *string { return &s.MFATOTPIssuer }, checkPrintable),
	intSetting("MFA_RECOVERY_CODE_COUNT", "10", 1, func(s *Settings) *int { return &s.MFARecoveryCodeCount }),
	intSetting("MFA_RECOVERY_CODE_DIGITS", "8", 1, func(s *Settings) *int { return &s.MFARecoveryCodeDigits }),
	boolSetting("MFA_RECOVERY_CODES_SHOW_ONCE", "false", func(s *Settings) *bool { return &s.MFARecoveryCodesShowOnce }),
	boolSetting("MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN", "false", func(s *Settings) *bool { return &s.MFAWebAuthnAllowInsecureOrigin }),
	boolSetting("MFA_TRUST_ENABLED", "false", func(s *Settings) *bool { return &s.MFATrustEnabled }),
	// allauth's default is timedelta(days=14); JSON carries seconds, which
	// allauth also accepts.
	intSetting("MFA_TRUST_COOKIE_AGE", "1209600", 1, func(s *Settings) *int { return &s.MFATrustCookieAge }),
	// The trust cookie lives in the tenant's own cookie space: no platform
	// name, no Domain, no path outside the tenant's base (settings_bounds.go).
	guardedStringSetting("MFA_TRUST_COOKIE_NAME", `"`+DefaultTrustCookieName+`"`, func(s *Settings) *string { return &s.MFATrustCookieName }, checkTrustCookieName),
	// The remaining cookie defaults are Django's SESSION_COOKIE_* defaults.
	guardedStringSetting("MFA_TRUST_COOKIE_DOMAIN", "null", func(s *Settings) *string { return &s.MFATrustCookieDomain }, checkTrustCookieDomain),
	boolSetting("MFA_TRUST_COOKIE_HTTPONLY", "true", func(s *Settings) *bool { return &s.MFATrustCookieHTTPOnly }),
	guardedStringSetting("MFA_TRUST_COOKIE_PATH", `"/"`, func(s *Settings) *string { return &s.MFATrustCookiePath }, checkTrustCookiePath),
	{
		key:  "MFA_TRUST_COOKIE_SAMESITE",
		dflt: `"Lax"`,
		decode: func(p *parser, v any) error {
			if v == false { // Django: False omits the attribute
				p.s.MFATrustCookieSameSite = ""
				return nil
			}
			str, ok := v.(string)
			if !ok || !slices.Contains(allSameSite, str) {
				return fmt.Errorf(`must be "Lax", "Strict", "None" or false`)
			}
			p.s.MFATrustCookieSameSite = str
			return nil
		},
		encode: func(s *Settings) any {
			if s.MFATrustCookieSameSite == "" {
				return false
			}
			return s.MFATrustCookieSameSite
		},
	},
	boolSetting("MFA_TRUST_COOKIE_SECURE", "false", func(s *Settings) *bool { return &s.MFATrustCookieSecure }),

	// SOCIALACCOUNT_* (allauth/socialaccount/app_settings.py).
	{
		key:  "SOCIALACCOUNT_PROVIDERS",
		dflt: `{}`,
		decode: func(p *parser, v any) error {
			providers, err := decodeProviders(v)
			if err == nil {
				p.s.SocialAccountProviders = providers
			}
			return err
		},
		encode: func(s *Settings) any { return encodeProviders(s.SocialAccountProviders) },
	},
	boolSetting("SOCIALACCOUNT_AUTO_SIGNUP", "true", func(s *Settings) *bool { return &s.SocialAccountAutoSignup }),
	{
		key: "SOCIALACCOUNT_EMAIL_REQUIRED",
		decode: func(p *parser, v any) error {
			b, err := asBool(v)
			if err == nil {
				p.s.SocialAccountEmailRequired = b
			}
			return err
		},
		derive: func(p *parser) {
			f, ok := p.s.SignupField("email")
			p.s.SocialAccountEmailRequired = ok && f.Required
		},
		encode: func(s *Settings) any { return s.SocialAccountEmailRequired },
	},
	{
		key: "SOCIALACCOUNT_QUERY_EMAIL",
		decode: func(p *parser, v any) error {
			b, err := asBool(v)
			if err == nil {
				p.s.SocialAccountQueryEmail = b
			}
			return err
		},
		derive: func(p *parser) { p.s.SocialAccountQueryEmail = p.s.SocialAccountEmailRequired },
		encode: func(s *Settings) any { return s.SocialAccountQueryEmail },
	},
	{
		key: "SOCIALACCOUNT_EMAIL_VERIFICATION",
		decode: func(p *parser, v any) error {
			if v == nil {
				p.s.SocialAccountEmailVerification = ""
				return nil
			}
			m, err := asEnum(v, allVerifications...)
			if err == nil {
				p.s.SocialAccountEmailVerification = m
			}
			return err
		},
		derive: func(p *parser) {
			p.s.SocialAccountEmailVerification = ""
			if p.s.SocialAccountOnly {
				p.s.SocialAccountEmailVerification = EmailVerificationNone
			}
		},
		encode: func(s *Settings) any { return nullIfEmpty(s.SocialAccountEmailVerification) },
	},
	boolSetting("SOCIALACCOUNT_EMAIL_AUTHENTICATION", "false", func(s *Settings) *bool { return &s.SocialAccountEmailAuthentication }),
	boolSetting("SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT", "false", func(s *Settings) *bool { return &s.SocialAccountEmailAuthenticationAutoConnect }),
	boolSetting("SOCIALACCOUNT_STORE_TOKENS", "false", func(s *Settings) *bool { return &s.SocialAccountStoreTokens }),
	intSetting("SOCIALACCOUNT_REQUESTS_TIMEOUT", "5", 1, func(s *Settings) *int { return &s.SocialAccountRequestsTimeout }),
	stringSetting("SOCIALACCOUNT_OPENID_CONNECT_URL_PREFIX", `"oidc"`, func(s *Settings) *string { return &s.SocialAccountOpenIDConnectURLPrefix }, checkURLPrefix),

	// USERSESSIONS_* (allauth/usersessions/app_settings.py).
	boolSetting("USERSESSIONS_TRACK_ACTIVITY", "false", func(s *Settings) *bool { return &s.UserSessionsTrackActivity }),
}

// unsupportedSettings are allauth (and Django) settings a customer may paste
// that have no meaning here, mostly because they name Python code or shape
// server-rendered pages Hallpass does not serve. They get a specific reason
// instead of "unknown setting"; a value equal to allauth's default (dflt, as
// JSON; "" = no acceptable value) is accepted and ignored, since it asks for
// nothing Hallpass does not already do.
var unsupportedSettings = map[string]struct{ dflt, why string }{
	"ACCOUNT_ADAPTER":                                       {`"allauth.account.adapter.DefaultAccountAdapter"`, "custom adapters are Python code"},
	"HEADLESS_ADAPTER":                                      {`"allauth.headless.adapter.DefaultHeadlessAdapter"`, "custom adapters are Python code"},
	"MFA_ADAPTER":                                           {`"allauth.mfa.adapter.DefaultMFAAdapter"`, "custom adapters are Python code"},
	"SOCIALACCOUNT_ADAPTER":                                 {`"allauth.socialaccount.adapter.DefaultSocialAccountAdapter"`, "custom adapters are Python code"},
	"USERSESSIONS_ADAPTER":                                  {`"allauth.usersessions.adapter.DefaultUserSessionsAdapter"`, "custom adapters are Python code"},
	"ACCOUNT_FORMS":                                         {`{}`, "custom forms are Python code"},
	"MFA_FORMS":                                             {`{}`, "custom forms are Python code"},
	"SOCIALACCOUNT_FORMS":                                   {`{}`, "custom forms are Python code"},
	"ACCOUNT_SIGNUP_FORM_CLASS":                             {`null`, "custom signup forms are Python code"},
	"ACCOUNT_USERNAME_VALIDATORS":                           {`null`, "custom validators are Python code"},
	"ACCOUNT_PASSWORD_RESET_TOKEN_GENERATOR":                {`null`, "custom token generators are Python code"},
	"ACCOUNT_USER_DISPLAY":                                  {``, "it names Python code"},
	"SOCIALACCOUNT_SOCIALACCOUNT_STR":                       {`null`, "it names Python code"},
	"ACCOUNT_TEMPLATE_EXTENSION":                            {`"html"`, "Hallpass renders no allauth templates"},
	"ACCOUNT_PASSWORD_INPUT_RENDER_VALUE":                   {`false`, "it only affects allauth's server-rendered forms"},
	"ACCOUNT_CONFIRM_EMAIL_ON_GET":                          {`false`, "it only affects allauth's server-rendered pages"},
	"ACCOUNT_LOGOUT_ON_GET":                                 {`false`, "it only affects allauth's server-rendered pages"},
	"ACCOUNT_AUTHENTICATED_LOGIN_REDIRECTS":                 {`true`, "it only affects allauth's server-rendered pages"},
	"SOCIALACCOUNT_LOGIN_ON_GET":                            {`false`, "it only affects allauth's server-rendered pages"},
	"ACCOUNT_LOGOUT_REDIRECT_URL":                           {``, "it only affects allauth's server-rendered pages; use HEADLESS_FRONTEND_URLS"},
	"ACCOUNT_SIGNUP_REDIRECT_URL":                           {``, "it only affects allauth's server-rendered pages; use HEADLESS_FRONTEND_URLS"},
	"ACCOUNT_EMAIL_CONFIRMATION_ANONYMOUS_REDIRECT_URL":     {``, "it only affects allauth's server-rendered pages; use HEADLESS_FRONTEND_URLS"},
	"ACCOUNT_EMAIL_CONFIRMATION_AUTHENTICATED_REDIRECT_URL": {`null`, "it only affects allauth's server-rendered pages; use HEADLESS_FRONTEND_URLS"},
	"MFA_TOTP_INSECURE_BYPASS_CODE":                         {`null`, "allauth allows it only with DEBUG, which hosted tenants never run with"},
	"ALLAUTH_DEFAULT_AUTO_FIELD":                            {`null`, "it configures Django models"},
	"INSTALLED_APPS":                                        {``, "list the optional allauth apps in HALLPASS_APPS instead"},
	"SESSION_COOKIE_AGE":                                    {``, "use HALLPASS_SESSION_COOKIE_AGE"},
	// The headless API's own cookies are the platform's: fixed names, host-only,
	// scoped to the tenant's base, so no tenant can aim them at the console or
	// at another tenant.
	"SESSION_COOKIE_NAME":     {`"sessionid"`, "the session cookie's name is fixed (allauth's frontends and the platform rely on it)"},
	"SESSION_COOKIE_DOMAIN":   {`null`, "the session cookie is host-only, on the tenant's own host"},
	"SESSION_COOKIE_PATH":     {`"/"`, "the session cookie is scoped to the tenant's base"},
	"SESSION_COOKIE_SECURE":   {`false`, "the session cookie is Secure whenever the API is served over https"},
	"SESSION_COOKIE_HTTPONLY": {`true`, "the session cookie is always HttpOnly"},
	"SESSION_COOKIE_SAMESITE": {`"Lax"`, "the session cookie is always SameSite=Lax"},
	"CSRF_COOKIE_NAME":        {`"csrftoken"`, "the CSRF cookie's name is fixed (allauth's frontends rely on it)"},
	"CSRF_COOKIE_DOMAIN":      {`null`, "the CSRF cookie is host-only, on the tenant's own host"},
	"CSRF_COOKIE_PATH":        {`"/"`, "the CSRF cookie is scoped to the tenant's base"},
	"CSRF_HEADER_NAME":        {`"HTTP_X_CSRFTOKEN"`, "the CSRF header is fixed (X-CSRFToken)"},
	"CORS_ALLOWED_ORIGINS":    {``, "use HALLPASS_CORS_ALLOWED_ORIGINS"},
	"DEFAULT_FROM_EMAIL":      {``, "use HALLPASS_EMAIL_FROM"},
}

func boolSetting(key, dflt string, field func(*Settings) *bool) settingSpec {
	return settingSpec{
		key:  key,
		dflt: dflt,
		decode: func(p *parser, v any) error {
			b, err := asBool(v)
			if err == nil {
				*field(p.s) = b
			}
			return err
		},
		encode: func(s *Settings) any { return *field(s) },
	}
}

// intSetting is a whole number of at least lo, and at most its bound in
// settingBounds if it has one.
func intSetting(key, dflt string, lo int, field func(*Settings) *int) settingSpec {
	return settingSpec{
		key:  key,
		dflt: dflt,
		decode: func(p *parser, v any) error {
			n, err := asMinInt(v, lo)
			if err == nil {
				n, err = p.bounded(key, n)
			}
			if err == nil {
				*field(p.s) = n
			}
			return err
		},
		encode: func(s *Settings) any { return *field(s) },
	}
}

// stringSetting decodes a string; check, if given, validates and may
// normalise it.
func stringSetting(key, dflt string, field func(*Settings) *string, check func(string) (string, error)) settingSpec {
	return settingSpec{
		key:  key,
		dflt: dflt,
		decode: func(p *parser, v any) error {
			str, err := asString(v)
			if err == nil && check != nil {
				str, err = check(str)
			}
			if err == nil {
				*field(p.s) = str
			}
			return err
		},
		encode: func(s *Settings) any { return *field(s) },
	}
}

// nullableStringSetting is a setting whose allauth default is None; null and
// "" both mean "not set" and are stored as "".
func nullableStringSetting(key string, field func(*Settings) *string, check func(string) (string, error)) settingSpec {
	return settingSpec{
		key:  key,
		dflt: "null",
		decode: func(p *parser, v any) error {
			str, err := asNullableString(v)
			if err == nil && str != "" && check != nil {
				str, err = check(str)
			}
			if err == nil {
				*field(p.s) = str
			}
			return err
		},
		encode: func(s *Settings) any { return nullIfEmpty(*field(s)) },
	}
}

// guardedStringSetting is a string (null meaning "" when dflt is "null")
// that check guards against reaching outside the tenant: a document being
// written is refused, a stored one gets the default back (recorded as a
// clamp).
func guardedStringSetting(key, dflt string, field func(*Settings) *string, check func(string) (string, error)) settingSpec {
	return settingSpec{
		key:  key,
		dflt: dflt,
		decode: func(p *parser, v any) error {
			var str string
			var err error
			if dflt == "null" {
				str, err = asNullableString(v)
			} else {
				str, err = asString(v)
			}
			if err != nil {
				return err
			}
			if str, err = check(str); err != nil {
				if !p.stored {
					return err
				}
				safe, _ := mustJSON(dflt).(string)
				p.clampTo(key, err, jsonText(mustJSON(dflt)))
				str = safe
			}
			*field(p.s) = str
			return nil
		},
		encode: func(s *Settings) any {
			if dflt == "null" {
				return nullIfEmpty(*field(s))
			}
			return *field(s)
		},
	}
}

func enumSetting(key, dflt string, field func(*Settings) *string, allowed ...string) settingSpec {
	return settingSpec{
		key:  key,
		dflt: dflt,
		decode: func(p *parser, v any) error {
			str, err := asEnum(v, allowed...)
			if err == nil {
				*field(p.s) = str
			}
			return err
		},
		encode: func(s *Settings) any { return *field(s) },
	}
}

// countSetting is allauth's *_SUPPORTS_RESEND / *_SUPPORTS_CHANGE: false
// means 0, true means 2, a number is the count itself.
func countSetting(key string, field func(*Settings) *int) settingSpec {
	return settingSpec{
		key:  key,
		dflt: "false",
		decode: func(p *parser, v any) error {
			if b, ok := v.(bool); ok {
				*field(p.s) = map[bool]int{false: 0, true: 2}[b]
				return nil
			}
			if _, ok := v.(json.Number); !ok {
				return typeError("true, false or a count", v)
			}
			n, err := asMinInt(v, 0)
			if err == nil {
				n, err = p.bounded(key, n)
			}
			if err == nil {
				*field(p.s) = n
			}
			return err
		},
		encode: func(s *Settings) any { return *field(s) },
	}
}

// codeFormatSetting is a per-flow code format. As in allauth, a given format
// replaces ALLAUTH_USER_CODE_FORMAT as a whole rather than merging with it;
// alias names a legacy key that may supply it instead.
func codeFormatSetting(key, alias string, field func(*Settings) *UserCodeFormat) settingSpec {
	return settingSpec{
		key: key,
		decode: func(p *parser, v any) error {
			f, err := decodeCodeFormat(v)
			if err == nil {
				*field(p.s) = f
			}
			return err
		},
		derive: func(p *parser) {
			*field(p.s) = p.s.UserCodeFormat
			if f, ok := p.legacy[alias].(UserCodeFormat); ok {
				*field(p.s) = f
			}
		},
		encode: func(s *Settings) any { return encodeCodeFormat(*field(s)) },
	}
}

func originsSetting(key string, field func(*Settings) *[]string) settingSpec {
	return settingSpec{
		key:  key,
		dflt: "[]",
		decode: func(p *parser, v any) error {
			origins, err := decodeOrigins(v)
			if err == nil {
				*field(p.s) = origins
			}
			return err
		},
		encode: func(s *Settings) any { return cloneStrings(*field(s)) },
	}
}

func legacyBoolSetting(key string) settingSpec {
	return settingSpec{
		key: key,
		decode: func(p *parser, v any) error {
			b, err := asBool(v)
			if err == nil {
				p.legacy[key] = b
			}
			return err
		},
	}
}

func legacyIntSetting(key string, lo int) settingSpec {
	return settingSpec{
		key: key,
		decode: func(p *parser, v any) error {
			n, err := asMinInt(v, lo)
			if err == nil {
				n, err = p.bounded(key, n)
			}
			if err == nil {
				p.legacy[key] = n
			}
			return err
		},
	}
}

// legacyLoginMethods derives ACCOUNT_LOGIN_METHODS from the legacy
// ACCOUNT_AUTHENTICATION_METHOD (default "username").
func legacyLoginMethods(p *parser) []string {
	m, _ := p.legacy["ACCOUNT_AUTHENTICATION_METHOD"].(string)
	switch m {
	case "email":
		return []string{"email"}
	case "username_email":
		return []string{"username", "email"}
	}
	return []string{"username"}
}

// legacyAuthenticationMethod is allauth's deprecated AUTHENTICATION_METHOD
// getter: the legacy value that login methods correspond to ("" if none).
func legacyAuthenticationMethod(methods []string) string {
	email, username := slices.Contains(methods, "email"), slices.Contains(methods, "username")
	switch {
	case email && username:
		return "username_email"
	case email:
		return "email"
	case username:
		return "username"
	}
	return ""
}

// legacySignupFields derives ACCOUNT_SIGNUP_FIELDS from the legacy settings,
// exactly as allauth's SIGNUP_FIELDS property does.
func legacySignupFields(p *parser) []SignupField {
	flag := func(key string, dflt bool) bool {
		if b, ok := p.legacy[key].(bool); ok {
			return b
		}
		return dflt
	}
	username := flag("ACCOUNT_USERNAME_REQUIRED", true)
	email := flag("ACCOUNT_EMAIL_REQUIRED", false)
	email2 := flag("ACCOUNT_SIGNUP_EMAIL_ENTER_TWICE", false)
	password2 := flag("ACCOUNT_SIGNUP_PASSWORD_ENTER_TWICE", flag("ACCOUNT_SIGNUP_PASSWORD_VERIFICATION", true))

	fields := []SignupField{{Name: "email", Required: email}}
	if email2 {
		fields = append(fields, SignupField{Name: "email2", Required: email})
	}
	if username {
		fields = append(fields, SignupField{Name: "username", Required: true})
	}
	fields = append(fields, SignupField{Name: "password1", Required: true})
	if password2 {
		fields = append(fields, SignupField{Name: "password2", Required: true})
	}
	return fields
}

// legacyLoginFailedRules are the login_failed rules allauth derives from
// ACCOUNT_LOGIN_ATTEMPTS_LIMIT/TIMEOUT; nil when either is 0 (no limit).
func legacyLoginFailedRules(p *parser) []ratelimit.Rule {
	limit, ok := p.legacy["ACCOUNT_LOGIN_ATTEMPTS_LIMIT"].(int)
	if !ok {
		limit = 5
	}
	timeout, ok := p.legacy["ACCOUNT_LOGIN_ATTEMPTS_TIMEOUT"].(int)
	if !ok {
		timeout = 300
	}
	if limit == 0 || timeout == 0 {
		return nil
	}
	return mustRules(fmt.Sprintf("10/m/ip,%d/%ds/key", limit, timeout))
}

// legacyConfirmEmailRules are the confirm_email rules allauth derives from
// ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN; nil when it is 0. Code mode ignores it.
func legacyConfirmEmailRules(p *parser) []ratelimit.Rule {
	if p.s.EmailVerificationByCodeEnabled {
		return mustRules(ratelimit.DefaultConfirmEmailRateCodeMode)
	}
	cooldown, ok := p.legacy["ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN"].(int)
	if !ok {
		cooldown = 180
	}
	if cooldown == 0 {
		return nil
	}
	return mustRules(fmt.Sprintf("1/%ds/key", cooldown))
}

// defaultRateLimits is allauth's RATE_LIMITS before user overrides.
func defaultRateLimits(p *parser) map[string][]ratelimit.Rule {
	out := map[string][]ratelimit.Rule{}
	for action, rate := range ratelimit.DefaultRatesFor(p.s.EmailVerificationByCodeEnabled) {
		out[action] = mustRules(rate)
	}
	setOrDelete := func(action string, rules []ratelimit.Rule) {
		if rules == nil {
			delete(out, action)
		} else {
			out[action] = rules
		}
	}
	setOrDelete(ratelimit.ActionLoginFailed, legacyLoginFailedRules(p))
	setOrDelete(ratelimit.ActionConfirmEmail, legacyConfirmEmailRules(p))
	return out
}

// mustRules parses rules built from constants and validated integers.
func mustRules(s string) []ratelimit.Rule {
	rules, err := ratelimit.ParseRules(s)
	if err != nil {
		panic("tenants: bad built-in rate limit " + s + ": " + err.Error())
	}
	return rules
}

// defaultHallpassRateLimits is HALLPASS_RATE_LIMITS before overrides.
func defaultHallpassRateLimits() map[string][]ratelimit.Rule {
	out := map[string][]ratelimit.Rule{}
	for action, rate := range ratelimit.DefaultHallpassRates() {
		out[action] = mustRules(rate)
	}
	return out
}

// boundRules checks each rule against MaxRateLimitAmount and
// MaxRateLimitPeriod (a counter's size and Redis TTL); a stored document's
// rules are clamped to them instead.
func (p *parser) boundRules(key, action string, rules []ratelimit.Rule) ([]ratelimit.Rule, error) {
	for i, r := range rules {
		if r.Amount <= MaxRateLimitAmount && r.Period <= MaxRateLimitPeriod {
			continue
		}
		err := fmt.Errorf("%s: %q: the amount must be at most %d and the period at most a day, 1d (a rule's counters are kept in Redis for its period)",
			action, r, MaxRateLimitAmount)
		if !p.stored {
			return nil, err
		}
		rules = slices.Clone(rules)
		rules[i].Amount, rules[i].Period = min(r.Amount, MaxRateLimitAmount), min(r.Period, MaxRateLimitPeriod)
		p.clampTo(key, err, fmt.Sprintf("%q", rules[i]))
	}
	return rules, nil
}

// decodeRateLimits merges a rate-limits document (ACCOUNT_RATE_LIMITS,
// HALLPASS_RATE_LIMITS) over the defaults: false disables every limit (nil
// map); an action set to false, null or "" loses its limit. check says
// which actions and rules key accepts.
func (p *parser) decodeRateLimits(key string, v any, defaults map[string][]ratelimit.Rule, check func(string, []ratelimit.Rule) error) (map[string][]ratelimit.Rule, error) {
	if v == false {
		return nil, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, typeError("an object of action: rules, or false", v)
	}
	var errs []error
	for _, action := range sortedKeys(m) {
		var rules []ratelimit.Rule
		switch rv := m[action].(type) {
		case nil:
		case bool:
			if rv {
				errs = append(errs, fmt.Errorf("%s: must be a rule string such as \"10/m/ip\", or false", action))
				continue
			}
		case string:
			var err error
			if rules, err = ratelimit.ParseRules(rv); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", action, err))
				continue
			}
		default:
			errs = append(errs, fmt.Errorf("%s: must be a rule string such as \"10/m/ip\", or false, not %s", action, describeJSON(rv)))
			continue
		}
		if err := check(action, rules); err != nil {
			errs = append(errs, err)
			continue
		}
		var err error
		if rules, err = p.boundRules(key, action, rules); err != nil {
			errs = append(errs, err)
			continue
		}
		if len(rules) == 0 {
			delete(defaults, action)
		} else {
			defaults[action] = rules
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return defaults, nil
}
