package manage_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttputil"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/api/manage"
	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/testenv"
)

// A body over the limit is refused by the HTTP server before any handler
// runs; the management API still answers problem+json (with a request id),
// and the headless API's answer to the same body is unchanged.
func TestBodyLimit(t *testing.T) {
	env := apitest.New(t, nil)
	_, secret := newKey(t, env, uuid.Nil, nil, "tenants:write")
	big := `{"slug":"` + strings.Repeat("x", 10<<20) + `"}`
	// The server refuses it while reading: served on a listener, as in
	// production (Fiber's Test reports the refusal as an error).
	r := overListener(t, env, "POST", manage.Prefix+"/tenants", big, "Authorization", "Bearer "+secret, "X-Request-Id", "big-body-1")
	wantProblem(t, r, http.StatusRequestEntityTooLarge, "body_too_large")
	if r.Header.Get("X-Request-Id") != "big-body-1" {
		t.Errorf("request id %q", r.Header.Get("X-Request-Id"))
	}
	// The problem has a request id even when none was sent.
	r = overListener(t, env, "POST", manage.Prefix+"/tenants", big)
	wantProblem(t, r, http.StatusRequestEntityTooLarge, "body_too_large")
	if r.Header.Get("X-Request-Id") == "" {
		t.Error("no request id")
	}
	// A compressed body is refused, never inflated.
	wantProblem(t, call(env, "POST", "/tenants", secret, `{}`, "Content-Encoding", "gzip"), http.StatusUnsupportedMediaType, "unsupported_content_encoding")

	// The headless API keeps its envelope for the same body, by path and
	// by host, and so does /api/v1 on a tenant's host.
	for _, tc := range []struct{ host, path string }{
		{apitest.PlatformHost, "/t/" + env.Tenant.Slug + "/_allauth/browser/v1/auth/login"},
		{env.Tenant.Slug + "." + apitest.PlatformHost, "/_allauth/browser/v1/auth/login"},
		{env.Tenant.Slug + "." + apitest.PlatformHost, manage.Prefix + "/tenants"},
	} {
		h := overListener(t, env, "POST", tc.path, big, "Host", tc.host)
		if h.Code != http.StatusRequestEntityTooLarge || h.Header.Get("Content-Type") != "application/json" || h.JSON["status"] != float64(413) {
			t.Errorf("%s%s: %d %s %s", tc.host, tc.path, h.Code, h.Header.Get("Content-Type"), h.Body)
		}
	}
}

// overListener sends one request to env's platform app served on an
// in-memory listener, through the HTTP server's own limits.
func overListener(t *testing.T, env *apitest.Env, method, path, body string, headers ...string) *apitest.Response {
	t.Helper()
	ln := fasthttputil.NewInmemoryListener()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = env.Server.Platform.Listener(ln)
	}()
	defer func() {
		_ = env.Server.Platform.Shutdown()
		<-done
	}()
	req, err := http.NewRequest(method, "http://"+apitest.PlatformHost+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	conn, err := ln.Dial()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The server answers before it reads the whole body and hangs up: the
	// write fails, the answer is there.
	go func() { _ = req.Write(conn) }()
	res, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := &apitest.Response{T: t, Code: res.StatusCode, Header: res.Header, Body: b}
	_ = json.Unmarshal(b, &out.JSON)
	return out
}

// Every answer echoes the request id it was given (or made), problems carry
// it in the body too.
func TestRequestIDs(t *testing.T) {
	env := apitest.New(t, nil)
	_, secret := newKey(t, env, uuid.Nil, nil, "tenants:read")
	r := call(env, "GET", "/tenants/"+env.Tenant.Slug, secret, "", "X-Request-Id", "trace-abc.123")
	if r.Code != 200 || r.Header.Get("X-Request-Id") != "trace-abc.123" {
		t.Fatalf("%d %q", r.Code, r.Header.Get("X-Request-Id"))
	}
	p := call(env, "GET", "/tenants/nope-"+uuid.NewString()[:6], secret, "", "X-Request-Id", "trace-def")
	wantProblem(t, p, 404, "not_found")
	if p.JSON["request_id"] != "trace-def" {
		t.Errorf("problem request_id %v", p.JSON["request_id"])
	}
	// Without one, the server makes one and still echoes it.
	q := call(env, "GET", "/tenants/nope", "", "")
	if id := q.Header.Get("X-Request-Id"); id == "" || q.JSON["request_id"] != id {
		t.Errorf("made-up id %q, body %s", id, q.Body)
	}
}

// Each key has its own budget; past it, 429 with Retry-After, and other
// keys are unaffected.
func TestRateLimitPerKey(t *testing.T) {
	env := apitest.New(t, nil)
	env.Assembly.Manage.SetRateLimit(manage.RateLimit{Requests: 3, Period: time.Minute})
	t.Cleanup(func() { env.Assembly.Manage.SetRateLimit(manage.DefaultRateLimit) })
	_, a := newKey(t, env, uuid.Nil, nil, "tenants:read")
	_, b := newKey(t, env, env.Tenant.ID, nil, "settings:read")
	path := "/tenants/" + env.Tenant.Slug
	for i := range 3 {
		if r := call(env, "GET", path, a, ""); r.Code != 200 {
			t.Fatalf("request %d: %d %s", i, r.Code, r.Body)
		}
	}
	r := call(env, "GET", path, a, "")
	wantProblem(t, r, http.StatusTooManyRequests, "rate_limited")
	if r.Header.Get("Retry-After") != "60" {
		t.Errorf("Retry-After %q", r.Header.Get("Retry-After"))
	}
	if r := call(env, "GET", path+"/settings", b, ""); r.Code != 200 {
		t.Errorf("another key: %d %s", r.Code, r.Body)
	}
}

// A read whose Postgres round trip overlaps the rate limit's (getUser's
// Load) answers as any other operation past the budget: 429, with no user
// in it, and a missing user past the budget is 429 too, not 404. Only GET
// operations have a Load.
func TestRateLimitOverlappedRead(t *testing.T) {
	env := apitest.New(t, emailLogin)
	env.Assembly.Manage.SetRateLimit(manage.RateLimit{Requests: 3, Period: time.Minute})
	t.Cleanup(func() { env.Assembly.Manage.SetRateLimit(manage.DefaultRateLimit) })
	for _, op := range env.Assembly.Manage.Operations() {
		if op.Load != nil && op.Method != http.MethodGet {
			t.Errorf("%s: a Load on %s", op.ID, op.Method)
		}
	}
	_, secret := newKey(t, env, env.Tenant.ID, nil, "users:read", "users:write")
	u := createUser(t, env, secret, `{"emails":[{"email":"limited@example.com","verified":true}]}`)
	if r := call(env, "GET", userPath(env, idOf(u)), secret, ""); r.Code != 200 || r.JSON["id"] != u["id"] {
		t.Fatalf("get: %d %s", r.Code, r.Body)
	}
	wantProblem(t, call(env, "GET", userPath(env, "999999"), secret, ""), 404, "not_found")
	r := call(env, "GET", userPath(env, idOf(u)), secret, "")
	wantProblem(t, r, http.StatusTooManyRequests, "rate_limited")
	if r.Header.Get("Retry-After") != "60" || strings.Contains(string(r.Body), "limited@example.com") {
		t.Errorf("Retry-After %q, body %s", r.Header.Get("Retry-After"), r.Body)
	}
	wantProblem(t, call(env, "GET", userPath(env, "999999"), secret, ""), http.StatusTooManyRequests, "rate_limited")
}

// A budget large enough for blocks of several requests (leased by the
// node from Redis) is still exact on one node: every request within it
// answers, through the overlapped read and a plain operation alike, and
// the next is 429 with the same Retry-After.
func TestRateLimitLeased(t *testing.T) {
	env := apitest.New(t, emailLogin)
	env.Assembly.Manage.SetRateLimit(manage.RateLimit{Requests: 200, Period: time.Minute}) // blocks up to 12
	t.Cleanup(func() { env.Assembly.Manage.SetRateLimit(manage.DefaultRateLimit) })
	_, secret := newKey(t, env, env.Tenant.ID, nil, "users:read", "users:write")
	u := createUser(t, env, secret, `{"emails":[{"email":"leased@example.com","verified":true}]}`) // 1
	for i := range 199 {
		path := userPath(env, idOf(u))
		if i%4 == 3 {
			path = "/tenants/" + env.Tenant.Slug + "/users?limit=1"
		}
		if r := call(env, "GET", path, secret, ""); r.Code != 200 {
			t.Fatalf("request %d: %d %s", i+2, r.Code, r.Body)
		}
	}
	r := call(env, "GET", userPath(env, idOf(u)), secret, "")
	wantProblem(t, r, http.StatusTooManyRequests, "rate_limited")
	if r.Header.Get("Retry-After") != "60" || strings.Contains(string(r.Body), "leased@example.com") {
		t.Errorf("Retry-After %q, body %s", r.Header.Get("Retry-After"), r.Body)
	}
	wantProblem(t, call(env, "GET", "/tenants/"+env.Tenant.Slug+"/users", secret, ""), http.StatusTooManyRequests, "rate_limited")
}

// Page sizes and cursors are checked on every list.
func TestPageLimitsAndCursors(t *testing.T) {
	env := apitest.New(t, nil)
	_, platform := newKey(t, env, uuid.Nil, nil, "tenants:read", "audit:read", "settings:read")
	slug := env.Tenant.Slug
	for _, path := range []string{"/tenants", "/tenants/" + slug + "/audit-events", "/tenants/" + slug + "/settings/history"} {
		wantProblem(t, call(env, "GET", path+"?limit=1000000000", platform, ""), 422, "invalid_request")
		wantProblem(t, call(env, "GET", path+"?limit=0", platform, ""), 422, "invalid_request")
		wantProblem(t, call(env, "GET", path+"?cursor=eyJ4IjoxfQ.AAAA", platform, ""), 400, "invalid_cursor")
	}
	// A real cursor of one list, altered by one character, or moved to
	// another list, is refused.
	r := call(env, "GET", "/tenants?limit=1", platform, "")
	cur, _ := r.JSON["next_cursor"].(string)
	if r.Code != 200 || cur == "" {
		t.Fatalf("tenants page: %d %s", r.Code, r.Body)
	}
	if r := call(env, "GET", "/tenants?limit=1&cursor="+cur, platform, ""); r.Code != 200 {
		t.Fatalf("next page: %d %s", r.Code, r.Body)
	}
	tampered := "A" + cur[1:]
	if cur[0] == 'A' {
		tampered = "B" + cur[1:]
	}
	wantProblem(t, call(env, "GET", "/tenants?cursor="+tampered, platform, ""), 400, "invalid_cursor")
	wantProblem(t, call(env, "GET", "/tenants/"+slug+"/audit-events?cursor="+cur, platform, ""), 400, "invalid_cursor")
}

// Idempotency-Key: the same request replays the first answer (and does
// nothing again), another request with the key is 422, a request while the
// first runs is 409, a malformed key is 400; keys are per API key.
func TestIdempotencyKey(t *testing.T) {
	env := apitest.New(t, nil)
	k, secret := newKey(t, env, uuid.Nil, nil, "tenants:write", "tenants:read", "audit:read")
	_, other := newKey(t, env, uuid.Nil, nil, "tenants:write")
	slug := "idem-" + uuid.NewString()[:8]
	body := `{"slug":"` + slug + `","name":"Idem"}`
	key := "create-" + slug
	first := call(env, "POST", "/tenants", secret, body, "Idempotency-Key", key)
	if first.Code != 201 {
		t.Fatalf("create: %d %s", first.Code, first.Body)
	}
	// The kept answer is sealed: Redis holds the fingerprint and ciphertext,
	// nothing of the answer (its slug, its headers) in clear.
	sum := sha256.Sum256([]byte(key))
	redisKey := "hp:{" + uuid.Nil.String() + "}:idem:" + k.ID.String() + ":" + hex.EncodeToString(sum[:])
	rdb := testenv.Redis(t)
	raw, err := rdb.Get(t.Context(), redisKey).Result()
	if err != nil || !strings.Contains(raw, `"answer":"`) || strings.Contains(raw, slug) || strings.Contains(raw, "Location") {
		t.Fatalf("stored record: %q, %v", raw, err)
	}
	again := call(env, "POST", "/tenants", secret, body, "Idempotency-Key", key)
	if again.Code != 201 || string(again.Body) != string(first.Body) || again.Header.Get("Idempotent-Replayed") != "true" ||
		again.Header.Get("Location") != first.Header.Get("Location") || again.Header.Get("Content-Type") != first.Header.Get("Content-Type") {
		t.Fatalf("replay: %d %v %s", again.Code, again.Header, again.Body)
	}
	// Without the key the same body is a second attempt: the slug is taken.
	wantProblem(t, call(env, "POST", "/tenants", secret, body), 409, "slug_taken")
	// The same key with another body.
	wantProblem(t, call(env, "POST", "/tenants", secret, `{"slug":"`+slug+`-2"}`, "Idempotency-Key", key), 422, "idempotency_key_reused")
	// Another API key's same Idempotency-Key is its own.
	wantProblem(t, call(env, "POST", "/tenants", other, body, "Idempotency-Key", key), 409, "slug_taken")
	// A 4xx answer is kept as well.
	first4 := call(env, "POST", "/tenants", other, `{"slug":"`+slug+`", "name":"x"}`, "Idempotency-Key", key+"-4")
	wantProblem(t, first4, 409, "slug_taken")
	// A replay is the first answer as it was (its body names the first
	// request's id; the header is this request's).
	again4 := call(env, "POST", "/tenants", other, `{"slug":"`+slug+`", "name":"x"}`, "Idempotency-Key", key+"-4")
	if again4.Code != 409 || string(again4.Body) != string(first4.Body) || again4.Header.Get("Idempotent-Replayed") != "true" ||
		again4.Header.Get("Content-Type") != manage.ProblemType {
		t.Errorf("4xx not replayed: %d %s", again4.Code, again4.Body)
	}
	// One creation only.
	tt, err := env.Store.Get(t.Context(), slug)
	if err != nil {
		t.Fatal(err)
	}
	events := call(env, "GET", "/tenants/"+slug+"/audit-events?action=tenant.create", secret, "")
	if items, _ := events.JSON["items"].([]any); len(items) != 1 {
		t.Errorf("creations of %s: %s", tt.Slug, events.Body)
	}
	for _, bad := range []string{strings.Repeat("k", 256), "tab\there", "é"} {
		wantProblem(t, call(env, "POST", "/tenants", secret, body, "Idempotency-Key", bad), 400, "invalid_idempotency_key")
	}

	// In flight: many identical requests at once; one creates, the others
	// are replays or 409 in progress, never a second creation.
	slug2 := "idem-" + uuid.NewString()[:8]
	body2 := `{"slug":"` + slug2 + `"}`
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() {
			codes[i] = call(env, "POST", "/tenants", secret, body2, "Idempotency-Key", "k2-"+slug2).Code
		})
	}
	wg.Wait()
	created := 0
	for _, c := range codes {
		switch c {
		case 201:
			created++
		case 409:
		default:
			t.Errorf("concurrent codes %v", codes)
		}
	}
	if created == 0 {
		t.Errorf("codes %v", codes)
	}
	if items, _ := call(env, "GET", "/tenants/"+slug2+"/audit-events?action=tenant.create", secret, "").JSON["items"].([]any); len(items) != 1 {
		t.Errorf("concurrent creations: %d", len(items))
	}
}

// While a request with an Idempotency-Key runs (its record is pending in
// Redis), the same key answers 409 and does nothing; once the record
// lapses (its node died), the key can be used again.
// An answer that cannot be opened (sealed under a master key this node no
// longer has, or damaged) is never taken as leave to run the request again.
func TestIdempotencyUnreadableAnswer(t *testing.T) {
	env := apitest.New(t, nil)
	k, secret := newKey(t, env, uuid.Nil, nil, "tenants:write")
	slug := "unread-" + uuid.NewString()[:8]
	body := `{"slug":"` + slug + `"}`
	sum := sha256.Sum256([]byte("unread-key"))
	redisKey := "hp:{" + uuid.Nil.String() + "}:idem:" + k.ID.String() + ":" + hex.EncodeToString(sum[:])
	fp := sha256.Sum256([]byte("POST\x00" + manage.Prefix + "/tenants\x00\x00application/json\x00" + body + "\x00"))
	done := `tok` + "\n" + `{"fp":"` + hex.EncodeToString(fp[:]) + `","done":true,"answer":"hps1:unknownkey:bm90LWEtc2VhbGVkLWFuc3dlcg"}`
	if err := testenv.Redis(t).Set(t.Context(), redisKey, done, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, call(env, "POST", "/tenants", secret, body, "Idempotency-Key", "unread-key"), http.StatusServiceUnavailable, "unavailable")
	if _, err := env.Store.Get(t.Context(), slug); err == nil {
		t.Fatal("the request ran although its key's answer exists")
	}
}

func TestIdempotencyInFlight(t *testing.T) {
	env := apitest.New(t, nil)
	k, secret := newKey(t, env, uuid.Nil, nil, "tenants:write")
	slug := "flight-" + uuid.NewString()[:8]
	body := `{"slug":"` + slug + `"}`
	sum := sha256.Sum256([]byte("flight-key"))
	redisKey := "hp:{" + uuid.Nil.String() + "}:idem:" + k.ID.String() + ":" + hex.EncodeToString(sum[:])
	rdb := testenv.Redis(t)
	// The request's fingerprint: method, URL, If-Match, content type, body.
	fp := sha256.Sum256([]byte("POST\x00" + manage.Prefix + "/tenants\x00\x00application/json\x00" + body + "\x00"))
	pending := `sometoken` + "\n" + `{"fp":"` + hex.EncodeToString(fp[:]) + `","done":false}`
	if err := rdb.Set(t.Context(), redisKey, pending, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
	r := call(env, "POST", "/tenants", secret, body, "Idempotency-Key", "flight-key")
	wantProblem(t, r, http.StatusConflict, "idempotency_in_progress")
	if r.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if _, err := env.Store.Get(t.Context(), slug); err == nil {
		t.Fatal("created while another request held the key")
	}
	rdb.Del(t.Context(), redisKey)
	if r := call(env, "POST", "/tenants", secret, body, "Idempotency-Key", "flight-key"); r.Code != 201 {
		t.Fatalf("after the record lapsed: %d %s", r.Code, r.Body)
	}
	t.Cleanup(func() { _ = env.Store.Delete(context.Background(), slug, "test") })
	// The stored answer lives for a day.
	if ttl := rdb.TTL(t.Context(), redisKey).Val(); ttl < 23*time.Hour || ttl > 24*time.Hour {
		t.Errorf("ttl %v", ttl)
	}
}

// BenchmarkGetUserHandler drives GET /api/v1/tenants/{slug}/users/{id}
// through the platform app's fasthttp handler (no net/http conversion,
// unlike BenchmarkGetUser): the route's own per-request cost, with its
// Postgres round trip and the rate limit, as the server runs it.
func BenchmarkGetUserHandler(b *testing.B) {
	env := apitest.New(b, emailLogin)
	_, secret, err := env.Assembly.APIKeys.Create(context.Background(), audit.Actor{Name: "bench"},
		apikeys.NewKey{TenantID: env.Tenant.ID, Name: "bench", Scopes: allUserScopes})
	if err != nil {
		b.Fatal(err)
	}
	// The bench's budget (make bench): never exhausted.
	env.Assembly.Manage.SetRateLimit(manage.RateLimit{Requests: 100_000_000, Period: time.Minute})
	b.Cleanup(func() { env.Assembly.Manage.SetRateLimit(manage.DefaultRateLimit) })
	r := call(env, "POST", "/tenants/"+env.Tenant.Slug+"/users", secret, `{"emails":[{"email":"h@example.com","verified":true}]}`)
	if r.Code != 201 {
		b.Fatal(r.Code, string(r.Body))
	}
	path := manage.Prefix + userPath(env, idOf(r.JSON))
	handler := env.Server.Platform.Handler()
	get := func(ctx *fasthttp.RequestCtx) {
		ctx.Request.Reset()
		ctx.Response.Reset()
		ctx.Request.Header.SetMethod("GET")
		ctx.Request.SetRequestURI(path)
		ctx.Request.Header.SetHost(apitest.PlatformHost)
		ctx.Request.Header.Set("Authorization", "Bearer "+secret)
		handler(ctx)
		if ctx.Response.StatusCode() != 200 {
			b.Fatal(ctx.Response.StatusCode(), string(ctx.Response.Body()))
		}
	}
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		ctx := &fasthttp.RequestCtx{}
		for b.Loop() {
			get(ctx)
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			ctx := &fasthttp.RequestCtx{}
			for pb.Next() {
				get(ctx)
			}
		})
	})
}
