package login

// code is login by a code mailed to the user (ACCOUNT_LOGIN_BY_CODE_ENABLED).
type code struct{}

func (code) ID() string { return MethodCode }

func (code) Flows(v View) []Flow {
	if !v.Settings.LoginByCodeEnabled {
		return nil
	}
	return []Flow{{"id": FlowLoginByCode}}
}

func (code) ReauthenticationFlows(ReauthView) []Flow { return nil }

func (code) Stages() []string { return []string{StageVerifyEmail} }
