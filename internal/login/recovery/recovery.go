// Package recovery is the recovery codes login method: single-use codes that
// stand in for the other second factors.
package recovery

import (
	"github.com/hallpass/hallpass/internal/login"
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
