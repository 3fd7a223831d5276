package accounts

import (
	"errors"
	"log/slog"
	"net/http"

	"github.com/hallpass/hallpass/internal/failure"
)

// fail answers a page request that ended in err with a page, never JSON:
// Django's CSRF 403, a refusal's status with its words, 503 when a store
// is down, 500 otherwise (logged).
func (r *Request) fail(err error) error {
	switch {
	case errors.Is(err, errCSRF):
		return r.write(http.StatusForbidden, "Forbidden", Message("Forbidden (403)",
			[]string{"CSRF verification failed. Request aborted.",
				"Your browser must accept cookies from this site, and the form must be sent from this site's own page. Reload the page and try again."}, nil))
	case failure.Unavailable(err):
		return r.write(http.StatusServiceUnavailable, "Unavailable", Message("Service unavailable",
			[]string{"The service is briefly unavailable. Please try again in a moment."}, nil))
	}
	if ref, ok := failure.AsRefusal(err); ok {
		status := ref.HTTPStatus()
		if status == http.StatusTooManyRequests {
			return r.write(status, "Too many requests", Message("Too many requests",
				[]string{statusMessage(status)}, nil))
		}
		msgs := []string{}
		for _, d := range ref.Details() {
			msgs = append(msgs, d.Message)
		}
		if len(msgs) == 0 {
			msgs = append(msgs, statusMessage(status))
		}
		return r.write(status, "Not possible", Message("Not possible", msgs, nil))
	}
	r.Pages.log().Error("account page failed", "route", r.C.Route().Path, "err", err)
	return r.write(http.StatusInternalServerError, "Server error", Message("Server error",
		[]string{"Something went wrong on our side. Please try again."}, nil))
}

func (p *Pages) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.Default()
}
