package tenants

import (
	"fmt"
	"strings"
	"time"
)

// Ceilings of the tenant-set lifetimes, timeouts and counts. Every tenant
// shares one Redis (run with noeviction) and one Postgres, and these values
// become Redis TTLs (a pending login or code lives in Redis for
// ACCOUNT_LOGIN_TIMEOUT), rate-limit windows, or the size of stored state;
// without a ceiling one tenant could keep every anonymous flow it is sent for
// years. Each bound is far above allauth's default, so that no sensible
// configuration meets it; the defaults stay valid.
const (
	// MaxLoginTimeout bounds ACCOUNT_LOGIN_TIMEOUT (allauth: 900 s), the
	// Redis TTL of a pending login and of every anonymous session.
	MaxLoginTimeout = 3600
	// MaxCodeTimeout bounds the lifetimes of one-time codes (login,
	// password reset, email and phone verification; allauth: 180-900 s).
	MaxCodeTimeout = 3600
	// MaxReauthenticationTimeout bounds ACCOUNT_REAUTHENTICATION_TIMEOUT
	// (allauth: 300 s): a day.
	MaxReauthenticationTimeout = 86400
	// MaxEmailConfirmationDays bounds ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS
	// (allauth: 3).
	MaxEmailConfirmationDays = 30
	// MaxCodeAttempts bounds the *_MAX_ATTEMPTS of one-time codes (allauth:
	// 3): more would make a short code guessable.
	MaxCodeAttempts = 10
	// MaxResendCount bounds *_SUPPORTS_RESEND and *_SUPPORTS_CHANGE given as
	// counts (allauth: true = 2).
	MaxResendCount = 10
	// MaxEmailAddresses bounds ACCOUNT_MAX_EMAIL_ADDRESSES (allauth: no limit).
	MaxEmailAddresses = 100
	// MaxAccessTokenLifetime bounds HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN
	// (allauth: 300 s): a day, since an access token cannot be revoked.
	MaxAccessTokenLifetime = 86400
	// MaxSessionLifetime bounds the long-lived credentials (session cookie
	// age, refresh tokens, the MFA trust cookie; allauth: 1-14 days): a year.
	MaxSessionLifetime = 365 * 86400
	// MaxTOTPPeriod bounds MFA_TOTP_PERIOD (allauth: 30 s).
	MaxTOTPPeriod = 300
	// MaxTOTPTolerance bounds MFA_TOTP_TOLERANCE (allauth: 0 steps).
	MaxTOTPTolerance = 10
	// MaxRecoveryCodeCount bounds MFA_RECOVERY_CODE_COUNT (allauth: 10).
	MaxRecoveryCodeCount = 100
	// MaxRecoveryCodeDigits bounds MFA_RECOVERY_CODE_DIGITS (allauth: 8).
	MaxRecoveryCodeDigits = 32
	// MaxProviderTimeout bounds SOCIALACCOUNT_REQUESTS_TIMEOUT (allauth: 5 s):
	// a request waits for the provider at most this long.
	MaxProviderTimeout = 60
	// MaxRateLimitAmount bounds the amount of a rate-limit rule (allauth's
	// largest default: 30): a counter keeps one timestamp per allowed hit.
	MaxRateLimitAmount = 1000
	// MaxRateLimitPeriod bounds the period of a rate-limit rule (allauth's
	// longest default: 300 s), which is its counters' Redis TTL.
	MaxRateLimitPeriod = 24 * time.Hour
)

// settingBounds maps each bounded integer setting to its ceiling and the
// reason given when it is exceeded.
var settingBounds = map[string]struct {
	max int
	why string
}{
	"ACCOUNT_LOGIN_TIMEOUT":                           {MaxLoginTimeout, "seconds: a pending login is kept in Redis that long"},
	"ACCOUNT_LOGIN_BY_CODE_TIMEOUT":                   {MaxCodeTimeout, "seconds"},
	"ACCOUNT_PASSWORD_RESET_BY_CODE_TIMEOUT":          {MaxCodeTimeout, "seconds"},
	"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_TIMEOUT":      {MaxCodeTimeout, "seconds"},
	"ACCOUNT_PHONE_VERIFICATION_TIMEOUT":              {MaxCodeTimeout, "seconds"},
	"ACCOUNT_REAUTHENTICATION_TIMEOUT":                {MaxReauthenticationTimeout, "seconds (a day)"},
	"ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS":          {MaxEmailConfirmationDays, "days"},
	"EMAIL_CONFIRMATION_DAYS":                         {MaxEmailConfirmationDays, "days"},
	"ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS":              {MaxCodeAttempts, "attempts: more make a code guessable"},
	"ACCOUNT_PASSWORD_RESET_BY_CODE_MAX_ATTEMPTS":     {MaxCodeAttempts, "attempts: more make a code guessable"},
	"ACCOUNT_EMAIL_VERIFICATION_BY_CODE_MAX_ATTEMPTS": {MaxCodeAttempts, "attempts: more make a code guessable"},
	"ACCOUNT_PHONE_VERIFICATION_MAX_ATTEMPTS":         {MaxCodeAttempts, "attempts: more make a code guessable"},
	"ACCOUNT_LOGIN_BY_CODE_SUPPORTS_RESEND":           {MaxResendCount, ""},
	"ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_RESEND":      {MaxResendCount, ""},
	"ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_CHANGE":      {MaxResendCount, ""},
	"ACCOUNT_PHONE_VERIFICATION_SUPPORTS_RESEND":      {MaxResendCount, ""},
	"ACCOUNT_PHONE_VERIFICATION_SUPPORTS_CHANGE":      {MaxResendCount, ""},
	"ACCOUNT_MAX_EMAIL_ADDRESSES":                     {MaxEmailAddresses, "addresses"},
	"HEADLESS_JWT_ACCESS_TOKEN_EXPIRES_IN":            {MaxAccessTokenLifetime, "seconds (a day): an access token cannot be revoked"},
	"HEADLESS_JWT_REFRESH_TOKEN_EXPIRES_IN":           {MaxSessionLifetime, "seconds (a year)"},
	"HALLPASS_SESSION_COOKIE_AGE":                     {MaxSessionLifetime, "seconds (a year)"},
	"ACCOUNT_SESSION_COOKIE_AGE":                      {MaxSessionLifetime, "seconds (a year)"},
	"MFA_TRUST_COOKIE_AGE":                            {MaxSessionLifetime, "seconds (a year)"},
	"MFA_TOTP_PERIOD":                                 {MaxTOTPPeriod, "seconds"},
	"MFA_TOTP_TOLERANCE":                              {MaxTOTPTolerance, "periods"},
	"MFA_RECOVERY_CODE_COUNT":                         {MaxRecoveryCodeCount, "codes"},
	"MFA_RECOVERY_CODE_DIGITS":                        {MaxRecoveryCodeDigits, "digits"},
	"SOCIALACCOUNT_REQUESTS_TIMEOUT":                  {MaxProviderTimeout, "seconds"},
	"ACCOUNT_LOGIN_ATTEMPTS_LIMIT":                    {MaxRateLimitAmount, "attempts"},
	"ACCOUNT_LOGIN_ATTEMPTS_TIMEOUT":                  {int(MaxRateLimitPeriod / time.Second), "seconds (a day): it is a rate-limit window, kept in Redis"},
	"ACCOUNT_EMAIL_CONFIRMATION_COOLDOWN":             {int(MaxRateLimitPeriod / time.Second), "seconds (a day): it is a rate-limit window, kept in Redis"},
}

// SettingBounds returns the ceiling of every bounded integer setting, by
// key (rate-limit rules are bounded by MaxRateLimitAmount and
// MaxRateLimitPeriod).
func SettingBounds() map[string]int {
	out := make(map[string]int, len(settingBounds))
	for k, b := range settingBounds {
		out[k] = b.max
	}
	return out
}

// bounded checks n against key's ceiling. Beyond it, a document being
// written is refused; a stored one (written before the ceiling existed) is
// clamped to it, and the clamp recorded, so that the tenant keeps working on
// the nearest safe value rather than going down with settings that no longer
// parse.
func (p *parser) bounded(key string, n int) (int, error) {
	b, ok := settingBounds[key]
	if !ok || n <= b.max {
		return n, nil
	}
	unit := ""
	if b.why != "" {
		unit = " " + b.why
	}
	err := fmt.Errorf("must be at most %d, not %d%s", b.max, n, unit)
	if p.stored {
		p.clampTo(key, err, fmt.Sprint(b.max))
		return b.max, nil
	}
	return 0, err
}

// clampTo records that a stored value was replaced by a safe one.
func (p *parser) clampTo(key string, err error, safe string) {
	p.clamped = append(p.clamped, &SettingsError{Key: key, Reason: err.Error() + "; using " + safe})
}

// platformCookieNames are the cookies the platform and every tenant's
// headless API set: a tenant's trust cookie must never overwrite them.
var platformCookieNames = []string{"sessionid", "csrftoken"}

// platformCookiePrefix is the console's (hp_console, hp_console_login,
// hp_console_mfa) and reserved for the platform's future cookies.
const platformCookiePrefix = "hp_"

// DefaultTrustCookieName is allauth's MFA_TRUST_COOKIE_NAME.
const DefaultTrustCookieName = "mfa_trusted"

// checkTrustCookieName refuses names the platform uses and the __Host-
// prefix (which requires Path=/, that is, every path-addressed tenant's
// host). Browsers compare names byte for byte but prefixes case-insensitively;
// the platform's names are refused in any case so that no server-side
// parser that folds case can be confused.
func checkTrustCookieName(s string) (string, error) {
	if _, err := checkToken(s); err != nil {
		return "", err
	}
	lower := strings.ToLower(s)
	for _, n := range platformCookieNames {
		if lower == n {
			return "", fmt.Errorf("%q is the headless API's own cookie", s)
		}
	}
	if strings.HasPrefix(lower, platformCookiePrefix) {
		return "", fmt.Errorf("%q: names starting with %q are the platform's", s, platformCookiePrefix)
	}
	if strings.HasPrefix(lower, "__host-") {
		return "", fmt.Errorf("%q: a __Host- cookie must have Path=/, which would reach every tenant served under /t/", s)
	}
	return s, nil
}

// secureOnlyName reports whether a cookie name demands the Secure flag.
func secureOnlyName(s string) bool { return strings.HasPrefix(strings.ToLower(s), "__secure-") }

// checkTrustCookieDomain allows only host-only cookies: the trust cookie is
// read by the tenant's own API, on its own host, and a Domain attribute can
// only name that host's parents (the base domain, a customer's apex), which
// other tenants' hosts share.
func checkTrustCookieDomain(s string) (string, error) {
	if s != "" {
		return "", fmt.Errorf("%q: must be null; the trust cookie is host-only (set for the tenant's own host), and a Domain would share it with other hosts, other tenants' among them", s)
	}
	return s, nil
}

// checkTrustCookiePath accepts a clean absolute path, taken relative to the
// tenant's base (see TrustCookiePath); the platform's own paths (/console,
// the /t/ prefix) are refused outright, since they read as an attempt to
// reach them.
func checkTrustCookiePath(s string) (string, error) {
	if _, err := checkCookiePath(s); err != nil {
		return "", err
	}
	for _, seg := range strings.Split(strings.TrimPrefix(s, "/"), "/") {
		if seg == "." || seg == ".." || strings.ContainsAny(seg, "%\\") {
			return "", fmt.Errorf("%q must not contain dot segments, %% escapes or backslashes", s)
		}
	}
	if strings.Contains(s, "//") {
		return "", fmt.Errorf("%q must not contain empty segments", s)
	}
	lower := strings.ToLower(s)
	for _, p := range []string{"/console", "/t"} {
		if lower == p || strings.HasPrefix(lower, p+"/") {
			return "", fmt.Errorf("%q is the platform's (the trust cookie's path is within the tenant's base)", s)
		}
	}
	return s, nil
}

// TrustCookieName is the name the MFA trust cookie is set and read under:
// MFA_TRUST_COOKIE_NAME, or allauth's default if the stored name is one
// the platform uses (settings refuse such names; this holds for any value
// that reached the struct some other way).
func (s *Settings) TrustCookieName() string {
	if _, err := checkTrustCookieName(s.MFATrustCookieName); err != nil || (secureOnlyName(s.MFATrustCookieName) && !s.MFATrustCookieSecure) {
		return DefaultTrustCookieName
	}
	return s.MFATrustCookieName
}

// TrustCookiePath is the trust cookie's path for a request that reached the
// tenant under base ("/" by Host, "/t/{slug}/" by prefix): MFA_TRUST_COOKIE_PATH
// taken relative to base, so the cookie never leaves the tenant; a path that
// does not pass the settings check is the base itself.
func (s *Settings) TrustCookiePath(base string) string {
	base = strings.TrimSuffix(base, "/")
	if _, err := checkTrustCookiePath(s.MFATrustCookiePath); err != nil {
		return base + "/"
	}
	return base + s.MFATrustCookiePath
}
