package methods

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/internal/login"
	"github.com/hallpass/hallpass/tenants"
)

// TestStagesInPipelineOrder: the registered methods declare allauth's
// stage order.
func TestStagesInPipelineOrder(t *testing.T) {
	want := []string{login.StageVerifyEmail, login.StageMFAAuthenticate, login.StageMFATrust, login.StageMFASignupWebAuthn}
	if got := All.Stages(); !slices.Equal(got, want) {
		t.Fatalf("stages = %v, want %v", got, want)
	}
}

// TestMethodIDsUnique: every registered method has its own id.
func TestMethodIDsUnique(t *testing.T) {
	seen := map[string]bool{}
	for _, m := range All {
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
	v := login.View{Settings: s, Client: "browser", HasSession: true, ResetCodePending: func() bool { return true }}
	ids := func(fs []login.Flow) []any {
		var out []any
		for _, f := range fs {
			out = append(out, f["id"])
		}
		return out
	}
	got := All.Flows(v, login.Flow{"id": login.StageMFAAuthenticate, "is_pending": true})
	want := []any{login.FlowLogin, login.FlowLoginByCode, login.FlowSignup, login.FlowPasskeyLogin, login.StageMFAAuthenticate, login.FlowPasswordResetByCode}
	if !slices.Equal(ids(got), want) {
		t.Fatalf("flows = %v, want %v", ids(got), want)
	}
	got = All.Flows(v, login.Flow{"id": login.FlowLogin, "is_pending": true})
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
		got := All.ReauthenticationFlows(login.ReauthView{Settings: s, UsablePassword: true, SecondFactors: tc.types})
		if len(got) != tc.want {
			t.Fatalf("types %v: %d flows, want %d: %v", tc.types, len(got), tc.want, got)
		}
	}
}

// TestRoutesDeclaredOnce: every registered route has its own method and
// path and its own operation, named after the method that declares it, a
// path below /_allauth/{client}/v1 and a rule.
func TestRoutesDeclaredOnce(t *testing.T) {
	paths, ops := map[string]bool{}, map[string]bool{}
	for _, m := range All {
		for _, r := range m.Routes() {
			key := r.Method + " " + r.Path
			if paths[key] || ops[r.Operation] {
				t.Errorf("%s (%s) declared twice", key, r.Operation)
			}
			paths[key], ops[r.Operation] = true, true
			if !strings.HasPrefix(r.Operation, m.ID()+".") || !strings.HasPrefix(r.Path, "/") || r.Rule.When == nil || r.Rule.Text == "" {
				t.Errorf("%s: %s %s (%s) is not well declared", m.ID(), r.Method, r.Path, r.Operation)
			}
		}
	}
	if got := len(All.Routes()); got != len(paths) || got == 0 {
		t.Errorf("Routes lists %d routes, the methods %d", got, len(paths))
	}
}
