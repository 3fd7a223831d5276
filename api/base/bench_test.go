package base_test

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/hallpass/hallpass/api/apitest"
)

// benchRequest drives the server's handler in process (no sockets), so the
// numbers are the server's own cost per request.
func benchRequest(b *testing.B, env *apitest.Env, method, path string, headers ...string) func() int {
	h := env.Server.Platform.Handler()
	addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
	return func() int {
		var req fasthttp.Request
		req.Header.SetMethod(method)
		req.SetRequestURI("/t/" + env.Tenant.Slug + "/_allauth/app/v1/" + path)
		req.Header.SetHost(apitest.PlatformHost)
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, addr, nil)
		h(&ctx)
		return ctx.Response.StatusCode()
	}
}

// sessionCheck returns GET auth/session for a new user of a tenant with
// settings (whose profile and avatar are set), warmed up.
func sessionCheck(b *testing.B, settings apitest.Settings) func() int {
	env := apitest.New(b, settings)
	res := env.Client("app").Do("POST", "auth/signup", `{"email":"bench@example.com","password":"`+password+`"}`)
	token, _ := res.Path("meta.session_token").(string)
	if res.Code != 200 || token == "" {
		b.Fatalf("signup: %d %s", res.Code, res.Body)
	}
	if _, err := env.Accounts.Store.Pool().Exec(context.Background(), `UPDATE users SET profile = '{"first_name": "Ada", "last_name": "Lovelace"}',
		public_metadata = '{"avatar": "https://cdn.example/ada.png"}' WHERE tenant_id = $1`, env.Tenant.ID); err != nil {
		b.Fatal(err)
	}
	do := benchRequest(b, env, "GET", "auth/session", "X-Session-Token", token)
	for range 100 {
		if code := do(); code != 200 {
			b.Fatalf("status %d", code)
		}
	}
	return do
}

// BenchmarkSessionCheckSerializer is GET auth/session on a tenant whose
// HALLPASS_USER_SERIALIZER has the seed's three expressions, against the
// same check on a tenant without one, interleaved in one run: ratio is
// with/without (issue #19's target: at most 1.10).
func BenchmarkSessionCheckSerializer(b *testing.B) {
	without := userDataSettings(nil)
	delete(without, "HALLPASS_USER_SERIALIZER")
	plain := sessionCheck(b, without)
	serialized := sessionCheck(b, userDataSettings(nil))
	const block = 8
	// Wall time, and the CPU time of the benchmark's own thread (the
	// handler runs on it): on a machine other jobs keep busy, the wall
	// time mostly measures the wait for a core, the CPU time the work.
	var wall, cpu [2]time.Duration
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	b.ResetTimer()
	run := func(side int, do func() int, n int) {
		start, c0 := time.Now(), threadCPU()
		for range n {
			if code := do(); code != 200 {
				b.Fatalf("status %d", code)
			}
		}
		wall[side] += time.Since(start)
		cpu[side] += threadCPU() - c0
	}
	for done, i := 0, 0; done < b.N; done, i = done+block, i+1 {
		n := min(block, b.N-done)
		if i%2 == 0 { // either goes first as often: neither gets the warmer caches
			run(0, plain, n)
			run(1, serialized, n)
		} else {
			run(1, serialized, n)
			run(0, plain, n)
		}
	}
	b.ReportMetric(float64(wall[0].Nanoseconds())/float64(b.N), "ns/plain")
	b.ReportMetric(float64(wall[1].Nanoseconds())/float64(b.N), "ns/serializer")
	b.ReportMetric(float64(wall[1])/float64(wall[0]), "ratio")
	if cpu[0] > 0 {
		b.ReportMetric(float64(cpu[1])/float64(cpu[0]), "cpu-ratio")
	}
}
