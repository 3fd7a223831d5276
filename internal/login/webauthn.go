package login

import (
	"slices"

	"github.com/hallpass/hallpass/tenants"
)

// webAuthn is a security key or passkey: a second factor, a passwordless
// login (MFA_PASSKEY_LOGIN_ENABLED) and a passkey signup.
type webAuthn struct{}

func (webAuthn) ID() string { return MethodWebAuthn }

func (webAuthn) Flows(v View) []Flow {
	s := v.Settings
	if !slices.Contains(s.Apps, tenants.AppMFA) || !s.MFAPasskeyLoginEnabled {
		return nil
	}
	return []Flow{{"id": FlowPasskeyLogin}}
}

func (webAuthn) ReauthenticationFlows(v ReauthView) []Flow {
	return mfaReauthenticate(v, MethodWebAuthn)
}

func (webAuthn) Stages() []string {
	return []string{StageMFAAuthenticate, StageMFATrust, StageMFASignupWebAuthn}
}
