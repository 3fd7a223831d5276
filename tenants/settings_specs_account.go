package tenants

import (
	"fmt"
	"slices"
	"strings"

	"github.com/hallpass/hallpass/internal/ratelimit"
)

// ACCOUNT_* (allauth/account/app_settings.py).
var accountSpecs = []settingSpec{
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
}
