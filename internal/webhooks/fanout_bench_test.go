package webhooks_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/internal/webhooks"
)

// BenchmarkFanout is what an event costs the transaction of its change:
// a tenant without endpoints (one query, nothing written) and one with
// three subscribed (the message, three deliveries, three River jobs).
func BenchmarkFanout(b *testing.B) {
	pool := testenv.Pool(b)
	svc, err := webhooks.New(webhooks.Config{Pool: pool, Sealer: testenv.Sealer(b), URLs: webhooks.URLPolicy{AllowPrivate: true},
		Queue: strings.ReplaceAll(strings.ToLower(testenv.Slug("whf")), "-", "_")})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, endpoints := range []int{0, 3} {
		b.Run(map[int]string{0: "none", 3: "3endpoints"}[endpoints], func(b *testing.B) {
			tenant := uuid.New()
			if _, err := pool.Exec(ctx, `INSERT INTO tenants (id, slug, name) VALUES ($1, $2, 'bench')`, tenant, strings.ToLower(testenv.Slug("whf"))); err != nil {
				b.Fatal(err)
			}
			u := "http://127.0.0.1:9/x"
			for range endpoints {
				if _, _, err := svc.Create(ctx, tenant, webhooks.EndpointInput{URL: &u}, actor); err != nil {
					b.Fatal(err)
				}
			}
			e := events.Event{TenantID: tenant, Type: events.UserCreated, At: time.Now(), Data: json.RawMessage(`{"user":{"id":1}}`)}
			for b.Loop() {
				if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return svc.Fanout(ctx, tx, e) }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
