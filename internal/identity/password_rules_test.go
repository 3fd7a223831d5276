package identity

import (
	"github.com/hallpass/hallpass/internal/passwords"
	"strings"
	"testing"
)

// NIST SP 800-63B: at least 8 whatever the tenant asks, 64 and more
// accepted, any characters, a clear error past the maximum.
func TestValidatePasswordLengths(t *testing.T) {
	long := strings.Repeat("é", 4096)
	tests := []struct {
		name     string
		password string
		min      int
		codes    string
	}{
		{"7 with a tenant minimum of 6", "tqxmwzr", 6, "password_too_short"},
		{"8", "tqxmwzrk", 6, ""},
		{"7 under the console's 12", "tqxmwzr", 12, "password_too_short"},
		{"64 characters", strings.Repeat("horse ", 10) + "abcd", 8, ""},
		{"only spaces and symbols", "  !!  ?? ", 8, ""},
		{"4096 characters (8192 bytes)", long, 8, ""},
		{"4097 characters", long + "x", 8, "max_length"},
		{"minimum above the input", "tqxmwzrkvb", 64, "password_too_short"},
		{"common", "password123", 8, "password_too_common"},
	}
	for _, tc := range tests {
		var codes []string
		for _, e := range ValidatePassword("password", tc.password, tc.min) {
			codes = append(codes, e.Code)
			if e.Param != "password" || e.Message == "" {
				t.Errorf("%s: %+v", tc.name, e)
			}
		}
		if got := strings.Join(codes, ","); got != tc.codes {
			t.Errorf("%s: codes %q, want %q", tc.name, got, tc.codes)
		}
	}
	if errs := ValidatePassword("password", "abc", 0); len(errs) != 1 || !strings.Contains(errs[0].Message, "at least 8") {
		t.Fatalf("minimum 0 must still mean 8: %v", errs)
	}
	if errs := ValidatePassword("password", long+"x", 8); !strings.Contains(errs[0].Message, "at most 4096") {
		t.Fatalf("max_length message: %v", errs[0].Message)
	}
}

// The common-password rule ships a real list: tens of thousands of the most
// used passwords (those long enough to matter), found case-insensitively.
func TestCommonPasswordList(t *testing.T) {
	if n := passwords.CommonCount(); n < 10000 {
		t.Fatalf("only %d common passwords", n)
	}
	for _, p := range []string{"iloveyou1", "Password1", "QWERTYUIOP", "sunshine", "baseball1"} {
		errs := ValidatePassword("password", p, 8)
		if len(errs) == 0 || errs[0].Code != "password_too_common" {
			t.Errorf("%q: %v", p, errs)
		}
	}
	if errs := ValidatePassword("password", "violet kettle umbrella", 8); len(errs) != 0 {
		t.Errorf("an uncommon passphrase refused: %v", errs)
	}
}
