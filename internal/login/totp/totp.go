// Package totp is the TOTP login method, a second factor.
package totp

import (
	"github.com/hallpass/hallpass/internal/login"
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
