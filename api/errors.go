package api

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strconv"
	"syscall"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hallpass/hallpass/internal/quota"
	"github.com/hallpass/hallpass/tenants"
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

// ErrorHandler is the one place errors become HTTP responses: domain errors
// with allauth codes, input errors, and infrastructure failures (503 while a
// store is unreachable, 500 for anything unexpected, which is logged).
func ErrorHandler(log *slog.Logger) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		NeverCache(c)
		var in *InputError
		var st *StatusError
		var fe *fiber.Error
		switch {
		case errors.As(err, &in):
			return c.Status(fiber.StatusBadRequest).JSON(Envelope{Status: fiber.StatusBadRequest, Errors: in.Errors})
		case errors.As(err, &st):
			return c.Status(st.Status).JSON(Envelope{Status: st.Status, Errors: st.Errors})
		case errors.Is(err, tenants.ErrNotFound):
			return c.Status(fiber.StatusNotFound).JSON(Envelope{Status: fiber.StatusNotFound,
				Errors: []ErrorItem{{Message: "Unknown tenant.", Code: "unknown_tenant"}}})
		case errors.Is(err, tenants.ErrMalformedHost):
			return c.Status(fiber.StatusBadRequest).JSON(Envelope{Status: fiber.StatusBadRequest,
				Errors: []ErrorItem{{Message: "Malformed Host header.", Code: "invalid_host"}}})
		case errors.Is(err, tenants.ErrUnknownHost):
			return c.Status(fiber.StatusBadRequest).JSON(Envelope{Status: fiber.StatusBadRequest,
				Errors: []ErrorItem{{Message: "This host is not served here.", Code: "invalid_host"}}})
		case errors.As(err, &fe):
			return RespondStatus(c, fe.Code)
		case errors.Is(err, quota.ErrExhausted):
			// The tenant holds all the anonymous state it may: answered as
			// allauth answers a rate limit.
			c.Set(fiber.HeaderRetryAfter, "60")
			return c.Status(fiber.StatusTooManyRequests).JSON(Envelope{Status: fiber.StatusTooManyRequests})
		case Unavailable(err):
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

// Unavailable reports whether err means a backing store could not be reached
// (as opposed to a bug): connection refused or reset, timeouts, a server
// shutting down.
func Unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// Class 08: connection exception; 57P01-03: admin shutdown, crash, cannot connect now.
		return len(pe.Code) == 5 && (pe.Code[:2] == "08" || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03")
	}
	return pgconn.SafeToRetry(err)
}
