package manage_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/webhooks"
)

// BenchmarkSignupWebhooks measures a sign-up through the headless API with
// no webhook endpoint enabled and with three subscribed to every event
// (each sign-up queues user.created and session.created to each: six
// deliveries, delivered meanwhile by the same server to a local receiver),
// alternating one of each per iteration on the same server, and reports
// the ratio. Passwords are hashed cheaply, so the ratio shows the events'
// cost, not argon2's.
func BenchmarkSignupWebhooks(b *testing.B) {
	env := apitest.NewWithRequestTimeout(b, apitest.Settings{"ACCOUNT_RATE_LIMITS": false}, 30*time.Second)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer rcv.Close()
	ctx := context.Background()
	hooks := env.Assembly.Webhooks
	var ids []webhooks.Endpoint
	for range 3 {
		e, _, err := hooks.Create(ctx, env.Tenant.ID, webhooks.EndpointInput{URL: &rcv.URL}, audit.Actor{Name: "bench"})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, e)
	}
	toggle := func(on bool) {
		for _, e := range ids {
			if _, err := hooks.Update(ctx, env.Tenant.ID, e.ID, webhooks.EndpointInput{Enabled: &on}, audit.Actor{Name: "bench"}); err != nil {
				b.Fatal(err)
			}
		}
	}
	n := 0
	signup := func() time.Duration {
		n++
		body := fmt.Sprintf(`{"email":"bench-%d@example.com","username":"bench%d","password":"correct horse battery staple"}`, n, n)
		start := time.Now()
		r := env.Do("app", "POST", "auth/signup", body)
		d := time.Since(start)
		if r.Code != 200 {
			b.Fatalf("signup: %d %s", r.Code, r.Body)
		}
		return d
	}
	if os.Getenv("BENCH_NO_DELIVERY") == "1" {
		_ = hooks.Stop(ctx)
	}
	toggle(false)
	signup() // warm: the tenant, the pool's connections
	var none, three time.Duration
	b.ResetTimer()
	for range b.N {
		toggle(false)
		none += signup()
		toggle(true)
		three += signup()
	}
	b.StopTimer()
	b.ReportMetric(float64(none.Microseconds())/float64(b.N), "µs/signup-none")
	b.ReportMetric(float64(three.Microseconds())/float64(b.N), "µs/signup-3hooks")
	b.ReportMetric(float64(three)/float64(none), "ratio")
}
