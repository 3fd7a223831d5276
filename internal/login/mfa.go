package login

import "slices"

// MFAReauthenticate is the mfa_reauthenticate flow when the user has an
// authenticator of type typ, listing all the user's types.
func MFAReauthenticate(v ReauthView, typ string) []Flow {
	if !slices.Contains(v.SecondFactors, typ) {
		return nil
	}
	return []Flow{{"id": FlowMFAReauthenticate, "types": v.SecondFactors}}
}
