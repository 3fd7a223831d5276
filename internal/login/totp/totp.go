// Package totp is the TOTP login method, a second factor.
package totp

import (
	"net/http"

	"github.com/hallpass/hallpass/internal/login"
)

// Operations of the TOTP method's routes.
const (
	OpStatus     = "totp.status"
	OpActivate   = "totp.activate"
	OpDeactivate = "totp.deactivate"
)

// Method is a TOTP authenticator, a second factor.
type Method struct{}

// ID implements login.Method.
func (Method) ID() string { return login.MethodTOTP }

// Flows implements login.Method.
func (Method) Flows(login.View) []login.Flow { return nil }

// ReauthenticationFlows implements login.Method.
func (Method) ReauthenticationFlows(v login.ReauthView) []login.Flow {
	return login.MFAReauthenticate(v, login.MethodTOTP)
}

// Stages implements login.Method.
func (Method) Stages() []login.Stage { return []login.Stage{login.MFAAuthenticate, login.MFATrust} }

// Routes implements login.Method: the user's TOTP authenticator, when totp
// is in MFA_SUPPORTED_TYPES.
func (Method) Routes() []login.Route {
	rule := login.MFAType(login.MethodTOTP)
	const path = "/account/authenticators/totp"
	return []login.Route{
		{Method: http.MethodGet, Path: path, Rule: rule, Operation: OpStatus},
		{Method: http.MethodPost, Path: path, Rule: rule, Operation: OpActivate},
		{Method: http.MethodDelete, Path: path, Rule: rule, Operation: OpDeactivate},
	}
}
