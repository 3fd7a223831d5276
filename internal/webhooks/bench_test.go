package webhooks_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/internal/webhooks"
)

// BenchmarkDeliveryThroughput measures one node's delivery rate: b.N
// messages queued to one endpoint (a local receiver answering 204 at
// once), then delivered by the node's River workers on the real Postgres;
// msgs/s is the rate from the node's start to the last delivery logged.
func BenchmarkDeliveryThroughput(b *testing.B) {
	pool := testenv.Pool(b)
	var got atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer rcv.Close()
	svc, err := webhooks.New(webhooks.Config{Pool: pool, Sealer: testenv.Sealer(b), URLs: webhooks.URLPolicy{AllowPrivate: true},
		Outbox: mail.NewOutbox(testenv.Sealer(b)), Queue: strings.ReplaceAll(strings.ToLower(testenv.Slug("whb")), "-", "_"),
		PollInterval: 50 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	tenant := uuid.New()
	ctx := context.Background()
	if _, err := pool.Exec(ctx, `INSERT INTO tenants (id, slug, name) VALUES ($1, $2, 'bench')`, tenant, strings.ToLower(testenv.Slug("whb"))); err != nil {
		b.Fatal(err)
	}
	if _, _, err := svc.Create(ctx, tenant, webhooks.EndpointInput{URL: &rcv.URL}, actor); err != nil {
		b.Fatal(err)
	}
	for done := 0; done < b.N; {
		n := min(500, b.N-done)
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			for i := range n {
				e := events.Event{ID: int64(done + i), TenantID: tenant, Type: events.UserUpdated, At: time.Now(),
					Data: json.RawMessage(`{"user":{"id":1,"email":"ada@example.com"}}`)}
				if err := svc.Fanout(ctx, tx, e); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		done += n
	}
	b.ResetTimer()
	start := time.Now()
	if err := svc.Start(ctx); err != nil {
		b.Fatal(err)
	}
	for {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM webhook_deliveries WHERE tenant_id = $1 AND status = 'delivered'`, tenant).Scan(&n); err != nil {
			b.Fatal(err)
		}
		if n >= b.N {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	stop, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_ = svc.Stop(stop)
	if got.Load() < int64(b.N) {
		b.Fatalf("%d of %d received", got.Load(), b.N)
	}
}
