package login

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/hallpass/hallpass/tenants"
)

// TestStagesInPipelineOrder: the registered methods declare allauth's
// stage order.
func TestStagesInPipelineOrder(t *testing.T) {
	want := []string{StageVerifyEmail, StageMFAAuthenticate, StageMFATrust, StageMFASignupWebAuthn}
	if got := Methods.Stages(); !slices.Equal(got, want) {
		t.Fatalf("stages = %v, want %v", got, want)
	}
}

// TestMethodIDsUnique: every registered method has its own id.
func TestMethodIDsUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range Methods {
		if seen[m.ID()] {
			t.Fatalf("method %q registered twice", m.ID())
		}
		seen[m.ID()] = true
	}
}

// TestFlowsOrderAndPending: flows come in allauth's order, a pending stage
// that is no flow goes before password_reset_by_code, and one that is a
// flow is merged into it.
func TestFlowsOrderAndPending(t *testing.T) {
	s := &tenants.Settings{SignupOpen: true, LoginByCodeEnabled: true, PasswordResetByCodeEnabled: true,
		Apps: []string{tenants.AppMFA}, MFAPasskeyLoginEnabled: true}
	v := View{Settings: s, Client: "browser", HasSession: true, ResetCodePending: func() bool { return true }}
	ids := func(fs []Flow) []any {
		var out []any
		for _, f := range fs {
			out = append(out, f["id"])
		}
		return out
	}
	got := Methods.Flows(v, Flow{"id": StageMFAAuthenticate, "is_pending": true})
	want := []any{FlowLogin, FlowLoginByCode, FlowSignup, FlowPasskeyLogin, StageMFAAuthenticate, FlowPasswordResetByCode}
	if !slices.Equal(ids(got), want) {
		t.Fatalf("flows = %v, want %v", ids(got), want)
	}
	got = Methods.Flows(v, Flow{"id": FlowLogin, "is_pending": true})
	b, _ := json.Marshal(got[0])
	if string(b) != `{"id":"login","is_pending":true}` || len(got) != 5 {
		t.Fatalf("merged pending = %s (%d flows)", b, len(got))
	}
}

// TestReauthenticationFlows: mfa_reauthenticate once, for TOTP or
// WebAuthn, not for recovery codes alone.
func TestReauthenticationFlows(t *testing.T) {
	s := &tenants.Settings{}
	for _, tc := range []struct {
		types []string
		want  int
	}{{nil, 1}, {[]string{"recovery_codes"}, 1}, {[]string{"totp", "recovery_codes"}, 2}, {[]string{"totp", "webauthn"}, 2}} {
		got := Methods.ReauthenticationFlows(ReauthView{Settings: s, UsablePassword: true, SecondFactors: tc.types})
		if len(got) != tc.want {
			t.Fatalf("types %v: %d flows, want %d: %v", tc.types, len(got), tc.want, got)
		}
	}
}
