package manage

import (
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/failure"
)

// ProblemType is the content type of every error answer (RFC 9457).
const ProblemType = "application/problem+json"

// Problem is an error answer (RFC 9457) with a stable Code a client can
// switch on, and, for invalid input, the fields at fault.
type Problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Code      string       `json:"code"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []FieldError `json:"errors,omitempty"`
}

// FieldError names one invalid part of the input.
type FieldError struct {
	// Field is a JSON pointer into the body ("/emails/0/email"), or the
	// query or path parameter's name.
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error is an error a handler returns to answer with a problem.
type Error struct {
	Status int
	Code   string
	Detail string
	Fields []FieldError
	// RetryAfter, in seconds, for 429 and 503 (0: none).
	RetryAfter int
}

func (e *Error) Error() string { return e.Code + ": " + e.Detail }

// Problems the API answers itself.
var (
	errNoSuchOperation = &Error{Status: http.StatusNotFound, Code: "not_found", Detail: "There is no such operation."}
	errUnauthenticated = &Error{Status: http.StatusUnauthorized, Code: "unauthenticated", Detail: "An API key is required: Authorization: Bearer hp_…"}
	errInvalidKey      = &Error{Status: http.StatusUnauthorized, Code: "invalid_api_key", Detail: "The API key is unknown, revoked or expired."}
	errForbidden       = &Error{Status: http.StatusForbidden, Code: "insufficient_scope", Detail: "The API key does not hold the scope this operation needs."}
	errTenantNotFound  = &Error{Status: http.StatusNotFound, Code: "not_found", Detail: "There is no such tenant."}
	errUnavailable     = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Detail: "A store is unreachable; try again shortly.", RetryAfter: 1}
	errInternal        = &Error{Status: http.StatusInternalServerError, Code: "internal", Detail: "Something went wrong on our side."}
)

// Invalid returns a 422 problem naming the fields at fault.
func Invalid(detail string, fields ...FieldError) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: "invalid_request", Detail: detail, Fields: fields}
}

// BadRequest returns a 400 problem with code.
func BadRequest(code, detail string) *Error {
	return &Error{Status: http.StatusBadRequest, Code: code, Detail: detail}
}

// NotFound returns a 404 problem: the resource does not exist, or is
// another tenant's (the answer is the same).
func NotFound(what string) *Error {
	return &Error{Status: http.StatusNotFound, Code: "not_found", Detail: "There is no such " + what + "."}
}

// classify turns any error into the problem to answer, logging what was
// not expected. Domain refusals keep their code and status; an
// unreachable store is 503; anything else is 500.
func classify(log *slog.Logger, c *fiber.Ctx, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if r, ok := failure.AsRefusal(err); ok {
		out := &Error{Status: r.HTTPStatus(), Code: r.ErrorCode(), Detail: r.Error(), RetryAfter: failure.RetryAfter(r)}
		for _, d := range r.Details() {
			if d.Message != "" {
				out.Detail = d.Message
			}
			if d.Param != "" {
				out.Fields = append(out.Fields, FieldError{Field: d.Param, Code: d.Code, Message: d.Message})
			}
		}
		return out
	}
	var fe *fiber.Error
	if errors.As(err, &fe) {
		switch fe.Code {
		case http.StatusRequestEntityTooLarge:
			return &Error{Status: fe.Code, Code: "body_too_large", Detail: "The request body is too large."}
		case http.StatusMethodNotAllowed, http.StatusNotFound:
			return errNoSuchOperation
		}
		return &Error{Status: fe.Code, Code: "bad_request", Detail: fe.Message}
	}
	if failure.Unavailable(err) {
		log.Warn("management api: store unavailable", "path", c.Path(), "err", err)
		return errUnavailable
	}
	log.Error("management api: unexpected error", "method", c.Method(), "path", c.Path(), "err", err)
	return errInternal
}

// writeProblem answers err as problem+json.
func writeProblem(c *fiber.Ctx, log *slog.Logger, err error) error {
	e := classify(log, c, err)
	p := Problem{
		Type:      "https://hallpass.dev/problems/" + e.Code,
		Title:     http.StatusText(e.Status),
		Status:    e.Status,
		Detail:    e.Detail,
		Code:      e.Code,
		RequestID: api.RequestID(c),
		Errors:    e.Fields,
	}
	if e.RetryAfter > 0 {
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(e.RetryAfter))
	}
	api.NeverCache(c)
	if err := c.Status(e.Status).JSON(p); err != nil {
		return err
	}
	c.Set(fiber.HeaderContentType, ProblemType)
	return nil
}
