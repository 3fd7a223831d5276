package webhooks

import (
	"testing"
	"time"
)

// TestRetryScheduleSpansThreeDays: with the defaults, the attempts of one
// delivery spread over about three days, each wait at most MaxRetryDelay
// (+20 % jitter), and the waits are jittered.
func TestRetryScheduleSpansThreeDays(t *testing.T) {
	for range 50 {
		var total time.Duration
		for attempt := 1; attempt < DefaultMaxAttempts; attempt++ {
			d := retryDelay(attempt, DefaultRetryBase)
			if d <= 0 || d > MaxRetryDelay*12/10 {
				t.Fatalf("attempt %d: wait %s", attempt, d)
			}
			total += d
		}
		if total < 60*time.Hour || total > 84*time.Hour {
			t.Fatalf("the attempts span %s, want about three days", total)
		}
	}
	seen := map[time.Duration]bool{}
	for range 10 {
		seen[retryDelay(5, DefaultRetryBase)] = true
	}
	if len(seen) < 2 {
		t.Error("no jitter")
	}
	if d := retryDelay(1, DefaultRetryBase); d < 8*time.Second || d > 12*time.Second {
		t.Errorf("first retry after %s", d)
	}
}
