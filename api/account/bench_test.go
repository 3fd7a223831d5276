package account_test

import (
	"net"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/passwords"
)

// benchRequest drives the server's handler in process (no sockets), so the
// numbers are the server's own cost per request.
func benchRequest(b *testing.B, env *apitest.Env, method, path, body string, headers ...string) func() int {
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
		if body != "" {
			req.Header.SetContentType("application/json")
			req.SetBodyString(body)
		}
		var ctx fasthttp.RequestCtx
		ctx.Init(&req, addr, nil)
		h(&ctx)
		return ctx.Response.StatusCode()
	}
}

func benchEnv(b *testing.B) (*apitest.Env, string) {
	env := apitest.New(b, with(emailOnly, apitest.Settings{"ACCOUNT_EMAIL_VERIFICATION": "none", "ACCOUNT_RATE_LIMITS": false}))
	res := env.Client("app").Do("POST", "auth/signup", `{"email":"bench@example.com","password":"correct horse battery"}`)
	token, _ := res.Path("meta.session_token").(string)
	if res.Code != 200 || token == "" {
		b.Fatalf("signup: %d %s", res.Code, res.Body)
	}
	return env, token
}

// BenchmarkSessionCheck is GET auth/session with a valid app session token:
// the request every page load of an app makes.
func BenchmarkSessionCheck(b *testing.B) { benchSessionCheck(b, 1) }

// BenchmarkSessionCheckConcurrent is BenchmarkSessionCheck with 16
// requests in flight per CPU, as a loaded server sees them (the Redis reads
// of concurrent checks share round trips).
func BenchmarkSessionCheckConcurrent(b *testing.B) { benchSessionCheck(b, 16) }

// benchSessionCheck runs session checks with parallelism requests in
// flight per CPU.
func benchSessionCheck(b *testing.B, parallelism int) {
	env, token := benchEnv(b)
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		do := benchRequest(b, env, "GET", "auth/session", "", "X-Session-Token", token)
		for pb.Next() {
			if code := do(); code != 200 {
				b.Errorf("status %d", code)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkPasswordLogin is POST auth/login with the right password; compare
// with BenchmarkArgon2Verify to see how much of a login is the hash.
func BenchmarkPasswordLogin(b *testing.B) {
	env, _ := benchEnv(b)
	body := `{"email":"bench@example.com","password":"correct horse battery"}`
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		do := benchRequest(b, env, "POST", "auth/login", body)
		for pb.Next() {
			if code := do(); code != 200 {
				b.Errorf("status %d", code)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
}

// BenchmarkArgon2Verify is the password check alone, in parallel like the
// login benchmark: the physical ceiling of password logins.
func BenchmarkArgon2Verify(b *testing.B) {
	h := passwords.DefaultHasher()
	hash, err := h.Hash("correct horse battery")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, _, _ := h.Verify(hash, "correct horse battery"); !ok {
				b.Error("verify failed")
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "verify/s")
}
