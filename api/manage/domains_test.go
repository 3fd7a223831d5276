package manage_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/api/apitest"
)

// txtRecords answers TXT lookups from a map.
type txtRecords struct {
	mu sync.Mutex
	m  map[string][]string
}

func (f *txtRecords) LookupTXT(_ context.Context, name string) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r, ok := f.m[strings.TrimSuffix(name, ".")]; ok {
		return r, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

func TestDomains(t *testing.T) {
	env := apitest.New(t, nil)
	dns := &txtRecords{m: map[string][]string{}}
	env.Assembly.Manage.SetTXTResolver(dns)
	k, key := newKey(t, env, env.Tenant.ID, nil, "domains:read", "domains:write", "audit:read")
	_, reader := newKey(t, env, env.Tenant.ID, nil, "domains:read")
	base := "/tenants/" + env.Tenant.Slug + "/domains"
	domain := "auth-" + uuid.NewString()[:8] + ".example.com"
	count := func() int {
		t.Helper()
		l := call(env, "GET", base, reader, "")
		if l.Code != 200 {
			t.Fatalf("list: %d %s", l.Code, l.Body)
		}
		return len(l.JSON["items"].([]any))
	}
	n0 := count()

	for _, tc := range []struct {
		body, code string
		status     int
	}{
		{`{"domain":"not a domain"}`, "invalid_request", 422},
		{`{"domain":"https://x.example.com/"}`, "invalid_request", 422},
		{`{"domain":"acme.` + apitest.PlatformHost + `"}`, "invalid_request", 422},
		{`{"domain":1}`, "invalid_request", 422},
		{`{"domain":"` + domain + `","x":1}`, "invalid_request", 422},
		{`{`, "malformed_json", 400},
	} {
		wantProblem(t, call(env, "POST", base, key, tc.body), tc.status, tc.code)
	}
	wantProblem(t, call(env, "POST", base, reader, `{"domain":"`+domain+`"}`), http.StatusForbidden, "insufficient_scope")
	if count() != n0 {
		t.Fatal("a refused domain was written")
	}

	a := call(env, "POST", base, key, `{"domain":"`+domain+`"}`)
	token, _ := a.JSON["verification_token"].(string)
	if a.Code != 201 || a.JSON["verified"] != false || token == "" || a.JSON["challenge_name"] != "_hallpass-challenge."+domain {
		t.Fatalf("add: %d %s", a.Code, a.Body)
	}
	wantProblem(t, call(env, "POST", base, key, `{"domain":"`+domain+`"}`), 409, "domain_taken")
	if count() != n0+1 {
		t.Fatal("not listed")
	}

	wantProblem(t, call(env, "POST", base+"/"+domain+"/verify", key, ""), 422, "domain_not_verified")
	dns.mu.Lock()
	dns.m["_hallpass-challenge."+domain] = []string{"other", token}
	dns.mu.Unlock()
	wantProblem(t, call(env, "POST", base+"/nothere.example.com/verify", key, ""), 404, "not_found")
	v := call(env, "POST", base+"/"+domain+"/verify", key, "")
	if v.Code != 200 || v.JSON["verified"] != true {
		t.Fatalf("verify: %d %s", v.Code, v.Body)
	}
	tn, _ := env.Store.Get(t.Context(), env.Tenant.Slug)
	if len(tn.Domains) == 0 || !tn.Domains[len(tn.Domains)-1].Verified() {
		t.Errorf("stored: %+v", tn.Domains)
	}

	wantProblem(t, call(env, "DELETE", base+"/nothere.example.com", key, ""), 404, "not_found")
	if d := call(env, "DELETE", base+"/"+domain, key, ""); d.Code != 204 {
		t.Fatalf("remove: %d %s", d.Code, d.Body)
	}
	if count() != n0 {
		t.Error("still listed")
	}
	ev := call(env, "GET", "/tenants/"+env.Tenant.Slug+"/audit-events?target="+domain+"&actor="+k.Actor(), key, "")
	var actions []any
	for _, it := range ev.JSON["items"].([]any) {
		actions = append(actions, it.(map[string]any)["action"])
	}
	if len(actions) != 3 || actions[0] != "tenant.domain.remove" || actions[2] != "tenant.domain.add" {
		t.Errorf("audit: %v", actions)
	}
}
