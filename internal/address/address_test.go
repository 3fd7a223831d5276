package address

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/unicode/norm"
)

func TestEmailKey(t *testing.T) {
	for _, tc := range []struct {
		in, key string // key "" means refused
	}{
		{"victim@strasse.de", "victim@strasse.de"},
		{"VICTIM@STRASSE.DE", "victim@strasse.de"},
		{"Victim@Strasse.De", "victim@strasse.de"},
		{"victim@straße.de", "victim@xn--strae-oqa.de"},
		{"victim@STRAßE.DE", "victim@xn--strae-oqa.de"},
		{"victim@xn--strae-oqa.de", "victim@xn--strae-oqa.de"},
		{"victim@XN--STRAE-OQA.DE", "victim@xn--strae-oqa.de"},
		{"straße@example.com", "straße@example.com"},
		{"STRAßE@example.com", "straße@example.com"},
		{"ſtrasse@example.com", "ſtrasse@example.com"}, // long s is a letter of its own
		{"ﬁn@example.com", "ﬁn@example.com"},
		{"İ@example.com", "İ@example.com"},          // no 1:1 lower case: kept
		{"\u212Aim@example.com", "kim@example.com"}, // KELVIN SIGN is K under NFC
		{"\u212Bsa@example.com", "åsa@example.com"}, // ANGSTROM SIGN is Å under NFC
		{"e\u0301@example.com", "é@example.com"},    // NFC
		{"ÉLÈVE@example.com", "élève@example.com"},
		{"ΣΟΦΙΑ@example.com", "σοφια@example.com"},
		{"ς@example.com", "ς@example.com"},
		{"ϴ@example.com", "ϴ@example.com"}, // θ's upper case is Θ: kept
		{"ẞ@example.com", "ẞ@example.com"}, // ß has no simple upper case: kept
		{"a@[192.0.2.1]", "a@[192.0.2.1]"},
		{"a@müller.example", "a@xn--mller-kva.example"},
		{"a@MÜLLER.example", "a@xn--mller-kva.example"},
		// Refused: UTS #46 would rewrite the domain beyond case.
		{"victim@ſtrasse.de", ""},
		{"victim@ﬆrasse.de", ""},
		{"victim@ｓtrasse.de", ""},
		{"victim@stra\u00adsse.de", ""}, // soft hyphen (ignored by UTS #46)
		{"a@İ.example", ""},
		{"a@ẞ.example", ""},
		{"a@xn--strasse-.de", ""}, // an A-label of plain ASCII
		{"a@xn--zz-zzzz.de", ""},  // not punycode of anything valid
		{"a@exa_mple.com", ""},    // not a host name
		{"a@" + strings.Repeat("x", 64) + ".de", ""},
		// Refused: not valid text.
		{"a\xffb@example.com", ""},
		{"a\ufffdb@example.com", ""},
		{"a\u0007b@example.com", ""},
		{"a\u202eb@example.com", ""}, // bidi override
		{"a\u200bb@example.com", ""}, // zero width space
		{"a b@example.com", ""},
		{"a\u00a0b@example.com", ""},
		{"a\ue000b@example.com", ""}, // private use
		{"a\U000E0001@example.com", ""},
		{"@example.com", ""},
		{"a@", ""},
		{"example.com", ""},
		{"", ""},
	} {
		key, err := EmailKey(tc.in)
		if tc.key == "" {
			if err == nil {
				t.Errorf("EmailKey(%q) = %q, want refused", tc.in, key)
			}
			continue
		}
		if err != nil || key != tc.key {
			t.Errorf("EmailKey(%q) = %q, %v; want %q", tc.in, key, err, tc.key)
		}
	}
}

func TestEmailKeyNeverMergesLookAlikes(t *testing.T) {
	base := "victim@strasse.de"
	for _, other := range []string{"victim@straße.de", "victim@xn--strae-oqa.de", "vıctim@strasse.de", "VİCTIM@strasse.de",
		"ѵictim@strasse.de"} {
		if SameEmail(base, other) {
			t.Errorf("%q and %q share a key", base, other)
		}
	}
	for _, same := range []string{"VICTIM@STRASSE.DE", "victim@Strasse.De"} {
		if !SameEmail(base, same) {
			t.Errorf("%q and %q differ", base, same)
		}
	}
	if SameEmail("a\xff@example.com", "a\xff@example.com") {
		t.Error("invalid addresses compare equal")
	}
}

func TestUsernameKey(t *testing.T) {
	for _, tc := range []struct{ in, key string }{
		{"sam", "sam"}, {"SAM", "sam"}, {"ſam", "ſam"}, {"ﬁn", "ﬁn"}, {"İsmail", "İsmail"}, {"ISMAIL", "ismail"},
		{"e\u0301mile", "émile"}, {"Straße", "straße"}, {"STRASSE", "strasse"},
		{"a\xffb", ""}, {"a\ufffdb", ""}, {"a\u200db", ""}, {"", ""}, {"a b", ""},
	} {
		key, err := UsernameKey(tc.in)
		if tc.key == "" {
			if err == nil {
				t.Errorf("UsernameKey(%q) = %q, want refused", tc.in, key)
			}
			continue
		}
		if err != nil || key != tc.key {
			t.Errorf("UsernameKey(%q) = %q, %v; want %q", tc.in, key, err, tc.key)
		}
	}
}

// TestLowerRuneIsInjective checks every code point: lowering never maps two
// code points onto one, never a non-ASCII one onto ASCII, and the result
// of lowering lowers to itself.
func TestLowerRuneIsInjective(t *testing.T) {
	seen := map[rune]rune{}
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if r >= 0xD800 && r <= 0xDFFF {
			continue
		}
		l := lowerRune(r)
		if prev, ok := seen[l]; ok && l != r {
			t.Fatalf("%U and %U both lower to %U", prev, r, l)
		}
		if l != r {
			seen[l] = r
			if r >= utf8.RuneSelf && l < utf8.RuneSelf {
				t.Fatalf("%U lowers to ASCII %U", r, l)
			}
			if lowerRune(l) != l {
				t.Fatalf("%U lowers to %U, which lowers again", r, l)
			}
		}
	}
	// And no code point that lowers to l is l itself with another meaning:
	// l is lower case already, so it maps to itself.
	for l, r := range seen {
		if lowerRune(l) != l {
			t.Fatalf("%U (the lower case of %U) is not its own lower case", l, r)
		}
	}
}

// caseVariant reports whether x and y are one code point up to a 1:1 case
// pair, defined independently of lowerRune: one is upper case and the
// other its simple lower case, and back.
func caseVariant(x, y rune) bool {
	if x == y {
		return true
	}
	pair := func(u, l rune) bool { return unicode.ToLower(u) == l && unicode.ToUpper(l) == u }
	return pair(x, y) || pair(y, x)
}

// sameButCase reports whether two texts differ by 1:1 case pairs alone, and
// never pair a non-ASCII code point with an ASCII one. Callers compare NFD
// forms: ΰ (U+03B0, no simple upper case) is υ with two marks, and Ϋ́ its
// upper case.
func sameButCase(a, b string) bool {
	ra, rb := []rune(a), []rune(b)
	if len(ra) != len(rb) {
		return false
	}
	for i := range ra {
		if !caseVariant(ra[i], rb[i]) || (ra[i] < utf8.RuneSelf) != (rb[i] < utf8.RuneSelf) {
			return false
		}
	}
	return true
}

// unicodeForm is an address NFC, with its domain lowered and in Unicode
// (U-labels): the text two keys are compared against.
func unicodeForm(t *testing.T, email string) string {
	local, domain, _ := Split(email)
	u, err := idna.Registration.ToUnicode(CaseKey(domain))
	if err != nil && !strings.HasPrefix(domain, "[") {
		t.Fatalf("%q has a key but its domain %q does not decode: %v", email, domain, err)
	}
	if strings.HasPrefix(domain, "[") {
		u = strings.ToLower(domain)
	}
	return norm.NFC.String(local) + "@" + u
}

// checkEmailKey checks the key's invariants on one address and the pairs
// it forms with others.
func checkEmailKey(t *testing.T, a string, others ...string) {
	ka, err := EmailKey(a)
	if err != nil {
		return
	}
	if !utf8.ValidString(ka) || !ValidText(ka) {
		t.Fatalf("EmailKey(%q) = %q: not valid text", a, ka)
	}
	if again, err := EmailKey(ka); err != nil || again != ka {
		t.Fatalf("EmailKey not idempotent: %q -> %q -> %q, %v", a, ka, again, err)
	}
	if s, err := EmailKey(Stored(a)); err != nil || s != ka {
		t.Fatalf("the stored form %q of %q keys to %q (%v), want %q", Stored(a), a, s, err, ka)
	}
	if !norm.NFC.IsNormalString(ka) {
		t.Fatalf("EmailKey(%q) = %q is not NFC", a, ka)
	}
	for _, b := range others {
		kb, err := EmailKey(b)
		if err != nil || kb != ka {
			continue
		}
		ua, ub := unicodeForm(t, a), unicodeForm(t, b)
		if !sameButCase(norm.NFD.String(ua), norm.NFD.String(ub)) {
			t.Fatalf("%q and %q share the key %q but differ beyond case (%q, %q)", a, b, ka, ua, ub)
		}
	}
}

// FuzzEmailKey checks EmailKey's invariants: a key is valid NFC text, the
// key of a key (and of the stored form) is the key itself, and two
// addresses share a key only when their NFD forms differ by 1:1 case pairs
// alone (the domain compared in Unicode form). Each input is also compared with its
// full case folding, upper and lower casing, NFD, NFKC and NFKD forms,
// where look-alikes come from.
func FuzzEmailKey(f *testing.F) {
	for _, s := range []string{"victim@strasse.de", "victim@straße.de", "victim@xn--strae-oqa.de", "ſam@ſtrasse.de", "ﬁ@ﬁ.example",
		"İ@example.com", "\u212Aim@example.com", "e\u0301@example.com", "ΣΟΦΙΑ@σοφια.gr", "ǅ@example.com", "ẞ@example.com",
		"a@[192.0.2.1]", "a\xff@example.com", "a@xn--mller-kva.example", "Ⅻ@example.com", "ｗ@example.com", "ϴ@θ.gr"} {
		f.Add(s, strings.ToUpper(s))
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		variants := []string{b, cases.Fold().String(a), strings.ToUpper(a), strings.ToLower(a), norm.NFD.String(a), norm.NFKC.String(a),
			norm.NFKD.String(a), cases.Upper(language.Und).String(a)}
		checkEmailKey(t, a, variants...)
		checkEmailKey(t, b, a)
	})
}

// FuzzUsernameKey checks UsernameKey's invariants: a key is valid NFC text
// and its own key, and two usernames share a key only when their NFD forms
// differ by 1:1 case pairs alone.
func FuzzUsernameKey(f *testing.F) {
	for _, s := range []string{"sam", "ſam", "ﬁn", "İsmail", "Straße", "ǅemal", "e\u0301mile", "\u212Aim", "a\xffb"} {
		f.Add(s, strings.ToUpper(s))
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ka, err := UsernameKey(a)
		if err != nil {
			return
		}
		if !ValidText(ka) || !norm.NFC.IsNormalString(ka) {
			t.Fatalf("UsernameKey(%q) = %q: not valid NFC text", a, ka)
		}
		if again, err := UsernameKey(ka); err != nil || again != ka {
			t.Fatalf("UsernameKey not idempotent: %q -> %q -> %q", a, ka, again)
		}
		for _, v := range []string{b, cases.Fold().String(a), strings.ToUpper(a), norm.NFKC.String(a), norm.NFD.String(a)} {
			if kv, err := UsernameKey(v); err == nil && kv == ka && !sameButCase(norm.NFD.String(a), norm.NFD.String(v)) {
				t.Fatalf("%q and %q share the key %q but differ beyond case", a, v, ka)
			}
		}
	})
}
