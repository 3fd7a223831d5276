package quota_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/metrics"
	"github.com/hallpass/hallpass/internal/quota"
	"github.com/hallpass/hallpass/internal/testenv"
)

// A tenant's budget refuses state past its ceiling, frees a slot when state
// is released or expires, never counts an id twice, and is the tenant's
// alone.
func TestPendingBudget(t *testing.T) {
	ctx := context.Background()
	rdb := testenv.Redis(t)
	p := quota.NewPending(rdb, 3)
	a, b := uuid.New(), uuid.New()
	for i := range 3 {
		if err := p.Reserve(ctx, a, fmt.Sprint("s", i), time.Minute); err != nil {
			t.Fatalf("reserve %d: %v", i, err)
		}
	}
	if err := p.Reserve(ctx, a, "s0", time.Minute); err != nil {
		t.Fatalf("renewing an id counted it twice: %v", err)
	}
	if err := p.Reserve(ctx, a, "s3", time.Minute); !errors.Is(err, quota.ErrExhausted) {
		t.Fatalf("fourth state of a budget of 3: %v", err)
	}
	if err := p.Reserve(ctx, b, "s0", time.Minute); err != nil {
		t.Fatalf("another tenant refused while the first is full: %v", err)
	}
	p.Release(ctx, a, "s1")
	if err := p.Reserve(ctx, a, "s3", 50*time.Millisecond); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	if got := p.Usage(ctx, a); got != 3 {
		t.Fatalf("usage %d, want 3", got)
	}
	// Expired state stops counting without being released.
	deadline := time.Now().Add(5 * time.Second)
	for p.Usage(ctx, a) != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("expired state still counted: %d", p.Usage(ctx, a))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.Reserve(ctx, a, "s4", time.Minute); err != nil {
		t.Fatalf("after an expiry: %v", err)
	}

	// Operators see who fills Redis, and who was refused.
	var out strings.Builder
	if _, err := metrics.Default.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`hallpass_tenant_pending_states{tenant="` + a.String() + `"} 3`,
		`hallpass_tenant_pending_states{tenant="` + b.String() + `"} 1`,
		`hallpass_tenant_pending_refused_total{tenant="` + a.String() + `"} 1`,
		`hallpass_tenant_pending_state_ceiling 3`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
