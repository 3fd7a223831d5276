// Package webauthn is the WebAuthn login method: security keys, passkey login
// and passkey signup.
package webauthn

import (
	"context"
	"slices"

	"github.com/hallpass/hallpass/internal/login"
	"github.com/hallpass/hallpass/tenants"
)

// Method is a security key or passkey: a second factor, a passwordless
// login (MFA_PASSKEY_LOGIN_ENABLED) and a passkey signup.
type Method struct{}

// ID implements login.Method.
func (Method) ID() string { return login.MethodWebAuthn }

// Flows implements login.Method.
func (Method) Flows(v login.View) []login.Flow {
	s := v.Settings
	if !slices.Contains(s.Apps, tenants.AppMFA) || !s.MFAPasskeyLoginEnabled {
		return nil
	}
	return []login.Flow{{"id": login.FlowPasskeyLogin}}
}

// ReauthenticationFlows implements login.Method.
func (Method) ReauthenticationFlows(v login.ReauthView) []login.Flow {
	return login.MFAReauthenticate(v, login.MethodWebAuthn)
}

// Stages implements login.Method.
func (Method) Stages() []login.Stage {
	return []login.Stage{login.MFAAuthenticate, login.MFATrust, SignupStage}
}

// SignupStage is mfa_signup_webauthn, the last stage of a passkey signup:
// the new user registers the passkey that will be their only credential.
var SignupStage = login.Stage{Key: login.StageMFASignupWebAuthn, Applies: func(_ context.Context, l login.Pending) (bool, error) {
	return l.PasskeySignup, nil
}}
