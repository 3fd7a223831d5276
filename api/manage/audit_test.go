package manage_test

import (
	"net/url"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/testenv"
)

func TestAuditEvents(t *testing.T) {
	env := apitest.New(t, nil)
	other := apitest.New(t, nil)
	_, key := newKey(t, env, env.Tenant.ID, nil, "audit:read")
	_, noScope := newKey(t, env, env.Tenant.ID, nil, "users:read")
	ctx := t.Context()
	start := time.Now().Add(-time.Second)
	for i, e := range []audit.Event{
		{Actor: "alice", Action: "test.one", Target: "t1"},
		{Actor: "bob", Action: "test.two", Target: "t2"},
		{Actor: "alice", Action: "test.two", Target: "t3"},
	} {
		e.TenantID = env.Tenant.ID
		e.Details = map[string]any{"n": i}
		if err := audit.Record(ctx, testenv.Pool(t), e); err != nil {
			t.Fatal(err)
		}
	}
	if err := audit.Record(ctx, testenv.Pool(t), audit.Event{TenantID: other.Tenant.ID, Actor: "alice", Action: "test.one", Target: "t1"}); err != nil {
		t.Fatal(err)
	}
	base := "/tenants/" + env.Tenant.Slug + "/audit-events"
	targets := func(q string) []string {
		t.Helper()
		r := call(env, "GET", base+"?"+q, key, "")
		if r.Code != 200 {
			t.Fatalf("%s: %d %s", q, r.Code, r.Body)
		}
		var out []string
		for _, it := range r.JSON["items"].([]any) {
			out = append(out, it.(map[string]any)["target"].(string))
		}
		return out
	}
	eq := func(q string, want ...string) {
		t.Helper()
		got := targets(q)
		if len(got) != len(want) {
			t.Errorf("%s: got %v want %v", q, got, want)
			return
		}
		for i := range got {
			if got[i] != want[i] {
				t.Errorf("%s: got %v want %v", q, got, want)
			}
		}
	}
	since := url.QueryEscape(start.UTC().Format(time.RFC3339Nano))
	eq("actor=alice&since="+since, "t3", "t1")
	eq("action=test.two&since="+since, "t3", "t2")
	eq("target=t2", "t2")
	eq("action=test.one&actor=bob")
	eq("until=" + url.QueryEscape(start.UTC().Format(time.RFC3339)) + "&action=test.one")

	// Paging with filters: the cursor continues the same listing only.
	r := call(env, "GET", base+"?actor=alice&since="+since+"&limit=1", key, "")
	cur, _ := r.JSON["next_cursor"].(string)
	if cur == "" {
		t.Fatalf("no cursor: %s", r.Body)
	}
	eq("actor=alice&since="+since+"&limit=1&cursor="+cur, "t1")
	wantProblem(t, call(env, "GET", base+"?actor=bob&since="+since+"&limit=1&cursor="+cur, key, ""), 400, "invalid_cursor")

	wantProblem(t, call(env, "GET", base+"?since=yesterday", key, ""), 422, "invalid_request")
	wantProblem(t, call(env, "GET", base+"?until=2026-13-01T00:00:00Z", key, ""), 422, "invalid_request")
	wantProblem(t, call(env, "GET", base, noScope, ""), 403, "insufficient_scope")
	wantProblem(t, call(env, "GET", "/tenants/"+other.Tenant.Slug+"/audit-events", key, ""), 404, "not_found")
}
