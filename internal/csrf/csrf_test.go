package csrf

import (
	"strings"
	"testing"
)

// A masked token differs every time and stands for its secret; anything
// else does not.
func TestMaskAndMatch(t *testing.T) {
	secret := NewToken()
	if !Valid(secret) {
		t.Fatalf("NewToken %q is not valid", secret)
	}
	a, b := Mask(secret), Mask(secret)
	if a == b || len(a) != 2*TokenLength {
		t.Fatalf("masks %q %q", a, b)
	}
	for _, sent := range []string{secret, a, b} {
		if !Matches(secret, sent) {
			t.Errorf("Matches(%q, %q) = false", secret, sent)
		}
	}
	other := NewToken()
	for _, sent := range []string{"", other, Mask(other), strings.Repeat("a", 64), a[:63], a + "x", "<script>"} {
		if Matches(secret, sent) {
			t.Errorf("Matches(secret, %q) = true", sent)
		}
	}
	if Matches("", "") || Matches("short", "short") {
		t.Error("an invalid cookie matched")
	}
}
