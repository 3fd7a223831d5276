package manage_test

import (
	"net/http"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
)

func TestSigningKeys(t *testing.T) {
	env := apitest.New(t, nil)
	k, key := newKey(t, env, env.Tenant.ID, nil, "keys:read", "keys:write", "audit:read")
	_, reader := newKey(t, env, env.Tenant.ID, nil, "keys:read")
	base := "/tenants/" + env.Tenant.Slug + "/signing-keys"

	if l := call(env, "GET", base, reader, ""); l.Code != 200 || l.JSON["items"] == nil {
		t.Fatalf("list: %d %s", l.Code, l.Body)
	}
	wantProblem(t, call(env, "POST", base, reader, ""), http.StatusForbidden, "insufficient_scope")
	wantProblem(t, call(env, "POST", base, key, `{"alg":"none"}`), 422, "invalid_request")
	wantProblem(t, call(env, "POST", base, key, `{"publish_delay_seconds":-1}`), 422, "invalid_request")
	wantProblem(t, call(env, "POST", base, key, `{"kid":"x"}`), 422, "invalid_request")
	wantProblem(t, call(env, "POST", base, key, `nope`), 400, "malformed_json")
	if l := call(env, "GET", base, reader, ""); len(l.JSON["items"].([]any)) != 0 {
		t.Fatalf("a refused rotation made a key: %s", l.Body)
	}

	r := call(env, "POST", base, key, `{"alg":"ES256","publish_delay_seconds":3600}`)
	if r.Code != 201 || r.JSON["alg"] != "ES256" || r.JSON["state"] != "next" || r.JSON["public_jwk"] == nil {
		t.Fatalf("rotate: %d %s", r.Code, r.Body)
	}
	kid := r.JSON["kid"].(string)
	if r.JSON["public_jwk"].(map[string]any)["d"] != nil {
		t.Fatal("private half shown")
	}
	l := call(env, "GET", base, reader, "")
	items := l.JSON["items"].([]any)
	if len(items) != 1 || items[0].(map[string]any)["kid"] != kid {
		t.Fatalf("list after rotate: %s", l.Body)
	}

	wantProblem(t, call(env, "POST", base+"/no-such-kid/retire", key, ""), 404, "not_found")
	if rr := call(env, "POST", base+"/"+kid+"/retire", key, ""); rr.Code != 204 {
		t.Fatalf("retire: %d %s", rr.Code, rr.Body)
	}
	wantProblem(t, call(env, "POST", base+"/"+kid+"/retire", key, ""), 409, "key_retired")
	if l := call(env, "GET", base, reader, ""); l.JSON["items"].([]any)[0].(map[string]any)["state"] != "retired" {
		t.Errorf("after retire: %s", l.Body)
	}
	ev := call(env, "GET", "/tenants/"+env.Tenant.Slug+"/audit-events?target="+kid+"&actor="+k.Actor(), key, "")
	if items, _ := ev.JSON["items"].([]any); len(items) != 2 {
		t.Errorf("audit: %s", ev.Body)
	}
}
