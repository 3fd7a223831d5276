// Package code is the login-by-code method: a code mailed to the user.
package code

import (
	"net/http"

	"github.com/hallpass/hallpass/internal/login"
	"github.com/hallpass/hallpass/tenants"
)

// Operations of the login-by-code method's routes.
const (
	OpRequest = "code.request"
	OpResend  = "code.resend"
	OpConfirm = "code.confirm"
)

// enabled is the rule of the endpoints that request a code.
var enabled = login.Rule{Text: "ACCOUNT_LOGIN_BY_CODE_ENABLED", When: func(s *tenants.Settings) bool { return s.LoginByCodeEnabled }}

// Method is login by a code mailed to the user (ACCOUNT_LOGIN_BY_CODE_ENABLED).
type Method struct{}

// ID implements login.Method.
func (Method) ID() string { return login.MethodCode }

// Flows implements login.Method.
func (Method) Flows(v login.View) []login.Flow {
	if !v.Settings.LoginByCodeEnabled {
		return nil
	}
	return []login.Flow{{"id": login.FlowLoginByCode}}
}

// ReauthenticationFlows implements login.Method.
func (Method) ReauthenticationFlows(login.ReauthView) []login.Flow { return nil }

// Stages implements login.Method.
func (Method) Stages() []login.Stage { return []login.Stage{login.VerifyEmail} }

// Routes implements login.Method: a code is requested and resent under
// ACCOUNT_LOGIN_BY_CODE_ENABLED; it is confirmed always, as the confirm
// endpoint also serves ACCOUNT_LOGIN_BY_CODE_REQUIRED after a password.
func (Method) Routes() []login.Route {
	return []login.Route{
		{Method: http.MethodPost, Path: "/auth/code/request", Rule: enabled, Operation: OpRequest},
		{Method: http.MethodPost, Path: "/auth/code/resend", Rule: enabled, Operation: OpResend},
		{Method: http.MethodPost, Path: "/auth/code/confirm", Operation: OpConfirm,
			Rule: login.Rule{Text: "always (it also serves ACCOUNT_LOGIN_BY_CODE_REQUIRED)", When: login.Always.When}},
	}
}
