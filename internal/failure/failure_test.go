package failure_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/hallpass/hallpass/internal/failure"
	"github.com/hallpass/hallpass/internal/failure/failuretest"
)

func TestUnavailable(t *testing.T) {
	for _, tc := range failuretest.Cases(t) {
		if got := failure.Unavailable(tc.Err); got != tc.Unavailable {
			t.Errorf("%s (%v): Unavailable = %v, want %v", tc.Name, tc.Err, got, tc.Unavailable)
		}
	}
}

// A sentinel refusal is found through wrapping, compares with errors.Is,
// and carries its status, code and errors-list entry.
func TestSentinel(t *testing.T) {
	bare := failure.NewSentinel(http.StatusConflict, "conflict", "not now")
	form := failure.NewFormSentinel(http.StatusNotFound, "unknown_tenant", "Unknown tenant.", "tenant not found")
	limited := failure.NewSentinel(http.StatusTooManyRequests, "rate_limited", "budget spent").WithRetryAfter(60)

	r, ok := failure.AsRefusal(fmt.Errorf("store: %w", form))
	if !ok || r.HTTPStatus() != 404 || r.ErrorCode() != "unknown_tenant" || r.Error() != "tenant not found" {
		t.Fatalf("wrapped form sentinel: %v %v", r, ok)
	}
	if d := r.Details(); len(d) != 1 || d[0] != (failure.Detail{Code: "unknown_tenant", Message: "Unknown tenant."}) {
		t.Errorf("form details: %+v", d)
	}
	if len(bare.Details()) != 0 || bare.HTTPStatus() != 409 || !errors.Is(fmt.Errorf("x: %w", bare), bare) {
		t.Errorf("bare sentinel: %+v", bare)
	}
	if failure.RetryAfter(limited) != 60 || failure.RetryAfter(bare) != 0 {
		t.Errorf("retry after: %d, %d", failure.RetryAfter(limited), failure.RetryAfter(bare))
	}
	if _, ok := failure.AsRefusal(errors.New("plain")); ok {
		t.Error("a plain error is a refusal")
	}
}
