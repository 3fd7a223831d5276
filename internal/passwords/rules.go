package passwords

import (
	_ "embed"
	"strings"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn/frequency"

	"github.com/hallpass/hallpass/tenants"
)

//go:embed common_passwords.txt
var commonPasswordsText string

// commonPasswords are passwords attackers try first, lower-cased: our own
// list (common_passwords.txt) and zxcvbn's 30,000 most common passwords
// (github.com/trustelem/zxcvbn, MIT), shipped in the binary. Entries
// shorter than the length floor are left out: the length rule refuses them
// anyway.
var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	add := func(p string) {
		if p = strings.ToLower(strings.TrimSpace(p)); utf8.RuneCountInString(p) >= tenants.PasswordMinLengthFloor {
			m[p] = true
		}
	}
	for _, line := range strings.Split(commonPasswordsText, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			add(line)
		}
	}
	for _, p := range frequency.FrequencyLists["passwords"] {
		add(p)
	}
	return m
}()

// CommonCount is how many passwords the common-password rule
// refuses (those at least tenants.PasswordMinLengthFloor long).
func CommonCount() int { return len(commonPasswords) }

// Violation is a password rule a password breaks: Django's validator
// code and, for the length rules, the bound.
type Violation struct {
	// Code is password_too_short, max_length, password_too_common or
	// password_entirely_numeric.
	Code string
	// Limit is the length bound of password_too_short and max_length (0
	// for the others).
	Limit int
}

// Validate applies the password rules as allauth's clean_password and
// Django's default validators do: minimum length, not a common password,
// not entirely numeric. All failures are reported. After NIST SP 800-63B the
// minimum is never below tenants.PasswordMinLengthFloor, whatever minLength
// says, any character counts (no composition rules), and passwords of up to
// tenants.PasswordMaxLength characters are accepted; longer ones are refused
// with Django's max_length.
func Validate(password string, minLength int) []Violation {
	var out []Violation
	minLength = max(minLength, tenants.PasswordMinLengthFloor)
	n := utf8.RuneCountInString(password)
	if n < minLength {
		out = append(out, Violation{Code: "password_too_short", Limit: minLength})
	}
	if n > tenants.PasswordMaxLength {
		return append(out, Violation{Code: "max_length", Limit: tenants.PasswordMaxLength})
	}
	if commonPasswords[strings.ToLower(strings.TrimSpace(password))] {
		out = append(out, Violation{Code: "password_too_common"})
	}
	if password != "" && strings.Trim(password, "0123456789") == "" {
		out = append(out, Violation{Code: "password_entirely_numeric"})
	}
	return out
}
