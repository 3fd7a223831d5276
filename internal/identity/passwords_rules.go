package identity

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

// CommonPasswordCount is how many passwords the common-password rule
// refuses (those at least tenants.PasswordMinLengthFloor long).
func CommonPasswordCount() int { return len(commonPasswords) }

// ValidatePassword applies the tenant's password rules as allauth's
// clean_password and Django's default validators do: minimum length, not a
// common password, not entirely numeric. All failures are reported. After
// NIST SP 800-63B the minimum is never below tenants.PasswordMinLengthFloor,
// whatever minLength says, any character counts (no composition rules), and
// passwords of up to tenants.PasswordMaxLength characters are accepted;
// longer ones are refused with Django's max_length.
func ValidatePassword(param, password string, minLength int) Errors {
	var errs Errors
	minLength = max(minLength, tenants.PasswordMinLengthFloor)
	n := utf8.RuneCountInString(password)
	if n < minLength {
		errs = append(errs, NewError(param, "password_too_short", minLength))
	}
	if n > tenants.PasswordMaxLength {
		return append(errs, NewError(param, "max_length", tenants.PasswordMaxLength))
	}
	if commonPasswords[strings.ToLower(strings.TrimSpace(password))] {
		errs = append(errs, NewError(param, "password_too_common"))
	}
	if password != "" && strings.Trim(password, "0123456789") == "" {
		errs = append(errs, NewError(param, "password_entirely_numeric"))
	}
	return errs
}
