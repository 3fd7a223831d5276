package social

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hallpass/hallpass/internal/failure"
)

// Error is a refusal with allauth's error code and the input field it
// belongs to. Compare with errors.Is against the sentinels below, which
// match any *Error of the same code.
type Error struct {
	// Code is allauth's code, e.g. "invalid_token".
	Code string
	// Param is the headless input field: "token" or "provider".
	Param string
	// Err is the cause (logged, never shown to clients).
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return "social: " + e.Code + ": " + e.Err.Error()
	}
	return "social: " + e.Code
}

func (e *Error) Unwrap() error { return e.Err }

// ErrorCode is the refusal's allauth code (failure.Refusal).
func (e *Error) ErrorCode() string { return e.Code }

// HTTPStatus is 400: allauth answers the token flow's refusals as input
// errors.
func (e *Error) HTTPStatus() int { return http.StatusBadRequest }

// Details is the refusal as allauth's errors list holds it, with allauth's
// headless text for its code.
func (e *Error) Details() []failure.Detail {
	msg, ok := messages[e.Code]
	if !ok {
		msg = e.Code
	}
	return []failure.Detail{{Code: e.Code, Param: e.Param, Message: msg}}
}

// messages are allauth's headless texts for the refusals' codes.
var messages = map[string]string{
	"invalid_token":                      "Invalid token.",
	"client_id_required":                 "`client_id` required.",
	"client_id_mismatch":                 "`client_id` mismatch.",
	"token_required":                     "`id_token` and/or `access_token` required.",
	"token_authentication_not_supported": "Provider does not support token authentication.",
	"unknown_provider":                   "Unknown provider.",
}

// Is matches the sentinel of e's code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels, by allauth error code (headless adapter messages).
var (
	// ErrInvalidToken: a token that fails verification, a token input that
	// is not an object, or a client_id naming no app of the provider.
	ErrInvalidToken = &Error{Code: "invalid_token", Param: "token"}
	// ErrClientIDRequired: the token flow's token has no string client_id.
	ErrClientIDRequired = &Error{Code: "client_id_required", Param: "token"}
	// ErrClientIDMismatch: the token's client_id is not the app's.
	ErrClientIDMismatch = &Error{Code: "client_id_mismatch", Param: "token"}
	// ErrTokenRequired: neither a string id_token nor access_token.
	ErrTokenRequired = &Error{Code: "token_required", Param: "token"}
	// ErrTokenAuthNotSupported: the provider has no token flow.
	ErrTokenAuthNotSupported = &Error{Code: "token_authentication_not_supported", Param: "provider"}
	// ErrUnknownProvider: no (single) configured app has that id.
	ErrUnknownProvider = &Error{Code: "unknown_provider", Param: "provider"}
	// ErrAccountNotFound: no such social account (of that user).
	ErrAccountNotFound = &Error{Code: "account_not_found", Param: "account"}
	// ErrConnectedOther: the provider account is connected to another user.
	ErrConnectedOther = &Error{Code: "connected_other"}
)

func invalidToken(format string, args ...any) error {
	return &Error{Code: ErrInvalidToken.Code, Param: ErrInvalidToken.Param, Err: fmt.Errorf(format, args...)}
}

func wrapInvalidToken(err error) error {
	if err == nil || errors.Is(err, ErrInvalidToken) {
		return err
	}
	return &Error{Code: ErrInvalidToken.Code, Param: ErrInvalidToken.Param, Err: err}
}

// ErrProvider matches every *ProviderError: the provider refused, failed or
// did not answer in time.
var ErrProvider = errors.New("social: provider error")

// ErrConfig is an app the tenant configured wrongly (e.g. Apple without a
// certificate_key): an operator problem, shown to users as "unknown".
var ErrConfig = errors.New("social: app misconfigured")

// Flow state errors (StateStore.Take): allauth answers both with the
// "unknown" authentication error.
var (
	ErrStateNotFound = errors.New("social: unknown, expired or used state")
	ErrStateMismatch = errors.New("social: state belongs to another browser session")
)

// Authentication error codes the callback redirect carries (allauth's
// AuthError), see ProviderError.AuthError.
const (
	AuthErrorUnknown   = "unknown"
	AuthErrorCancelled = "cancelled"
	AuthErrorDenied    = "denied"
)

// ProviderError is a failed call to the provider, or an error the provider
// sent back to the callback.
type ProviderError struct {
	// Code is the provider's OAuth error code ("access_denied",
	// "invalid_grant", "bad_verification_code"), "" when none was given.
	Code string
	// Description is the provider's error_description.
	Description string
	// Status is the HTTP status of the failed call, 0 if none.
	Status int
	// Timeout reports that the provider did not answer in time.
	Timeout bool
	// Op says what was attempted, e.g. "token exchange".
	Op  string
	Err error
}

func (e *ProviderError) Error() string {
	msg := "social: provider"
	if e.Op != "" {
		msg += " " + e.Op
	}
	switch {
	case e.Timeout:
		msg += ": timed out"
	case e.Code != "":
		msg += ": " + e.Code
		if e.Description != "" {
			msg += " (" + e.Description + ")"
		}
	case e.Status != 0:
		msg += fmt.Sprintf(": HTTP %d", e.Status)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ProviderError) Unwrap() error { return e.Err }

// Is matches ErrProvider.
func (e *ProviderError) Is(target error) bool { return target == ErrProvider }

// ErrorCode is invalid_token: where a provider failure reaches a client
// (the token flow), the token could not be verified (failure.Refusal).
func (e *ProviderError) ErrorCode() string { return ErrInvalidToken.Code }

// HTTPStatus is 400, as for the token flow's other refusals.
func (e *ProviderError) HTTPStatus() int { return http.StatusBadRequest }

// Details is the token flow's answer: the provider refused or did not
// answer, so the token could not be verified.
func (e *ProviderError) Details() []failure.Detail {
	return []failure.Detail{{Code: ErrInvalidToken.Code, Param: ErrInvalidToken.Param, Message: "The provider could not verify the token."}}
}

// AuthError is the error allauth puts on the frontend callback URL for this
// failure: "cancelled" when the user declined at the provider
// (error=access_denied, allauth's login_cancelled_error), else "unknown".
func (e *ProviderError) AuthError() string {
	if e.Code == "access_denied" {
		return AuthErrorCancelled
	}
	return AuthErrorUnknown
}

// AuthError maps any error of the redirect flow to allauth's callback error
// code: a ProviderError's own mapping, else "unknown".
func AuthError(err error) string {
	var pe *ProviderError
	if errors.As(err, &pe) {
		return pe.AuthError()
	}
	return AuthErrorUnknown
}
