package identity

import (
	_ "embed"
	"strings"
	"unicode/utf8"
)

//go:embed common_passwords.txt
var commonPasswordsText string

// commonPasswords are passwords attackers try first; the list is ours,
// lower-cased, one per line.
var commonPasswords = func() map[string]bool {
	m := map[string]bool{}
	for _, line := range strings.Split(commonPasswordsText, "\n") {
		if p := strings.TrimSpace(line); p != "" && !strings.HasPrefix(p, "#") {
			m[strings.ToLower(p)] = true
		}
	}
	return m
}()

// ValidatePassword applies the tenant's password rules as allauth's
// clean_password and Django's default validators do: minimum length, not a
// common password, not entirely numeric. All failures are reported.
func ValidatePassword(param, password string, minLength int) Errors {
	var errs Errors
	if minLength > 0 && utf8.RuneCountInString(password) < minLength {
		errs = append(errs, NewError(param, "password_too_short", minLength))
	}
	if commonPasswords[strings.ToLower(strings.TrimSpace(password))] {
		errs = append(errs, NewError(param, "password_too_common"))
	}
	if password != "" && strings.Trim(password, "0123456789") == "" {
		errs = append(errs, NewError(param, "password_entirely_numeric"))
	}
	return errs
}
