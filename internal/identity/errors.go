// Package identity holds a tenant's users and their email addresses, and
// runs django-allauth's account rules over them (signup, password and code
// login with its stages, email verification, password reset and change,
// provider accounts), without any HTTP in them. Passwords are hashed and
// checked by package passwords; sessions are kept by package sessions.
// Errors carry allauth's codes; the API maps them to responses in one place.
package identity

import (
	"fmt"
	"net/http"

	"github.com/hallpass/hallpass/internal/failure"
)

// Error is a rule violation with allauth's error code; Param names the input
// field it belongs to ("" for the whole form).
type Error struct {
	Code    string
	Param   string
	Message string
}

func (e *Error) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Param, e.Message, e.Code)
	}
	return fmt.Sprintf("%s (%s)", e.Message, e.Code)
}

// ErrorCode is the error's allauth code (failure.Refusal).
func (e *Error) ErrorCode() string { return e.Code }

// HTTPStatus is 400: allauth answers a rule violation as an input error.
func (e *Error) HTTPStatus() int { return http.StatusBadRequest }

// Details is the error as allauth's errors list holds it.
func (e *Error) Details() []failure.Detail {
	return []failure.Detail{{Code: e.Code, Param: e.Param, Message: e.Message}}
}

// Errors is several field errors reported together, in field order.
type Errors []*Error

func (es Errors) Error() string {
	if len(es) == 0 {
		return "no errors"
	}
	return es[0].Error()
}

// ErrorCode is the first error's allauth code (failure.Refusal).
func (es Errors) ErrorCode() string {
	if len(es) == 0 {
		return ""
	}
	return es[0].Code
}

// HTTPStatus is 400, as for one Error.
func (es Errors) HTTPStatus() int { return http.StatusBadRequest }

// Details are the errors as allauth's errors list holds them, in order.
func (es Errors) Details() []failure.Detail {
	out := make([]failure.Detail, 0, len(es))
	for _, e := range es {
		out = append(out, failure.Detail{Code: e.Code, Param: e.Param, Message: e.Message})
	}
	return out
}

// messages are allauth's (and Django's) texts for each code.
var messages = map[string]string{
	"required":                    "This field is required.",
	"invalid":                     "Enter a valid value.",
	"invalid_email":               "Enter a valid email address.",
	"invalid_username":            "Enter a valid username. This value may contain only letters, numbers, and @/./+/-/_ characters.",
	"max_length":                  "Ensure this value has at most %d characters.",
	"min_length":                  "Ensure this value has at least %d characters.",
	"account_inactive":            "This account is currently inactive.",
	"email_password_mismatch":     "The email address and/or password you specified are not correct.",
	"username_password_mismatch":  "The username and/or password you specified are not correct.",
	"email_taken":                 "A user is already registered with this email address.",
	"username_taken":              "A user with that username already exists.",
	"username_blacklisted":        "Username can not be used. Please use other username.",
	"incorrect_code":              "Incorrect code.",
	"invalid_or_expired_key":      "Invalid or expired key.",
	"invalid_login":               "Invalid login.",
	"password_too_short":          "This password is too short. It must contain at least %d characters.",
	"password_too_common":         "This password is too common.",
	"password_entirely_numeric":   "This password is entirely numeric.",
	"too_many_login_attempts":     "Too many failed login attempts. Try again later.",
	"unknown_email":               "The email address is not assigned to any user account.",
	"incorrect_password":          "Incorrect password.",
	"enter_current_password":      "Please type your current password.",
	"same_as_current":             "The new value must be different from the current one.",
	"invalid_password_reset":      "The password reset token was invalid.",
	"duplicate_email":             "This email address is already associated with this account.",
	"max_email_addresses":         "You cannot add more than %d email addresses.",
	"cannot_remove_primary_email": "You cannot remove your primary email address.",
	"unverified_primary_email":    "Your primary email address must be verified.",
	"connected_other":             "The third-party account is already connected to a different account.",
	"account_not_found":           "Unknown account.",
	"no_password":                 "Your account has no password set up.",
	"no_verified_email":           "Your account has no verified email address.",
	"disconnect_last":             "You cannot disconnect your last remaining third-party account.",
	"no_usernames":                "This tenant's users have no username.",
	"multiple_primary":            "At most one email address can be primary.",
	"password_and_hash":           "Give a password or a password hash, not both.",
	"unknown_hash_format":         "The password hash is not in a format Hallpass verifies.",
	"email_taken_social":          "An account already exists with this email address. Please sign in to that account first, then connect your %s account.",
}

// NewError returns an Error with allauth's message for code; args fill the
// message's placeholders.
func NewError(param, code string, args ...any) *Error {
	msg, ok := messages[code]
	if !ok {
		msg = code
	}
	if len(args) > 0 {
		msg = fmt.Sprintf(msg, args...)
	}
	if code == "invalid_email" || code == "invalid_username" {
		code = "invalid" // Django's validators report plain "invalid"
	}
	return &Error{Code: code, Param: param, Message: msg}
}
