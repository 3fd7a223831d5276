package tenants

import (
	"slices"

	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/internal/userdata"
)

// Settings are a tenant's effective settings: allauth 65.16.1's defaults with
// the tenant's overrides applied. Each field is one allauth setting (named in
// its comment) or a Hallpass extension (HALLPASS_*); legacy allauth keys are
// folded into the modern fields they replaced. Durations are in seconds, as
// in allauth. Treat a parsed value as read-only: it is shared by every request
// of the tenant.
type Settings struct {
	// Branding is the look of the hosted account pages (HALLPASS_BRANDING).
	Branding Branding

	// --- HEADLESS_* ---

	// Clients lists the enabled headless clients, "browser" and/or "app"
	// (HEADLESS_CLIENTS).
	Clients []string
	// FrontendURLs maps allauth's frontend URL names (account_confirm_email,
	// account_reset_password, account_reset_password_from_key, account_signup,
	// socialaccount_login_error) to URL templates (HEADLESS_FRONTEND_URLS).
	FrontendURLs map[string]string
	// HeadlessOnly drops allauth's server-rendered fallbacks, so mails and
	// error redirects must use FrontendURLs (HEADLESS_ONLY).
	HeadlessOnly bool
	// TokenStrategy is "session" or "jwt" (HEADLESS_TOKEN_STRATEGY; allauth's
	// dotted class paths are accepted and normalised).
	TokenStrategy string
	// ServeSpecification serves /_allauth/openapi.{yaml,json,html}
	// (HEADLESS_SERVE_SPECIFICATION).
	ServeSpecification bool
	// SpecificationTemplateName picks the HTML viewer of the specification:
	// "headless/spec/redoc_cdn.html" or "headless/spec/swagger_cdn.html"
	// (HEADLESS_SPECIFICATION_TEMPLATE_NAME).
	SpecificationTemplateName string
	// JWTAlgorithm signs JWTs: RS256/384/512, HS256/384/512, ES256 or EdDSA
	// (HEADLESS_JWT_ALGORITHM).
	JWTAlgorithm string
	// JWTPrivateKey is a PEM private key, or the shared secret for HS*; empty
	// means the platform manages the key (HEADLESS_JWT_PRIVATE_KEY). Secret.
	JWTPrivateKey string
	// JWTAccessTokenExpiresIn is the access-token lifetime in seconds
	// (HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN).
	JWTAccessTokenExpiresIn int
	// JWTRefreshTokenExpiresIn is the refresh-token lifetime in seconds
	// (HEADLESS_JWT_REFRESH_TOKEN_EXPIRES_IN).
	JWTRefreshTokenExpiresIn int
	// JWTAuthorizationHeaderScheme is the Authorization scheme of access
	// tokens, compared case-insensitively (HEADLESS_JWT_AUTHORIZATION_HEADER_SCHEME).
	JWTAuthorizationHeaderScheme string
	// JWTStatefulValidationEnabled makes every access-token check require a
	// live session (HEADLESS_JWT_STATEFUL_VALIDATION_ENABLED).
	JWTStatefulValidationEnabled bool
	// JWTRotateRefreshToken issues a new refresh token on every refresh and
	// spends the old one (HEADLESS_JWT_ROTATE_REFRESH_TOKEN).
	JWTRotateRefreshToken bool

	// --- global (ALLAUTH_*, *_ONLY) ---

	// SocialAccountOnly disables local accounts: no password login, signup or
	// codes, only third-party providers (SOCIALACCOUNT_ONLY).
	SocialAccountOnly bool
	// TrustedProxyCount is how many X-Forwarded-For hops are the platform's
	// own proxies (ALLAUTH_TRUSTED_PROXY_COUNT).
	TrustedProxyCount int
	// TrustedClientIPHeader names a header holding the client IP set by a
	// trusted proxy; "" = none (ALLAUTH_TRUSTED_CLIENT_IP_HEADER, None).
	TrustedClientIPHeader string
	// UserCodeFormat is the format of user-facing codes unless a flow sets
	// its own (ALLAUTH_USER_CODE_FORMAT).
	UserCodeFormat UserCodeFormat

	// --- ACCOUNT_*: login and signup ---

	// LoginMethods are the identifiers users log in with, in the order
	// given: "email", "username", "phone" (ACCOUNT_LOGIN_METHODS, or derived
	// from the legacy ACCOUNT_AUTHENTICATION_METHOD).
	LoginMethods []string
	// SignupFields are the signup inputs in order, e.g. email*, username*,
	// password1*, password2* (ACCOUNT_SIGNUP_FIELDS, or derived from the
	// legacy *_REQUIRED / *_ENTER_TWICE settings).
	SignupFields []SignupField
	// LoginTimeout is how long, in seconds, a login may take to get through
	// its stages (ACCOUNT_LOGIN_TIMEOUT).
	LoginTimeout int
	// PreventEnumeration hides whether an account exists
	// (ACCOUNT_PREVENT_ENUMERATION true or "strict").
	PreventEnumeration bool
	// PreventEnumerationStrict is allauth's "strict" mode: no account-exists
	// hints even where the plain mode allows them.
	PreventEnumerationStrict bool
	// SessionRemember controls "remember me": nil asks the user, true always
	// remembers, false never does (ACCOUNT_SESSION_REMEMBER).
	SessionRemember *bool
	// SignupFormHoneypotField names a hidden signup input that only bots
	// fill in; "" disables it (ACCOUNT_SIGNUP_FORM_HONEYPOT_FIELD).
	SignupFormHoneypotField string
	// ReauthenticationRequired asks for reauthentication before email, phone
	// and provider changes (ACCOUNT_REAUTHENTICATION_REQUIRED).
	ReauthenticationRequired bool
	// ReauthenticationTimeout is how long, in seconds, an authentication
	// counts as recent (ACCOUNT_REAUTHENTICATION_TIMEOUT).
	ReauthenticationTimeout int
	// DefaultHTTPProtocol is "http" or "https", for absolute links built
	// without a request (ACCOUNT_DEFAULT_HTTP_PROTOCOL).
	DefaultHTTPProtocol string

	// --- ACCOUNT_*: users, usernames, passwords ---

	// PasswordMinLength is the minimum password length in characters
	// (ACCOUNT_PASSWORD_MIN_LENGTH). Unlike allauth (default 6), it defaults
	// to and may not go below PasswordMinLengthFloor.
	PasswordMinLength int
	// UserModelUsernameField is "username", or "" for users without
	// usernames (ACCOUNT_USER_MODEL_USERNAME_FIELD, None).
	UserModelUsernameField string
	// UserModelEmailField is "email", or "" for users without an email
	// field (ACCOUNT_USER_MODEL_EMAIL_FIELD, None).
	UserModelEmailField string
	// UsernameMinLength is the minimum username length (ACCOUNT_USERNAME_MIN_LENGTH).
	UsernameMinLength int
	// UsernameBlacklist lists usernames nobody may take, compared
	// case-insensitively (ACCOUNT_USERNAME_BLACKLIST).
	UsernameBlacklist []string
	// PreserveUsernameCasing stores usernames as typed instead of lower-cased
	// (ACCOUNT_PRESERVE_USERNAME_CASING).
	PreserveUsernameCasing bool
	// LogoutOnPasswordChange ends the session after a password change
	// (ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE).
	LogoutOnPasswordChange bool

	// --- ACCOUNT_*: email addresses and verification ---

	// EmailVerification is "none", "optional" or "mandatory"
	// (ACCOUNT_EMAIL_VERIFICATION; legacy true/false mean mandatory/optional).
	EmailVerification string
	// EmailVerificationByCodeEnabled verifies with a code instead of a link
	// (ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED).
	EmailVerificationByCodeEnabled bool
	// EmailVerificationByCodeMaxAttempts (ACCOUNT_EMAIL_VERIFICATION_BY_CODE_MAX_ATTEMPTS).
	EmailVerificationByCodeMaxAttempts int
	// EmailVerificationByCodeTimeout is the code lifetime in seconds
	// (ACCOUNT_EMAIL_VERIFICATION_BY_CODE_TIMEOUT).
	EmailVerificationByCodeTimeout int
	// EmailVerificationByCodeFormat (ACCOUNT_EMAIL_VERIFICATION_BY_CODE_FORMAT).
	EmailVerificationByCodeFormat UserCodeFormat
	// EmailVerificationMaxResendCount is how many new codes a user may
	// request; 0 disables email/verify/resend (ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_RESEND:
	// false = 0, true = 2, or a count).
	EmailVerificationMaxResendCount int
	// EmailVerificationMaxChangeCount is how often the address may be
	// changed during verification (ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_CHANGE).
	EmailVerificationMaxChangeCount int
	// EmailConfirmationExpireDays is the verification-link lifetime
	// (ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS).
	EmailConfirmationExpireDays int
	// EmailConfirmationHMAC makes verification keys signed values rather
	// than stored random keys (ACCOUNT_EMAIL_CONFIRMATION_HMAC).
	EmailConfirmationHMAC bool
	// LoginOnEmailConfirmation logs in after link verification
	// (ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION).
	LoginOnEmailConfirmation bool
	// ChangeEmail makes adding an address replace the current one
	// (ACCOUNT_CHANGE_EMAIL).
	ChangeEmail bool
	// MaxEmailAddresses caps addresses per user; 0 = no cap
	// (ACCOUNT_MAX_EMAIL_ADDRESSES, None).
	MaxEmailAddresses int
	// UniqueEmail forbids two users sharing an address (ACCOUNT_UNIQUE_EMAIL).
	UniqueEmail bool
	// EmailMaxLength is the longest accepted address (ACCOUNT_EMAIL_MAX_LENGTH).
	EmailMaxLength int
	// EmailUnknownAccounts mails addresses without an account when a reset
	// or code is requested for them (ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS).
	EmailUnknownAccounts bool
	// EmailNotifications sends security notices, e.g. on password change
	// (ACCOUNT_EMAIL_NOTIFICATIONS).
	EmailNotifications bool
	// EmailSubjectPrefix prefixes mail subjects; nil = "[<site name>] "
	// (ACCOUNT_EMAIL_SUBJECT_PREFIX).
	EmailSubjectPrefix *string
	// Salt is the signing salt of HMAC verification keys (ACCOUNT_SALT).
	Salt string

	// --- ACCOUNT_*: codes and password reset ---

	// LoginByCodeEnabled enables passwordless login by code (ACCOUNT_LOGIN_BY_CODE_ENABLED).
	LoginByCodeEnabled bool
	// LoginByCodeRequiredAlways is ACCOUNT_LOGIN_BY_CODE_REQUIRED = True: every
	// login also needs a code.
	LoginByCodeRequiredAlways bool
	// LoginByCodeRequiredFor is ACCOUNT_LOGIN_BY_CODE_REQUIRED given as a set:
	// the authentication methods ("mfa", "password", "socialaccount"; sorted)
	// after which a code is also required. Empty unless set as a list.
	LoginByCodeRequiredFor []string
	// LoginByCodeMaxAttempts (ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS).
	LoginByCodeMaxAttempts int
	// LoginByCodeTimeout is the code lifetime in seconds (ACCOUNT_LOGIN_BY_CODE_TIMEOUT).
	LoginByCodeTimeout int
	// LoginByCodeMaxResendCount enables auth/code/resend when > 0
	// (ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND: false = 0, true = 2, or a count).
	LoginByCodeMaxResendCount int
	// LoginByCodeTrustEnabled offers "trust this browser" after a required
	// code (ACCOUNT_LOGIN_BY_CODE_TRUST_ENABLED).
	LoginByCodeTrustEnabled bool
	// LoginByCodeFormat (ACCOUNT_LOGIN_BY_CODE_FORMAT).
	LoginByCodeFormat UserCodeFormat
	// PasswordResetByCodeEnabled resets passwords with a code instead of a
	// link (ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED).
	PasswordResetByCodeEnabled bool
	// PasswordResetByCodeMaxAttempts (ACCOUNT_PASSWORD_RESET_BY_CODE_MAX_ATTEMPTS).
	PasswordResetByCodeMaxAttempts int
	// PasswordResetByCodeTimeout is the code lifetime in seconds
	// (ACCOUNT_PASSWORD_RESET_BY_CODE_TIMEOUT).
	PasswordResetByCodeTimeout int
	// PasswordResetByCodeFormat (ACCOUNT_PASSWORD_RESET_BY_CODE_CODE_FORMAT,
	// the name allauth's code reads; its docs say ..._BY_CODE_FORMAT).
	PasswordResetByCodeFormat UserCodeFormat
	// LoginOnPasswordReset logs in after a reset (ACCOUNT_LOGIN_ON_PASSWORD_RESET).
	LoginOnPasswordReset bool

	// --- ACCOUNT_*: phone ---

	// PhoneVerificationEnabled adds the verify_phone stage (ACCOUNT_PHONE_VERIFICATION_ENABLED).
	PhoneVerificationEnabled bool
	// PhoneVerificationMaxAttempts (ACCOUNT_PHONE_VERIFICATION_MAX_ATTEMPTS).
	PhoneVerificationMaxAttempts int
	// PhoneVerificationTimeout is the code lifetime in seconds
	// (ACCOUNT_PHONE_VERIFICATION_TIMEOUT).
	PhoneVerificationTimeout int
	// PhoneVerificationMaxResendCount (ACCOUNT_PHONE_VERIFICATION_SUPPORTS_RESEND).
	PhoneVerificationMaxResendCount int
	// PhoneVerificationMaxChangeCount (ACCOUNT_PHONE_VERIFICATION_SUPPORTS_CHANGE).
	PhoneVerificationMaxChangeCount int
	// PhoneVerificationCodeFormat (ACCOUNT_PHONE_VERIFICATION_CODE_FORMAT).
	PhoneVerificationCodeFormat UserCodeFormat

	// --- ACCOUNT_RATE_LIMITS ---

	// RateLimits maps each limited action to its rules (ACCOUNT_RATE_LIMITS
	// merged over allauth's defaults). An action set to false is absent; the
	// map is nil when ACCOUNT_RATE_LIMITS is false (no limits at all).
	RateLimits map[string][]ratelimit.Rule
	// HallpassRateLimits are Hallpass's own limits, in ACCOUNT_RATE_LIMITS's
	// format, on requests that store state for a client that is not logged
	// in, which allauth leaves unlimited: provider_redirect and
	// anonymous_session (HALLPASS_RATE_LIMITS, merged over
	// ratelimit.DefaultHallpassRates; nil when false).
	HallpassRateLimits map[string][]ratelimit.Rule

	// --- MFA_* ---

	// MFASupportedTypes are the enabled authenticator types, in order:
	// "recovery_codes", "totp", "webauthn" (MFA_SUPPORTED_TYPES).
	MFASupportedTypes []string
	// MFAPasskeyLoginEnabled enables passwordless passkey login (MFA_PASSKEY_LOGIN_ENABLED).
	MFAPasskeyLoginEnabled bool
	// MFAPasskeySignupEnabled enables signup with a passkey instead of a
	// password (MFA_PASSKEY_SIGNUP_ENABLED).
	MFAPasskeySignupEnabled bool
	// MFAAllowUnverifiedEmail lets users with an unverified address add
	// authenticators (MFA_ALLOW_UNVERIFIED_EMAIL).
	MFAAllowUnverifiedEmail bool
	// MFATOTPPeriod is the TOTP step in seconds (MFA_TOTP_PERIOD).
	MFATOTPPeriod int
	// MFATOTPDigits is the TOTP code length (MFA_TOTP_DIGITS).
	MFATOTPDigits int
	// MFATOTPTolerance is how many steps of clock drift are accepted (MFA_TOTP_TOLERANCE).
	MFATOTPTolerance int
	// MFATOTPIssuer names the issuer in TOTP URLs; "" = site name (MFA_TOTP_ISSUER).
	MFATOTPIssuer string
	// MFARecoveryCodeCount (MFA_RECOVERY_CODE_COUNT).
	MFARecoveryCodeCount int
	// MFARecoveryCodeDigits (MFA_RECOVERY_CODE_DIGITS).
	MFARecoveryCodeDigits int
	// MFARecoveryCodesShowOnce shows recovery codes only when generated
	// (MFA_RECOVERY_CODES_SHOW_ONCE).
	MFARecoveryCodesShowOnce bool
	// MFAWebAuthnAllowInsecureOrigin accepts http:// WebAuthn origins, for
	// development (MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN).
	MFAWebAuthnAllowInsecureOrigin bool
	// MFATrustEnabled offers "trust this browser" after 2FA (MFA_TRUST_ENABLED).
	MFATrustEnabled bool
	// MFATrustCookieAge is the trust cookie's lifetime in seconds
	// (MFA_TRUST_COOKIE_AGE; allauth's timedelta).
	MFATrustCookieAge int
	// MFATrustCookieName (MFA_TRUST_COOKIE_NAME).
	MFATrustCookieName string
	// MFATrustCookieDomain; "" = host-only (MFA_TRUST_COOKIE_DOMAIN, None).
	MFATrustCookieDomain string
	// MFATrustCookieHTTPOnly (MFA_TRUST_COOKIE_HTTPONLY).
	MFATrustCookieHTTPOnly bool
	// MFATrustCookiePath (MFA_TRUST_COOKIE_PATH).
	MFATrustCookiePath string
	// MFATrustCookieSameSite is "Lax", "Strict" or "None"; "" omits the
	// attribute (MFA_TRUST_COOKIE_SAMESITE, false).
	MFATrustCookieSameSite string
	// MFATrustCookieSecure (MFA_TRUST_COOKIE_SECURE).
	MFATrustCookieSecure bool

	// --- SOCIALACCOUNT_* ---

	// SocialAccountProviders configures providers by allauth provider id
	// (SOCIALACCOUNT_PROVIDERS).
	SocialAccountProviders map[string]ProviderSettings
	// SocialAccountAutoSignup signs up from provider data without a form
	// when possible (SOCIALACCOUNT_AUTO_SIGNUP).
	SocialAccountAutoSignup bool
	// SocialAccountEmailRequired requires an email at provider signup
	// (SOCIALACCOUNT_EMAIL_REQUIRED; default: email* in SignupFields).
	SocialAccountEmailRequired bool
	// SocialAccountQueryEmail asks providers for the email address
	// (SOCIALACCOUNT_QUERY_EMAIL; default: SocialAccountEmailRequired).
	SocialAccountQueryEmail bool
	// SocialAccountEmailVerification overrides EmailVerification for
	// provider signups; "" = use EmailVerification (SOCIALACCOUNT_EMAIL_VERIFICATION,
	// None; "none" by default when SocialAccountOnly).
	SocialAccountEmailVerification string
	// SocialAccountEmailAuthentication logs a provider login into the local
	// account with the same verified email (SOCIALACCOUNT_EMAIL_AUTHENTICATION).
	SocialAccountEmailAuthentication bool
	// SocialAccountEmailAuthenticationAutoConnect also connects that provider
	// account (SOCIALACCOUNT_EMAIL_AUTHENTICATION_AUTO_CONNECT).
	SocialAccountEmailAuthenticationAutoConnect bool
	// SocialAccountStoreTokens keeps provider tokens (SOCIALACCOUNT_STORE_TOKENS).
	SocialAccountStoreTokens bool
	// SocialAccountRequestsTimeout is the timeout, in seconds, of calls to
	// providers (SOCIALACCOUNT_REQUESTS_TIMEOUT).
	SocialAccountRequestsTimeout int
	// SocialAccountOpenIDConnectURLPrefix is the path prefix of OpenID
	// Connect callbacks (SOCIALACCOUNT_OPENID_CONNECT_URL_PREFIX).
	SocialAccountOpenIDConnectURLPrefix string

	// --- USERSESSIONS_* ---

	// UserSessionsTrackActivity records each session's last IP and time
	// (USERSESSIONS_TRACK_ACTIVITY).
	UserSessionsTrackActivity bool

	// --- HALLPASS_* ---

	// Apps are the optional allauth apps the tenant has "installed":
	// "socialaccount", "mfa", "usersessions" (HALLPASS_APPS).
	Apps []string
	// SignupOpen is the adapter's is_open_for_signup (HALLPASS_SIGNUP_OPEN).
	SignupOpen bool
	// CORSAllowedOrigins are the origins allowed to call the API from a
	// browser, normalised to scheme://host[:port] (HALLPASS_CORS_ALLOWED_ORIGINS).
	CORSAllowedOrigins []string
	// JWTAudience is put in and required of access tokens' aud; "" = none
	// (HALLPASS_JWT_AUDIENCE).
	JWTAudience string
	// UserFields are the tenant's declared profile fields (HALLPASS_USER_FIELDS).
	UserFields userdata.Fields
	// UserSerializer adds keys to allauth's user object
	// (HALLPASS_USER_SERIALIZER); compiled, never nil after parsing.
	UserSerializer *userdata.Exprs
	// JWTClaims adds claims to access tokens (HALLPASS_JWT_CLAIMS).
	JWTClaims *userdata.Exprs
	// WebAuthnRPID is the WebAuthn relying-party id; "" = derived from the
	// tenant's host (HALLPASS_WEBAUTHN_RP_ID).
	WebAuthnRPID string
	// WebAuthnOrigins are the origins WebAuthn ceremonies may come from
	// (HALLPASS_WEBAUTHN_ORIGINS).
	WebAuthnOrigins []string
	// EmailFrom is the From of tenant mail, "addr" or "Name <addr>"; "" =
	// platform default (HALLPASS_EMAIL_FROM).
	EmailFrom string
	// SessionCookieAge is the lifetime of remembered sessions in seconds, as
	// Django's SESSION_COOKIE_AGE (HALLPASS_SESSION_COOKIE_AGE).
	SessionCookieAge int
	// PasswordBreachCheck refuses new passwords found in known breaches,
	// asking Have I Been Pwned's range API by k-anonymity: only five hex
	// digits of the password's SHA-1 leave the platform. Unreachable, the
	// service is skipped (HALLPASS_PASSWORD_BREACH_CHECK).
	PasswordBreachCheck bool
}

// DefaultSettings returns allauth 65.16.1's defaults plus Hallpass's, as
// ParseSettings returns them for an empty document.
func DefaultSettings() *Settings {
	s, errs, _ := buildSettings(map[string]any{}, false)
	if len(errs) > 0 {
		// The defaults are a constant table; tests keep them valid.
		panic("tenants: invalid default settings: " + errs.Error())
	}
	return s
}

// ParseSettings applies a JSON object of overrides (allauth setting names as
// keys; a key left out keeps its default) and returns the effective
// settings. It reports every problem found, as a *SettingsError or, when
// there are several, SettingsErrors, and then returns no Settings.
func ParseSettings(doc []byte) (*Settings, error) {
	s, _, err := parseSettings(doc, false)
	return s, err
}

// parseStoredSettings is ParseSettings for a document read back from the
// database: a value beyond a bound introduced after it was written is
// clamped to the bound (a cookie setting reaching outside the tenant gets
// its default back) and reported in clamped, instead of failing the whole
// tenant. Every other problem still fails.
func parseStoredSettings(doc []byte) (s *Settings, clamped SettingsErrors, err error) {
	return parseSettings(doc, true)
}

func parseSettings(doc []byte, stored bool) (*Settings, SettingsErrors, error) {
	m, serr := decodeSettingsDocument(doc)
	if serr != nil {
		return nil, nil, serr
	}
	s, errs, clamped := buildSettings(m, stored)
	switch len(errs) {
	case 0:
		return s, clamped, nil
	case 1:
		return nil, nil, errs[0]
	default:
		return nil, nil, errs
	}
}

// Document returns the whole effective settings document: every setting
// under its allauth name, in allauth's JSON shape, defaults included and
// legacy keys left out. ParseSettings of its JSON yields equal Settings. It
// contains secrets in clear.
func (s *Settings) Document() map[string]any {
	out := make(map[string]any, len(settingSpecs))
	for _, sp := range settingSpecs {
		if sp.encode != nil {
			out[sp.key] = sp.encode(s)
		}
	}
	return out
}

// SettingKeys returns every setting key ParseSettings accepts, legacy ones
// included, sorted. (allauth keys that only name Python code or server-rendered
// pages are tolerated at their default value but not listed.)
func SettingKeys() []string {
	out := make([]string, 0, len(settingSpecs))
	for _, sp := range settingSpecs {
		out = append(out, sp.key)
	}
	slices.Sort(out)
	return out
}

// LegacySettingKeys returns the accepted legacy keys, sorted: allauth
// settings that were replaced and are folded into their successors.
func LegacySettingKeys() []string {
	var out []string
	for _, sp := range settingSpecs {
		if sp.encode == nil {
			out = append(out, sp.key)
		}
	}
	slices.Sort(out)
	return out
}
