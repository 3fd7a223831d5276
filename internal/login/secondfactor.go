package login

import "slices"

// totp is a TOTP authenticator, a second factor.
type totp struct{}

func (totp) ID() string { return MethodTOTP }

func (totp) Flows(View) []Flow { return nil }

func (totp) ReauthenticationFlows(v ReauthView) []Flow { return mfaReauthenticate(v, MethodTOTP) }

func (totp) Stages() []string { return []string{StageMFAAuthenticate, StageMFATrust} }

// recoveryCodes are single-use codes that stand in for the other second
// factors; on their own they ask for no second factor.
type recoveryCodes struct{}

func (recoveryCodes) ID() string { return MethodRecoveryCodes }

func (recoveryCodes) Flows(View) []Flow { return nil }

func (recoveryCodes) ReauthenticationFlows(ReauthView) []Flow { return nil }

func (recoveryCodes) Stages() []string { return []string{StageMFAAuthenticate} }

// mfaReauthenticate is the mfa_reauthenticate flow when the user has an
// authenticator of type typ, listing all the user's types.
func mfaReauthenticate(v ReauthView, typ string) []Flow {
	if !slices.Contains(v.SecondFactors, typ) {
		return nil
	}
	return []Flow{{"id": FlowMFAReauthenticate, "types": v.SecondFactors}}
}
