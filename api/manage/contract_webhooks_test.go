package manage_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/internal/webhooks"
	"github.com/hallpass/hallpass/tenants"
)

// contractReceiver answers every delivery the contract walk causes with 204.
var contractReceiver = sync.OnceValue(func() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
})

// newWebhook creates an endpoint of on, on the contract's receiver.
func newWebhook(t *testing.T, w *World, on *tenants.Tenant) webhooks.Endpoint {
	t.Helper()
	u := contractReceiver().URL + "/hook"
	e, _, err := w.Env.Assembly.Webhooks.Create(context.Background(), on.ID, webhooks.EndpointInput{URL: &u}, audit.Actor{Name: "contract"})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// sharedWebhooks holds one endpoint per tenant for the operations that do
// not consume theirs (a tenant's endpoints are capped).
var sharedWebhooks = struct {
	sync.Mutex
	m map[string]webhooks.Endpoint
}{m: map[string]webhooks.Endpoint{}}

func sharedWebhook(t *testing.T, w *World, on *tenants.Tenant) webhooks.Endpoint {
	sharedWebhooks.Lock()
	defer sharedWebhooks.Unlock()
	e, ok := sharedWebhooks.m[on.ID.String()]
	if !ok {
		e = newWebhook(t, w, on)
		sharedWebhooks.m[on.ID.String()] = e
	}
	return e
}

// Fixtures of the webhooks operations (see contract_test.go).
func init() {
	slugOnly := func(t *testing.T, w *World, on *tenants.Tenant) Call {
		return Call{Params: map[string]string{"slug": on.Slug}}
	}
	withEndpoint := func(t *testing.T, w *World, on *tenants.Tenant) Call {
		return Call{Params: map[string]string{"slug": on.Slug, "id": sharedWebhook(t, w, on).ID.String()}}
	}
	fixture("listWebhookEventTypes", slugOnly)
	fixture("listWebhooks", slugOnly)
	fixture("createWebhook", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		// Room for the next one: the walk creates more than a tenant may keep.
		if _, err := testenv.Pool(t).Exec(context.Background(), `DELETE FROM webhook_endpoints WHERE tenant_id = $1 AND description = 'contract'`, on.ID); err != nil {
			t.Fatal(err)
		}
		return Call{Params: map[string]string{"slug": on.Slug},
			Body: map[string]any{"url": contractReceiver().URL + "/new", "events": []string{"user.created"}, "description": "contract"}}
	})
	fixture("getWebhook", withEndpoint)
	fixture("updateWebhook", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		c := withEndpoint(t, w, on)
		c.Body = map[string]any{"description": "changed", "enabled": false}
		return c
	})
	fixture("deleteWebhook", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		return Call{Params: map[string]string{"slug": on.Slug, "id": newWebhook(t, w, on).ID.String()}}
	})
	fixture("rotateWebhookSecret", withEndpoint)
	fixture("sendWebhookTest", withEndpoint)
	fixture("listWebhookAttempts", withEndpoint)
	fixture("redeliverWebhookMessage", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		e := sharedWebhook(t, w, on)
		msg, err := w.Env.Assembly.Webhooks.SendTest(context.Background(), on.ID, e.ID, webhooks.TestPayload(on.Slug))
		if err != nil {
			t.Fatal(err)
		}
		return Call{Params: map[string]string{"slug": on.Slug, "id": e.ID.String(), "message_id": msg.String()}}
	})
	fixture("redeliverFailedWebhooks", func(t *testing.T, w *World, on *tenants.Tenant) Call {
		c := withEndpoint(t, w, on)
		c.Body = map[string]any{"since": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}
		return c
	})
	_ = apitest.Clients
}
