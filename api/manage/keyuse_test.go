package manage_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/testenv"
)

// A key revoked through node A is refused by node B on the very next
// request: B's warm cache heard of it before Revoke returned.
func TestRevocationReachesEveryNode(t *testing.T) {
	nodeA := apitest.New(t, nil)
	nodeB := apitest.NewPeer(t, nodeA)
	k, secret := newKey(t, nodeA, uuid.Nil, nil, "tenants:read")
	path := "/tenants/" + nodeA.Tenant.Slug
	// Both nodes hold the key in memory (once their leases run).
	deadline := time.Now().Add(10 * time.Second)
	for nodeA.Assembly.APIKeys.Cached() == 0 || nodeB.Assembly.APIKeys.Cached() == 0 {
		for _, n := range []*apitest.Env{nodeA, nodeB} {
			if r := call(n, "GET", path, secret, ""); r.Code != http.StatusOK {
				t.Fatalf("before the revocation: %d %s", r.Code, r.Body)
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the nodes did not cache the key within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := nodeA.Assembly.APIKeys.Revoke(context.Background(), audit.Actor{Name: "test"}, uuid.Nil, k.ID); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, call(nodeB, "GET", path, secret, ""), http.StatusUnauthorized, "invalid_api_key")
	wantProblem(t, call(nodeA, "GET", path, secret, ""), http.StatusUnauthorized, "invalid_api_key")
}

// Every request made with a key is in the audit trail, actor the key, with
// the operation and the final status; refused ones too.
func TestKeyUseIsAudited(t *testing.T) {
	env := apitest.New(t, nil)
	k, secret := newKey(t, env, uuid.Nil, nil, "tenants:read")
	_, noScope := newKey(t, env, env.Tenant.ID, nil, "users:read")
	if r := call(env, "GET", "/tenants/"+env.Tenant.Slug, secret, ""); r.Code != http.StatusOK {
		t.Fatalf("%d %s", r.Code, r.Body)
	}
	wantProblem(t, call(env, "GET", "/tenants/"+env.Tenant.Slug, noScope, ""), http.StatusForbidden, "insufficient_scope")
	// An unknown key is no key's use: it is not in the trail.
	call(env, "GET", "/tenants/"+env.Tenant.Slug, "hp_nope", "")
	env.Assembly.Audit.Flush(context.Background())
	events, err := audit.List(context.Background(), testenv.Pool(t), env.Tenant.ID, 20)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range events {
		if e.Action == "api.request" {
			if e.Target != "GET /api/v1/tenants/{slug}" {
				t.Errorf("target %q", e.Target)
			}
			got = append(got, e.Actor[:len("apikey:")]+" "+statusOf(e))
			if e.Details["status"] == float64(200) && e.Actor != k.Actor() {
				t.Errorf("actor %q, want %q", e.Actor, k.Actor())
			}
		}
	}
	if len(got) != 2 || got[0] != "apikey: 403" || got[1] != "apikey: 200" {
		t.Errorf("api.request events: %v", got)
	}
}

func statusOf(e audit.Event) string {
	if s, ok := e.Details["status"].(float64); ok {
		return strconv.Itoa(int(s))
	}
	return "?"
}
