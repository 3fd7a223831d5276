// Package recovery is the recovery codes login method: single-use codes that
// stand in for the other second factors.
package recovery

import (
	"net/http"

	"github.com/hallpass/hallpass/internal/login"
)

// Operations of the recovery codes method's routes.
const (
	OpList       = "recovery_codes.list"
	OpRegenerate = "recovery_codes.regenerate"
)

// Method is recovery codes: single-use codes that stand in for the other second
// factors; on their own they ask for no second factor.
type Method struct{}

// ID implements login.Method.
func (Method) ID() string { return login.MethodRecoveryCodes }

// Flows implements login.Method.
func (Method) Flows(login.View) []login.Flow { return nil }

// ReauthenticationFlows implements login.Method.
func (Method) ReauthenticationFlows(login.ReauthView) []login.Flow { return nil }

// Stages implements login.Method.
func (Method) Stages() []login.Stage { return []login.Stage{login.MFAAuthenticate} }

// Routes implements login.Method: the user's recovery codes, when
// recovery_codes is in MFA_SUPPORTED_TYPES.
func (Method) Routes() []login.Route {
	rule := login.MFAType(login.MethodRecoveryCodes)
	const path = "/account/authenticators/recovery-codes"
	return []login.Route{
		{Method: http.MethodGet, Path: path, Rule: rule, Operation: OpList},
		{Method: http.MethodPost, Path: path, Rule: rule, Operation: OpRegenerate},
	}
}
