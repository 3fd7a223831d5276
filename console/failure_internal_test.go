package console

import (
	"testing"

	"github.com/hallpass/hallpass/internal/failure/failuretest"
)

// The console's error page classifies errors as the headless API does
// (api's TestErrorHandlerUnavailable runs the same table): 503 with
// Retry-After while a store is unreachable, 500 for anything else.
func TestFailurePageClassifiesAsTheAPI(t *testing.T) {
	for _, tc := range failuretest.Cases(t) {
		status, title, _, retryAfter := failurePage(tc.Err)
		switch {
		case tc.Unavailable && (status != 503 || title != "Temporarily unavailable" || retryAfter != "2"):
			t.Errorf("%s: %d %q Retry-After %q, want 503", tc.Name, status, title, retryAfter)
		case !tc.Unavailable && (status != 500 || retryAfter != ""):
			t.Errorf("%s: %d Retry-After %q, want 500", tc.Name, status, retryAfter)
		}
	}
}
