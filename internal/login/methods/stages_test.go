package methods

import (
	"context"
	"errors"
	"testing"

	"github.com/hallpass/hallpass/internal/login"
	"github.com/hallpass/hallpass/tenants"
)

// applies runs the registered pipeline's stage key on l.
func applies(t *testing.T, key string, l login.Pending) (bool, error) {
	t.Helper()
	for _, s := range All.Pipeline() {
		if s.Key == key {
			if s.Applies == nil {
				return false, nil
			}
			return s.Applies(context.Background(), l)
		}
	}
	t.Fatalf("stage %s not registered", key)
	return false, nil
}

// TestPipelineOneStagePerKey: a stage several methods declare (the second
// factors' mfa_authenticate) is in the pipeline once, in Stages' order.
func TestPipelineOneStagePerKey(t *testing.T) {
	p := All.Pipeline()
	keys := All.Stages()
	if len(p) != len(keys) {
		t.Fatalf("pipeline has %d stages, Stages %d", len(p), len(keys))
	}
	for i, s := range p {
		if s.Key != keys[i] {
			t.Fatalf("pipeline[%d] = %s, want %s", i, s.Key, keys[i])
		}
	}
}

// TestStagesApply: each stage applies exactly when the pipeline stopped at
// it before the stages moved behind the methods.
func TestStagesApply(t *testing.T) {
	trust := &tenants.Settings{MFATrustEnabled: true}
	need := func(context.Context) (bool, error) { return true, nil }
	noNeed := func(context.Context) (bool, error) { return false, nil }
	broken := errors.New("mfa store down")
	fails := func(context.Context) (bool, error) { return false, broken }
	asked := func(context.Context) (bool, error) { t.Fatal("second factor asked for"); return false, nil }
	for _, tc := range []struct {
		name, key string
		l         login.Pending
		want      bool
		err       error
	}{
		{"verify_email is entered elsewhere", login.StageVerifyEmail, login.Pending{Settings: trust, NeedsSecondFactor: asked}, false, nil},
		{"mfa when needed", login.StageMFAAuthenticate, login.Pending{Settings: trust, NeedsSecondFactor: need}, true, nil},
		{"no mfa when not needed", login.StageMFAAuthenticate, login.Pending{Settings: trust, NeedsSecondFactor: noNeed}, false, nil},
		{"mfa check fails", login.StageMFAAuthenticate, login.Pending{Settings: trust, NeedsSecondFactor: fails}, false, broken},
		{"no mfa after a passkey", login.StageMFAAuthenticate, login.Pending{Settings: trust, Passkey: true, NeedsSecondFactor: asked}, false, nil},
		{"no mfa after signup", login.StageMFAAuthenticate, login.Pending{Settings: trust, Signup: true, NeedsSecondFactor: asked}, false, nil},
		{"trust after mfa in a browser", login.StageMFATrust, login.Pending{Settings: trust, Client: "browser", MFADone: true}, true, nil},
		{"no trust for app", login.StageMFATrust, login.Pending{Settings: trust, Client: "app", MFADone: true}, false, nil},
		{"no trust without mfa", login.StageMFATrust, login.Pending{Settings: trust, Client: "browser"}, false, nil},
		{"no trust when disabled", login.StageMFATrust, login.Pending{Settings: &tenants.Settings{}, Client: "browser", MFADone: true}, false, nil},
		{"passkey signup waits", login.StageMFASignupWebAuthn, login.Pending{Settings: trust, PasskeySignup: true}, true, nil},
		{"no passkey signup", login.StageMFASignupWebAuthn, login.Pending{Settings: trust}, false, nil},
	} {
		got, err := applies(t, tc.key, tc.l)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("%s: applies = %v, %v; want %v, %v", tc.name, got, err, tc.want, tc.err)
		}
	}
}
