package manage_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hallpass/hallpass/api/apitest"
)

// hookReceiver records what is posted to it and answers 200.
type hookReceiver struct {
	*httptest.Server
	mu  sync.Mutex
	got []hookRequest
}

type hookRequest struct {
	header http.Header
	body   []byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, hookRequest{header: req.Header.Clone(), body: b})
		r.mu.Unlock()
		_, _ = io.WriteString(w, "received")
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *hookReceiver) wait(t *testing.T, n int) []hookRequest {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		r.mu.Lock()
		got := append([]hookRequest(nil), r.got...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
	}
	t.Fatalf("the receiver got fewer than %d requests", n)
	return nil
}

func verifies(secret string, r hookRequest) bool {
	wh, err := standardwebhooks.NewWebhook(secret)
	return err == nil && wh.Verify(r.body, r.header) == nil
}

// TestWebhooksAPI walks an endpoint's life through the API: refused
// input, creation with its secret shown once, a signed test event, the
// log, a rotation signing with both secrets, redelivery, deletion.
func TestWebhooksAPI(t *testing.T) {
	env := apitest.New(t, nil)
	_, key := newKey(t, env, env.Tenant.ID, nil, "webhooks:read", "webhooks:write", "audit:read")
	_, reader := newKey(t, env, env.Tenant.ID, nil, "webhooks:read")
	base := "/tenants/" + env.Tenant.Slug + "/webhooks"
	rcv := newHookReceiver(t)

	for _, tc := range []struct{ body, field, code string }{
		{`{"url":"ftp://example.com/x"}`, "/url", "insecure_url"},
		{`{"url":""}`, "/url", "required"},
		{`{"description":"no url"}`, "/url", "required"},
		{`{"url":"not a url"}`, "/url", "invalid_url"},
		{`{"url":"` + rcv.URL + `","events":["user.created","user.exploded"]}`, "/events", "unknown_event_type"},
		{`{"url":"` + rcv.URL + `","description":"` + strings.Repeat("d", 501) + `"}`, "/description", "too_long"},
		{`{"url":"` + rcv.URL + `","secret":"mine"}`, "/secret", "unknown_field"},
	} {
		r := call(env, "POST", base, key, tc.body)
		wantProblem(t, r, 422, "invalid_request")
		if errs, _ := r.JSON["errors"].([]any); len(errs) != 1 || errs[0].(map[string]any)["field"] != tc.field || errs[0].(map[string]any)["code"] != tc.code {
			t.Errorf("%s: %s", tc.body, r.Body)
		}
	}
	wantProblem(t, call(env, "POST", base, reader, `{"url":"`+rcv.URL+`"}`), 403, "insufficient_scope")
	if l := call(env, "GET", base, reader, ""); l.Code != 200 || len(l.JSON["items"].([]any)) != 0 {
		t.Fatalf("a refused endpoint was saved: %s", l.Body)
	}

	c := call(env, "POST", base, key, `{"url":"`+rcv.URL+`/in","events":["user.created"],"description":"CRM sync"}`)
	secret, _ := c.JSON["secret"].(string)
	id, _ := c.JSON["id"].(string)
	if c.Code != 201 || !strings.HasPrefix(secret, "whsec_") || id == "" || c.Header.Get("Location") != "/api/v1"+base+"/"+id {
		t.Fatalf("create: %d %s", c.Code, c.Body)
	}
	g := call(env, "GET", base+"/"+id, reader, "")
	if g.Code != 200 || g.JSON["secret"] != nil || strings.Contains(string(g.Body), secret) || g.JSON["enabled"] != true {
		t.Fatalf("get: %s", g.Body)
	}
	wantProblem(t, call(env, "GET", base+"/not-a-uuid", reader, ""), 404, "not_found")
	wantProblem(t, call(env, "GET", base+"/00000000-0000-0000-0000-000000000000", reader, ""), 404, "not_found")
	p := call(env, "PATCH", base+"/"+id, key, `{"events":[]}`)
	if p.Code != 200 || len(p.JSON["events"].([]any)) != 0 || p.JSON["description"] != "CRM sync" {
		t.Fatalf("patch: %s", p.Body)
	}

	tst := call(env, "POST", base+"/"+id+"/test", key, "")
	if tst.Code != 202 || tst.JSON["message_id"] == nil {
		t.Fatalf("test: %s", tst.Body)
	}
	got := rcv.wait(t, 1)
	if !verifies(secret, got[0]) || !strings.Contains(string(got[0].body), `"webhook.test"`) ||
		!strings.Contains(string(got[0].body), env.Tenant.Slug) || got[0].header.Get("webhook-id") != tst.JSON["message_id"] {
		t.Fatalf("test event: %v %s", got[0].header, got[0].body)
	}
	var attempts []any
	for deadline := time.Now().Add(5 * time.Second); len(attempts) == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		attempts, _ = call(env, "GET", base+"/"+id+"/attempts", reader, "").JSON["items"].([]any)
	}
	if len(attempts) != 1 {
		t.Fatalf("attempts: %v", attempts)
	}
	a := attempts[0].(map[string]any)
	if a["outcome"] != "delivered" || a["response_status"] != float64(200) || a["response_excerpt"] != "received" || a["trigger"] != "test" ||
		a["event_type"] != "webhook.test" {
		t.Errorf("attempt %v", a)
	}

	rot := call(env, "POST", base+"/"+id+"/rotate-secret", key, "")
	fresh, _ := rot.JSON["secret"].(string)
	if rot.Code != 200 || fresh == secret || !strings.HasPrefix(fresh, "whsec_") || rot.JSON["previous_secret_expires_at"] == nil {
		t.Fatalf("rotate: %s", rot.Body)
	}
	msg := tst.JSON["message_id"].(string)
	if r := call(env, "POST", base+"/"+id+"/messages/"+msg+"/redeliver", key, ""); r.Code != 202 {
		t.Fatalf("redeliver: %d %s", r.Code, r.Body)
	}
	got = rcv.wait(t, 2)
	if !verifies(secret, got[1]) || !verifies(fresh, got[1]) || got[1].header.Get("webhook-id") != msg {
		t.Errorf("redelivery after rotation: %v", got[1].header)
	}
	wantProblem(t, call(env, "POST", base+"/"+id+"/messages/00000000-0000-0000-0000-000000000000/redeliver", key, ""), 404, "not_found")
	wantProblem(t, call(env, "POST", base+"/"+id+"/redeliver", key, `{}`), 422, "invalid_request")
	if r := call(env, "POST", base+"/"+id+"/redeliver", key, `{"since":"2020-01-01T00:00:00Z"}`); r.Code != 202 || r.JSON["queued"] != float64(0) {
		t.Errorf("redeliver failed: %s", r.Body)
	}

	types := call(env, "GET", base+"/event-types", reader, "")
	found := false
	for _, it := range types.JSON["items"].([]any) {
		it := it.(map[string]any)
		if it["type"] == "user.created" && it["schema"] != nil && it["description"] != "" {
			found = true
		}
	}
	if types.Code != 200 || !found {
		t.Errorf("event types: %s", types.Body)
	}

	if d := call(env, "DELETE", base+"/"+id, key, ""); d.Code != 204 {
		t.Fatalf("delete: %d %s", d.Code, d.Body)
	}
	wantProblem(t, call(env, "DELETE", base+"/"+id, key, ""), 404, "not_found")
	ev := call(env, "GET", "/tenants/"+env.Tenant.Slug+"/audit-events?target="+id, key, "")
	var actions []string
	for _, it := range ev.JSON["items"].([]any) {
		actions = append(actions, it.(map[string]any)["action"].(string))
	}
	if strings.Join(actions, " ") != "webhook.endpoint.delete webhook.endpoint.rotate_secret webhook.endpoint.update webhook.endpoint.create" {
		t.Errorf("audit: %v", actions)
	}
}

// TestSignupDeliversUserCreated: a sign-up through the headless API
// reaches the subscribed endpoint as user.created, signed, with the user.
func TestSignupDeliversUserCreated(t *testing.T) {
	env := apitest.New(t, nil)
	_, key := newKey(t, env, env.Tenant.ID, nil, "webhooks:write")
	rcv := newHookReceiver(t)
	c := call(env, "POST", "/tenants/"+env.Tenant.Slug+"/webhooks", key, `{"url":"`+rcv.URL+`","events":["user.created"]}`)
	if c.Code != 201 {
		t.Fatalf("create: %s", c.Body)
	}
	if r := env.Do("app", "POST", "auth/signup", `{"email":"ada-hooks@example.com","username":"adahooks","password":"correct horse battery staple"}`); r.Code != 200 && r.Code != 401 {
		t.Fatalf("signup: %d %s", r.Code, r.Body)
	}
	got := rcv.wait(t, 1)
	body := string(got[0].body)
	if !verifies(c.JSON["secret"].(string), got[0]) || !strings.Contains(body, `"type":"user.created"`) ||
		!strings.Contains(body, "ada-hooks@example.com") || !strings.Contains(body, `"tenant":"`+env.Tenant.Slug+`"`) {
		t.Fatalf("delivery: %s", body)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(rcv.wait(t, 1)); n != 1 {
		t.Errorf("%d deliveries of one sign-up (session.created is not subscribed)", n)
	}
}
