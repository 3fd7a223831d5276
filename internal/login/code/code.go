// Package code is the login-by-code method: a code mailed to the user.
package code

import (
	"github.com/hallpass/hallpass/internal/login"
)

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
