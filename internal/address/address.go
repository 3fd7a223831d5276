// Package address defines how Hallpass compares email addresses and
// usernames: case-insensitively, but never so that two different addresses
// (or names) share a comparison key.
//
// Full Unicode case folding (golang.org/x/text/cases.Fold) is not safe for
// this: it maps ß to ss, ſ (long s) to s and ﬁ to fi, so victim@straße.de
// would find the account of victim@strasse.de, and a login code or reset
// link could be mailed to the look-alike's owner. The key here is built from
// three rules instead:
//
//  1. Only valid UTF-8 made of letters, marks, numbers, punctuation and
//     symbols: invalid bytes, U+FFFD, control and format characters
//     (including bidirectional overrides and zero-width characters),
//     separators, private-use and unassigned code points are refused. A
//     refused input has no key and so matches nothing; the stores refuse to
//     save it (allauth's invalid_email / invalid_username).
//  2. Unicode normalisation form C: canonically equivalent spellings (é as
//     one code point or as e + U+0301, U+212B ANGSTROM SIGN and Å, U+212A
//     KELVIN SIGN and K) are the same text, as RFC 6530/6532 recommend. NFC
//     maps those singletons onto their canonical letters before anything
//     else, so the KELVIN SIGN is the letter K from here on.
//  3. Lower-casing one code point at a time, and only along a 1:1 case pair:
//     r becomes unicode.ToLower(r) only when unicode.ToUpper of that is r
//     again. So A/a and Ä/ä pair, but U+0130 İ (whose lower case is the ASCII
//     i, whose upper case is I) stays İ, U+1E9E ẞ stays ẞ (ß has no simple
//     upper case), U+03F4 ϴ stays ϴ (θ's upper case is Θ), and titlecase
//     digraphs stay as they are. Nothing non-ASCII ever becomes ASCII, and
//     no two different code points lower to the same one.
//
// NFC is applied again after lowering (ϋ + U+0301 composes to ΰ where Ϋ +
// U+0301 has no precomposed form). Two keys are therefore equal only when
// the texts, canonically decomposed (NFD), differ by 1:1 case pairs alone. Email domains get one more rule: the domain is
// converted to its IDNA A-label form (UTS #46 non-transitional, the
// registration profile of golang.org/x/net/idna), so straße.de and
// xn--strae-oqa.de are one domain (and strasse.de another, as DNS sees
// it), while a domain that UTS #46 would rewrite beyond case (ſ, ﬁ,
// full-width letters, ignored code points) is refused: it has no key.
package address

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// ErrInvalid is returned for an address or username that has no key.
var ErrInvalid = errors.New("address: not a valid address")

// allowed are the categories of code points an address or username may
// hold: letters, marks, numbers, punctuation and symbols. Controls (Cc),
// formats (Cf), surrogates, private use, unassigned code points and
// separators are in none of them.
var allowed = []*unicode.RangeTable{unicode.L, unicode.M, unicode.N, unicode.P, unicode.S}

// ValidText reports whether s is valid UTF-8 made only of allowed code
// points (and not U+FFFD, which stands for bytes that were not UTF-8).
func ValidText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if r == utf8.RuneError || !unicode.In(r, allowed...) {
			return false
		}
	}
	return true
}

// lowerRune lower-cases r along a 1:1 case pair only (see the package
// comment): the result's upper case is r again, so no two code points
// share a lower case and no non-ASCII one becomes ASCII.
func lowerRune(r rune) rune {
	l := unicode.ToLower(r)
	if l == r || unicode.ToUpper(l) != r || (r >= utf8.RuneSelf) != (l >= utf8.RuneSelf) {
		return r
	}
	return l
}

// CaseKey is the case-insensitive form of text: NFC, then lowered along 1:1
// case pairs, then NFC again (lowering a letter could in principle let it
// compose with a following mark). It does not check the text; use it for
// search patterns and stored forms, and EmailKey or UsernameKey to compare.
func CaseKey(s string) string {
	s = norm.NFC.String(s)
	return norm.NFC.String(strings.Map(lowerRune, s))
}

// UsernameKey returns the comparison key of a username: CaseKey of a valid
// text. ſam and sam, ﬁn and fin are different usernames; Sam and sam are one.
func UsernameKey(username string) (string, error) {
	if username == "" || !ValidText(username) {
		return "", ErrInvalid
	}
	return CaseKey(username), nil
}

// domains checks and converts domains: the registration profile refuses
// code points UTS #46 would map (so only a domain already in its mapped
// form, after lower-casing, passes), decodes and re-checks A-labels (an
// A-label of something invalid, or of plain ASCII, is refused) and checks
// label and name lengths. Non-transitional: ß, ς, ZWJ and ZWNJ are kept.
var domains = idna.New(idna.ValidateForRegistration(), idna.Transitional(false))

// Domain returns the comparison key of a domain: its A-label (ASCII) form
// after CaseKey, or ErrInvalid. A domain literal ([192.0.2.1]) is its own
// key, lower-cased.
func Domain(domain string) (string, error) {
	if domain == "" || !ValidText(domain) {
		return "", ErrInvalid
	}
	if strings.HasPrefix(domain, "[") && strings.HasSuffix(domain, "]") {
		for i := 0; i < len(domain); i++ {
			if domain[i] >= utf8.RuneSelf {
				return "", ErrInvalid
			}
		}
		return strings.ToLower(domain), nil
	}
	a, err := domains.ToASCII(CaseKey(domain))
	if err != nil || a == "" {
		return "", ErrInvalid
	}
	return a, nil
}

// Split cuts an address at its last @ into a non-empty local part and a
// non-empty domain.
func Split(email string) (local, domain string, ok bool) {
	at := strings.LastIndexByte(email, '@')
	if at < 1 || at == len(email)-1 {
		return "", "", false
	}
	return email[:at], email[at+1:], true
}

// EmailKey returns the comparison key of an address: the local part's
// CaseKey, @, and the domain's A-label form (Domain). The address must be
// valid text with a local part and a domain that IDNA accepts unchanged but
// for case; otherwise ErrInvalid. The key is only for comparing: mail goes
// to the address as stored.
func EmailKey(email string) (string, error) {
	local, domain, ok := Split(email)
	if !ok || !ValidText(local) {
		return "", ErrInvalid
	}
	d, err := Domain(domain)
	if err != nil {
		return "", err
	}
	return CaseKey(local) + "@" + d, nil
}

// Stored is the form an address is stored in: the local part and the domain
// each CaseKey'd (NFC, lowered along 1:1 case pairs), the domain kept in the
// form it was given (a U-label stays Unicode, an A-label ASCII). It assumes
// EmailKey accepted the address.
func Stored(email string) string {
	local, domain, ok := Split(email)
	if !ok {
		return CaseKey(email)
	}
	return CaseKey(local) + "@" + CaseKey(domain)
}

// SameEmail reports whether two addresses are the same address: both valid
// and with one key. An invalid address is the same as none.
func SameEmail(a, b string) bool {
	ka, err := EmailKey(a)
	if err != nil {
		return false
	}
	kb, err := EmailKey(b)
	return err == nil && ka == kb
}
