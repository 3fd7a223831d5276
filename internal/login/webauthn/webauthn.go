// Package webauthn is the WebAuthn login method: security keys, passkey login
// and passkey signup.
package webauthn

import (
	"context"
	"net/http"
	"slices"

	"github.com/hallpass/hallpass/internal/login"
	"github.com/hallpass/hallpass/tenants"
)

// Operations of the WebAuthn method's routes.
const (
	OpCreationOptions       = "webauthn.creation_options"
	OpAdd                   = "webauthn.add"
	OpRename                = "webauthn.rename"
	OpDelete                = "webauthn.delete"
	OpAuthenticateOptions   = "webauthn.authenticate_options"
	OpAuthenticate          = "webauthn.authenticate"
	OpReauthenticateOptions = "webauthn.reauthenticate_options"
	OpReauthenticate        = "webauthn.reauthenticate"
	OpLoginOptions          = "webauthn.login_options"
	OpLogin                 = "webauthn.login"
	OpSignupOptions         = "webauthn.signup_options"
	OpSignupStart           = "webauthn.signup_start"
	OpSignupFinish          = "webauthn.signup_finish"
)

// Rules of the WebAuthn routes.
var (
	// keys: webauthn is in MFA_SUPPORTED_TYPES.
	keys = login.MFAType(login.MethodWebAuthn)
	// passkeyLogin: passkeys may log users in.
	passkeyLogin = login.Rule{Text: "webauthn and MFA_PASSKEY_LOGIN_ENABLED",
		When: func(s *tenants.Settings) bool { return keys.When(s) && s.MFAPasskeyLoginEnabled }}
	// passkeySignup: users may sign up with a passkey.
	passkeySignup = login.Rule{Text: "webauthn and MFA_PASSKEY_SIGNUP_ENABLED",
		When: func(s *tenants.Settings) bool { return keys.When(s) && s.MFAPasskeySignupEnabled }}
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

// Routes implements login.Method: the user's security keys and the
// WebAuthn second factor, with webauthn in MFA_SUPPORTED_TYPES; passkey
// login and passkey signup when enabled.
func (Method) Routes() []login.Route {
	const get, post, put, del = http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete
	const authenticators = "/account/authenticators/webauthn"
	return []login.Route{
		{Method: get, Path: authenticators, Rule: keys, Operation: OpCreationOptions},
		{Method: post, Path: authenticators, Rule: keys, Operation: OpAdd},
		{Method: put, Path: authenticators, Rule: keys, Operation: OpRename},
		{Method: del, Path: authenticators, Rule: keys, Operation: OpDelete},
		{Method: get, Path: "/auth/webauthn/authenticate", Rule: keys, Operation: OpAuthenticateOptions},
		{Method: post, Path: "/auth/webauthn/authenticate", Rule: keys, Operation: OpAuthenticate},
		{Method: get, Path: "/auth/webauthn/reauthenticate", Rule: keys, Operation: OpReauthenticateOptions},
		{Method: post, Path: "/auth/webauthn/reauthenticate", Rule: keys, Operation: OpReauthenticate},
		{Method: get, Path: "/auth/webauthn/login", Rule: passkeyLogin, Operation: OpLoginOptions},
		{Method: post, Path: "/auth/webauthn/login", Rule: passkeyLogin, Operation: OpLogin},
		{Method: get, Path: "/auth/webauthn/signup", Rule: passkeySignup, Operation: OpSignupOptions},
		{Method: post, Path: "/auth/webauthn/signup", Rule: passkeySignup, Operation: OpSignupStart},
		{Method: put, Path: "/auth/webauthn/signup", Rule: passkeySignup, Operation: OpSignupFinish},
	}
}
