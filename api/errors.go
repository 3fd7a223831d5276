package api

import (
	"errors"
	"log/slog"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/failure"
)

// InputError is a 400 with allauth's field and form errors.
type InputError struct {
	Errors []ErrorItem
}

func (e *InputError) Error() string {
	if len(e.Errors) == 0 {
		return "invalid input"
	}
	return "invalid input: " + e.Errors[0].Code
}

// FieldError returns a 400 error for one input field.
func FieldError(param, code, message string) *InputError {
	return &InputError{Errors: []ErrorItem{{Message: message, Code: code, Param: param}}}
}

// FormError returns a 400 error that belongs to the whole input (no param).
func FormError(code, message string) *InputError {
	return &InputError{Errors: []ErrorItem{{Message: message, Code: code}}}
}

// StatusError is answered with a `{status: N}` envelope; allauth's MFA
// 409s also carry Errors.
type StatusError struct {
	Status int
	Errors []ErrorItem
}

func (e *StatusError) Error() string { return "status " + strconv.Itoa(e.Status) }

// Common bare-status errors.
var (
	ErrForbidden   = &StatusError{Status: fiber.StatusForbidden}
	ErrRouteAbsent = &StatusError{Status: fiber.StatusNotFound}
	ErrConflict    = &StatusError{Status: fiber.StatusConflict}
	ErrRateLimited = &StatusError{Status: fiber.StatusTooManyRequests}
)

// ErrorHandler is the one place errors become HTTP responses: the API's
// own input and status errors, the domain's refusals (failure.Refusal:
// allauth's status and errors list, from identity, mfa, social, tenants and
// quota alike), and infrastructure failures (503 while a store is
// unreachable, failure.Unavailable; 500 for anything unexpected, which is
// logged). The refusals allauth answers with an authentication response
// (not authenticated, reauthentication required, a session token naming no
// session) are answered before they get here, by base.Answers in the
// headless route chain; one that gets here is its bare status.
func ErrorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		NeverCache(c)
		var in *InputError
		var st *StatusError
		var fe *fiber.Error
		if errors.As(err, &in) {
			return c.Status(fiber.StatusBadRequest).JSON(Envelope{Status: fiber.StatusBadRequest, Errors: in.Errors})
		}
		if errors.As(err, &st) {
			return c.Status(st.Status).JSON(Envelope{Status: st.Status, Errors: st.Errors})
		}
		if r, ok := failure.AsRefusal(err); ok {
			if s := failure.RetryAfter(r); s > 0 {
				c.Set(fiber.HeaderRetryAfter, strconv.Itoa(s))
			}
			return c.Status(r.HTTPStatus()).JSON(Envelope{Status: r.HTTPStatus(), Errors: Items(r)})
		}
		switch {
		case errors.As(err, &fe):
			return RespondStatus(c, fe.Code)
		case failure.Unavailable(err):
			log.Warn("dependency unavailable", "err", err, "path", c.Path(), "request_id", RequestID(c))
			c.Set(fiber.HeaderRetryAfter, "1")
			return c.Status(fiber.StatusServiceUnavailable).JSON(Envelope{Status: fiber.StatusServiceUnavailable,
				Errors: []ErrorItem{{Message: "The service is temporarily unavailable. Please retry.", Code: "unavailable"}}})
		default:
			log.Error("unhandled error", "err", err, "path", c.Path(), "request_id", RequestID(c))
			return RespondStatus(c, fiber.StatusInternalServerError)
		}
	}
}

// Items is a refusal's errors list as the envelope carries it (nil for a
// bare status).
func Items(r failure.Refusal) []ErrorItem {
	details := r.Details()
	if len(details) == 0 {
		return nil
	}
	out := make([]ErrorItem, len(details))
	for i, d := range details {
		out[i] = ErrorItem{Message: d.Message, Code: d.Code, Param: d.Param}
	}
	return out
}
