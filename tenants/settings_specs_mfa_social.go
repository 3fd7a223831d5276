package tenants

import (
	"fmt"
	"slices"
)

// MFA_* (allauth/mfa/app_settings.py).
var mfaSpecs = []settingSpec{
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
}

// SOCIALACCOUNT_* (allauth/socialaccount/app_settings.py).
var socialAccountSpecs = []settingSpec{
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
}
