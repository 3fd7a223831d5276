// Package password is the password login method: login and signup with a
// password, and password reset by code.
package password

import (
	"net/http"

	"github.com/hallpass/hallpass/internal/login"
)

// Operations of the password method's routes.
const (
	OpLogin          = "password.login"
	OpSignup         = "password.signup"
	OpReauthenticate = "password.reauthenticate"
	OpRequestReset   = "password.request_reset"
	OpInspectReset   = "password.inspect_reset"
	OpReset          = "password.reset"
	OpChange         = "password.change"
)

// Method is login and signup with a password, and password reset by
// code (ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED).
type Method struct{}

// ID implements login.Method.
func (Method) ID() string { return login.MethodPassword }

// Flows implements login.Method.
func (Method) Flows(v login.View) []login.Flow {
	s := v.Settings
	if s.SocialAccountOnly {
		return nil
	}
	out := []login.Flow{{"id": login.FlowLogin}}
	if s.SignupOpen {
		out = append(out, login.Flow{"id": login.FlowSignup})
	}
	if s.PasswordResetByCodeEnabled {
		out = append(out, login.Flow{"id": login.FlowPasswordResetByCode,
			"is_pending": v.HasSession && v.ResetCodePending != nil && v.ResetCodePending()})
	}
	return out
}

// ReauthenticationFlows implements login.Method.
func (Method) ReauthenticationFlows(v login.ReauthView) []login.Flow {
	var out []login.Flow
	if v.UsablePassword {
		out = append(out, login.Flow{"id": login.FlowReauthenticate})
	}
	if !v.Settings.SocialAccountOnly && v.Settings.PasswordResetByCodeEnabled {
		out = append(out, login.Flow{"id": login.FlowPasswordResetByCode, "is_pending": v.ResetCodePending})
	}
	return out
}

// Stages implements login.Method.
func (Method) Stages() []login.Stage { return []login.Stage{login.VerifyEmail} }

// Routes implements login.Method: login, signup and the password's own
// endpoints, unless the tenant signs users in through providers only;
// reauthentication by password always.
func (Method) Routes() []login.Route {
	local := login.LocalAccounts
	return []login.Route{
		{Method: http.MethodPost, Path: "/auth/reauthenticate", Rule: login.Always, Operation: OpReauthenticate},
		{Method: http.MethodPost, Path: "/auth/login", Rule: local, Operation: OpLogin},
		{Method: http.MethodPost, Path: "/auth/signup", Rule: local, Operation: OpSignup},
		{Method: http.MethodPost, Path: "/auth/password/request", Rule: local, Operation: OpRequestReset},
		{Method: http.MethodGet, Path: "/auth/password/reset", Rule: local, Operation: OpInspectReset},
		{Method: http.MethodPost, Path: "/auth/password/reset", Rule: local, Operation: OpReset},
		{Method: http.MethodPost, Path: "/account/password/change", Rule: local, Operation: OpChange},
	}
}
