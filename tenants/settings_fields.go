package tenants

import (
	"slices"
)

// Password length bounds Hallpass keeps whatever a tenant sets, after NIST
// SP 800-63B §3.1.1.2: ACCOUNT_PASSWORD_MIN_LENGTH is never below
// PasswordMinLengthFloor, and passwords of up to PasswordMaxLength characters
// (far beyond the 64 NIST requires) are accepted.
const (
	PasswordMinLengthFloor = 8
	PasswordMaxLength      = 4096
)

// SignupField is one ACCOUNT_SIGNUP_FIELDS entry: "email*" is
// {Name: "email", Required: true}.
type SignupField struct {
	Name     string
	Required bool
}

// UserCodeFormat is how a user-facing code is generated (allauth's
// UserCodeFormat, with its defaults filled in).
type UserCodeFormat struct {
	// Numeric uses digits instead of BCDFGHJKLMNPQRSTVWXZ.
	Numeric bool
	// Dashed splits the code into dash-separated groups for readability.
	Dashed bool
	// Length counts the code's characters, dashes excluded.
	Length int
}

// ProviderSettings is one SOCIALACCOUNT_PROVIDERS entry in allauth's shape.
type ProviderSettings struct {
	// Apps are the provider's client registrations (APP or APPS).
	Apps []SocialApp
	// Scope replaces the provider's default scopes; nil = not set (SCOPE).
	Scope []string
	// AuthParams are extra authorization-request parameters (AUTH_PARAMS).
	AuthParams map[string]string
	// VerifiedEmail trusts the provider's email as verified; nil = not set
	// (VERIFIED_EMAIL).
	VerifiedEmail *bool
	// EmailAuthentication overrides SOCIALACCOUNT_EMAIL_AUTHENTICATION for
	// this provider; nil = not set (EMAIL_AUTHENTICATION).
	EmailAuthentication *bool
	// OAuthPKCEEnabled overrides the provider's PKCE default; nil = not set
	// (OAUTH_PKCE_ENABLED).
	OAuthPKCEEnabled *bool
	// Extra holds the other provider-level keys (FIELDS, METHOD, TENANT, ...)
	// as decoded JSON, for the provider implementations to read.
	Extra map[string]any
}

// SocialApp is one client registration of a provider (allauth's SocialApp).
type SocialApp struct {
	// ClientID is the OAuth client id (client_id).
	ClientID string
	// Secret is the client secret (secret). Secret.
	Secret string
	// Key is the provider-specific extra key, e.g. Apple's key id (key).
	Key string
	// Name is a display name (name).
	Name string
	// ProviderID distinguishes several apps of one provider and names
	// OpenID Connect apps in URLs (provider_id).
	ProviderID string
	// Settings are the app's provider-specific settings, e.g. server_url
	// (settings); nil = not given.
	Settings map[string]any
}

// Optional apps a tenant can enable in HALLPASS_APPS.
const (
	AppSocialAccount = "socialaccount"
	AppMFA           = "mfa"
	AppUserSessions  = "usersessions"
)

// Token strategies (HEADLESS_TOKEN_STRATEGY, normalised).
const (
	TokenStrategySession = "session"
	TokenStrategyJWT     = "jwt"
)

// Email verification modes (ACCOUNT_EMAIL_VERIFICATION).
const (
	EmailVerificationNone      = "none"
	EmailVerificationOptional  = "optional"
	EmailVerificationMandatory = "mandatory"
)

// HasApp reports whether app ("socialaccount", "mfa", "usersessions") is
// enabled in HALLPASS_APPS.
func (s *Settings) HasApp(app string) bool { return slices.Contains(s.Apps, app) }

// HasClient reports whether the headless client ("browser", "app") is enabled.
func (s *Settings) HasClient(client string) bool { return slices.Contains(s.Clients, client) }

// HasLoginMethod reports whether users can log in with method ("email",
// "username", "phone").
func (s *Settings) HasLoginMethod(method string) bool { return slices.Contains(s.LoginMethods, method) }

// SignupField returns the ACCOUNT_SIGNUP_FIELDS entry called name, if any.
func (s *Settings) SignupField(name string) (SignupField, bool) {
	for _, f := range s.SignupFields {
		if f.Name == name {
			return f, true
		}
	}
	return SignupField{}, false
}

// LoginCodeRequiredAfter reports whether a login that authenticated with
// method ("password", "mfa", "socialaccount"; "" when unknown) must also
// enter a login code, following allauth's adapter.is_login_by_code_required.
func (s *Settings) LoginCodeRequiredAfter(method string) bool {
	switch {
	case method == "code":
		return false
	case s.LoginByCodeRequiredAlways:
		return true
	case len(s.LoginByCodeRequiredFor) == 0:
		return false
	default:
		return method == "" || slices.Contains(s.LoginByCodeRequiredFor, method)
	}
}

// EffectiveSocialAccountEmailVerification is the email verification mode of
// provider signups.
func (s *Settings) EffectiveSocialAccountEmailVerification() string {
	if s.SocialAccountEmailVerification != "" {
		return s.SocialAccountEmailVerification
	}
	return s.EmailVerification
}
