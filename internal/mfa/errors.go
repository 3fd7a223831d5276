package mfa

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hallpass/hallpass/internal/failure"
)

// ErrNotFound is returned when the user has no such authenticator.
var ErrNotFound = errors.New("mfa: authenticator not found")

// ErrUnreadable is an authenticator whose sealed data does not open for its
// tenant and user (copied from another row, or corrupted). It matches
// ErrNotFound: for authentication such an authenticator does not exist, so
// a transplanted secret is an incorrect code, not a server error.
var ErrUnreadable = fmt.Errorf("%w: sealed data does not open for this tenant and user", ErrNotFound)

// ErrAlreadyActive is returned when activating TOTP for a user who already
// has it (allauth has no answer for this: its unique constraint fails).
var ErrAlreadyActive = failure.NewSentinel(http.StatusConflict, "already_active", "mfa: authenticator already active")

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

// Is makes errors.Is match any *Error with the same code, so callers can test
// `errors.Is(err, mfa.ErrIncorrectCode)` whatever the param.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Error codes (allauth/mfa/adapter.py error_messages, plus the Django form
// codes the headless inputs answer with).
const (
	CodeIncorrectCode               = "incorrect_code"
	CodeCannotGenerateRecoveryCodes = "cannot_generate_recovery_codes"
	CodeCannotDeleteAuthenticator   = "cannot_delete_authenticator"
	CodeUnverifiedEmail             = "unverified_email"
	CodeAddEmailBlocked             = "add_email_blocked"
	CodeRequired                    = "required"
	CodeMaxLength                   = "max_length"
	CodeInvalidChoice               = "invalid_choice"
)

const (
	// maxNameLength is the WebAuthn name limit of allauth's UpdateWebAuthnInput.
	maxNameLength = 100
	// Django's ModelChoiceField / ModelMultipleChoiceField messages.
	invalidChoiceMessage             = "Select a valid choice. That choice is not one of the available choices."
	invalidMultipleChoiceMessageTmpl = "Select a valid choice. %d is not one of the available choices."
)

// messages are allauth's texts (DefaultMFAAdapter.error_messages).
var messages = map[string]string{
	CodeAddEmailBlocked:             "You cannot add an email address to an account protected by two-factor authentication.",
	CodeCannotDeleteAuthenticator:   "You cannot deactivate two-factor authentication.",
	CodeCannotGenerateRecoveryCodes: "You cannot generate recovery codes without having two-factor authentication enabled.",
	CodeIncorrectCode:               "Incorrect code.",
	CodeUnverifiedEmail:             "You cannot activate two-factor authentication until you have verified your email address.",
	CodeRequired:                    "This field is required.",
}

// NewError returns an Error with allauth's message for code.
func NewError(param, code string) *Error {
	msg, ok := messages[code]
	if !ok {
		msg = code
	}
	return &Error{Code: code, Param: param, Message: msg}
}

// Sentinels for errors.Is; the errors the package returns carry a Param.
var (
	// ErrIncorrectCode: a wrong, malformed or replayed code or WebAuthn
	// credential.
	ErrIncorrectCode = NewError("", CodeIncorrectCode)
	// ErrCannotGenerateRecoveryCodes: recovery codes need another authenticator.
	ErrCannotGenerateRecoveryCodes = NewError("", CodeCannotGenerateRecoveryCodes)
	// ErrCannotDeleteAuthenticator: allauth's can_delete_authenticator refused
	// (never, with the default adapter; kept for the API's error table).
	ErrCannotDeleteAuthenticator = NewError("", CodeCannotDeleteAuthenticator)
	// ErrUnverifiedEmail: adding an authenticator needs every address verified
	// unless MFA_ALLOW_UNVERIFIED_EMAIL.
	ErrUnverifiedEmail = NewError("", CodeUnverifiedEmail)
	// ErrAddEmailBlocked: allauth's add_email_blocked, for the account slice.
	ErrAddEmailBlocked = NewError("", CodeAddEmailBlocked)
)

func incorrectCode(param string) *Error { return NewError(param, CodeIncorrectCode) }

func maxLengthError(param string, limit, got int) *Error {
	return &Error{Code: CodeMaxLength, Param: param,
		Message: fmt.Sprintf("Ensure this value has at most %d characters (it has %d).", limit, got)}
}
