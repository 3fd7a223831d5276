// Package password is the password login method: login and signup with a
// password, and password reset by code.
package password

import (
	"github.com/hallpass/hallpass/internal/login"
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
