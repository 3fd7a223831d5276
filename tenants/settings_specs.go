package tenants

import (
	"errors"
	"fmt"
	"slices"
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
var settingSpecs = slices.Concat(
	hallpassSpecs,
	brandingSpecs,
	userDataSpecs,
	globalSpecs,
	headlessSpecs,
	legacyAccountSpecs,
	accountSpecs,
	mfaSpecs,
	socialAccountSpecs,
	userSessionsSpecs,
)

// HALLPASS_* extensions.
var hallpassSpecs = []settingSpec{
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
}

// Global (allauth/app_settings.py).
var globalSpecs = []settingSpec{
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
}

// HEADLESS_* (allauth/headless/app_settings.py).
var headlessSpecs = []settingSpec{
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
}

// Legacy ACCOUNT_* keys, before the settings derived from them.
var legacyAccountSpecs = []settingSpec{
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
}

// USERSESSIONS_* (allauth/usersessions/app_settings.py).
var userSessionsSpecs = []settingSpec{
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
	"HEADLESS_ADAPTER":                                      {`"allauth.headless.adapter.DefaultHeadlessAdapter"`, "custom adapters are Python code; declare fields in HALLPASS_USER_FIELDS and add keys to the user object with HALLPASS_USER_SERIALIZER (CEL expressions)"},
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
