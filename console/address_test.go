package console_test

import (
	"errors"
	"testing"

	"github.com/hallpass/hallpass/console"
)

// Console addresses are keyed as tenant users' are (issue 16): case
// variants are one console user, look-alikes under full case folding are
// others or refused, invalid UTF-8 is refused.
func TestConsoleEmailKey(t *testing.T) {
	for _, tc := range []struct{ in, display, key string }{
		{"Ann@STRASSE.de", "Ann@STRASSE.de", "ann@strasse.de"},
		{" ann@straße.de ", "ann@straße.de", "ann@xn--strae-oqa.de"},
		{"ANN@XN--STRAE-OQA.DE", "ANN@XN--STRAE-OQA.DE", "ann@xn--strae-oqa.de"},
		{"İpek@example.com", "İpek@example.com", "İpek@example.com"},
		{"admin@localhost", "admin@localhost", "admin@localhost"},
		{"ann@ſtrasse.de", "", ""},
		{"ann@ﬆrasse.de", "", ""},
		{"a\xffnn@example.com", "", ""},
		{"a\u202enn@example.com", "", ""},
	} {
		display, key, err := console.NormalizeEmail(tc.in)
		if tc.key == "" {
			if !errors.Is(err, console.ErrInvalidEmail) {
				t.Errorf("NormalizeEmail(%q) = %q, %q, %v; want ErrInvalidEmail", tc.in, display, key, err)
			}
			continue
		}
		if err != nil || display != tc.display || key != tc.key {
			t.Errorf("NormalizeEmail(%q) = %q, %q, %v; want %q, %q", tc.in, display, key, err, tc.display, tc.key)
		}
	}
}
