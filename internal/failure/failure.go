// Package failure classifies the errors a request can end with, for every
// surface that answers requests (the headless API, the console, the coming
// management API). A Refusal is the domain saying no on purpose: it carries
// allauth's error code, the HTTP status allauth answers with, and the
// entries of allauth's errors list. Unavailable tells a store that could not
// be reached from a bug. The package knows no HTTP framework: the domain's
// error types implement Refusal, and each surface renders it in one place
// (api.ErrorHandler for the headless API).
package failure

import "errors"

// Detail is one entry of allauth's errors list: Param names the input field
// ("" for the whole form).
type Detail struct {
	Code    string
	Param   string
	Message string
}

// Refusal is an error the domain answers a request with on purpose.
type Refusal interface {
	error
	// ErrorCode is allauth's code for the refusal as a whole, as a flow
	// that reports it by name uses it (the provider callback's error
	// parameter); for a list of field errors, the first one's.
	ErrorCode() string
	// HTTPStatus is the status allauth answers with.
	HTTPStatus() int
	// Details are the entries of allauth's errors list; none for an answer
	// that is the status alone (allauth's bare 401, 403, 409 and 429).
	Details() []Detail
}

// AsRefusal finds the first Refusal in err's chain.
func AsRefusal(err error) (Refusal, bool) {
	var r Refusal
	if errors.As(err, &r) {
		return r, true
	}
	return nil, false
}

// Sentinel is a refusal that is the same every time, compared with
// errors.Is: a bare status, or a status with one form-level entry.
type Sentinel struct {
	status     int
	code       string
	message    string
	text       string
	retryAfter int
}

// NewSentinel returns a refusal answered with status alone; text is its
// Error() (for logs), code its ErrorCode.
func NewSentinel(status int, code, text string) *Sentinel {
	return &Sentinel{status: status, code: code, text: text}
}

// NewFormSentinel returns a refusal answered with status and one
// form-level entry {code, message}.
func NewFormSentinel(status int, code, message, text string) *Sentinel {
	return &Sentinel{status: status, code: code, message: message, text: text}
}

// WithRetryAfter returns s, told to answer with Retry-After: seconds.
func (s *Sentinel) WithRetryAfter(seconds int) *Sentinel {
	s.retryAfter = seconds
	return s
}

func (s *Sentinel) Error() string { return s.text }

// ErrorCode implements Refusal.
func (s *Sentinel) ErrorCode() string { return s.code }

// HTTPStatus implements Refusal.
func (s *Sentinel) HTTPStatus() int { return s.status }

// Details implements Refusal.
func (s *Sentinel) Details() []Detail {
	if s.message == "" {
		return nil
	}
	return []Detail{{Code: s.code, Message: s.message}}
}

// RetryAfter is the Retry-After the refusal is answered with, in seconds
// (0: none).
func (s *Sentinel) RetryAfter() int { return s.retryAfter }

// RetryAfter returns the Retry-After, in seconds, a refusal asks for
// (0: none).
func RetryAfter(r Refusal) int {
	if ra, ok := r.(interface{ RetryAfter() int }); ok {
		return ra.RetryAfter()
	}
	return 0
}
