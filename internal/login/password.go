package login

// password is login and signup with a password, and password reset by
// code (ACCOUNT_PASSWORD_RESET_BY_CODE_ENABLED).
type password struct{}

func (password) ID() string { return MethodPassword }

func (password) Flows(v View) []Flow {
	s := v.Settings
	if s.SocialAccountOnly {
		return nil
	}
	out := []Flow{{"id": FlowLogin}}
	if s.SignupOpen {
		out = append(out, Flow{"id": FlowSignup})
	}
	if s.PasswordResetByCodeEnabled {
		out = append(out, Flow{"id": FlowPasswordResetByCode,
			"is_pending": v.HasSession && v.ResetCodePending != nil && v.ResetCodePending()})
	}
	return out
}

func (password) ReauthenticationFlows(v ReauthView) []Flow {
	var out []Flow
	if v.UsablePassword {
		out = append(out, Flow{"id": FlowReauthenticate})
	}
	if !v.Settings.SocialAccountOnly && v.Settings.PasswordResetByCodeEnabled {
		out = append(out, Flow{"id": FlowPasswordResetByCode, "is_pending": v.ResetCodePending})
	}
	return out
}

func (password) Stages() []string { return []string{StageVerifyEmail} }
