package base

import (
	"slices"

	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/tenants"
)

// accountConfig is allauth's config "account" object.
type accountConfig struct {
	LoginMethods                   []string `json:"login_methods"`
	IsOpenForSignup                bool     `json:"is_open_for_signup"`
	EmailVerificationByCodeEnabled bool     `json:"email_verification_by_code_enabled"`
	LoginByCodeEnabled             bool     `json:"login_by_code_enabled"`
	PasswordResetByCodeEnabled     bool     `json:"password_reset_by_code_enabled"`
	// AuthenticationMethod is allauth's legacy field, absent for phone-only login.
	AuthenticationMethod string `json:"authentication_method,omitempty"`
}

type mfaConfig struct {
	SupportedTypes      []string `json:"supported_types"`
	PasskeyLoginEnabled bool     `json:"passkey_login_enabled"`
}

type socialConfig struct {
	Providers []providers.Data `json:"providers"`
}

type usersessionsConfig struct {
	TrackActivity bool `json:"track_activity"`
}

type configResponse struct {
	Account       accountConfig       `json:"account"`
	SocialAccount *socialConfig       `json:"socialaccount,omitempty"`
	MFA           *mfaConfig          `json:"mfa,omitempty"`
	UserSessions  *usersessionsConfig `json:"usersessions,omitempty"`
}

func configData(s *tenants.Settings, client string) configResponse {
	out := configResponse{Account: accountConfig{
		LoginMethods:                   nonNil(s.LoginMethods),
		IsOpenForSignup:                s.SignupOpen,
		EmailVerificationByCodeEnabled: s.EmailVerificationByCodeEnabled,
		LoginByCodeEnabled:             s.LoginByCodeEnabled,
		PasswordResetByCodeEnabled:     s.PasswordResetByCodeEnabled,
		AuthenticationMethod:           legacyAuthenticationMethod(s.LoginMethods),
	}}
	if slices.Contains(s.Apps, "socialaccount") {
		out.SocialAccount = &socialConfig{Providers: providers.ForClient(s.ProviderApps(), client)}
	}
	if slices.Contains(s.Apps, "mfa") {
		out.MFA = &mfaConfig{SupportedTypes: nonNil(s.MFASupportedTypes), PasskeyLoginEnabled: s.MFAPasskeyLoginEnabled}
	}
	if slices.Contains(s.Apps, "usersessions") {
		out.UserSessions = &usersessionsConfig{TrackActivity: s.UserSessionsTrackActivity}
	}
	return out
}

// legacyAuthenticationMethod derives allauth's backwards-compatible field.
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

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
