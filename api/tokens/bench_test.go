package tokens_test

import (
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"github.com/hallpass/hallpass/api/apitest"
)

// BenchmarkRefresh is POST tokens/refresh with rotation, per algorithm:
// each iteration spends one refresh token and gets the next, as an app
// does every few minutes.
func BenchmarkRefresh(b *testing.B) {
	for _, alg := range []string{"ES256", "EdDSA", "HS256", "RS256"} {
		b.Run(alg, func(b *testing.B) {
			env := apitest.New(b, apitest.Settings{
				"HEADLESS_TOKEN_STRATEGY":    "jwt",
				"HEADLESS_JWT_ALGORITHM":     alg,
				"ACCOUNT_LOGIN_METHODS":      []string{"email"},
				"ACCOUNT_SIGNUP_FIELDS":      []string{"email*", "password1*"},
				"ACCOUNT_EMAIL_VERIFICATION": "none",
				"ACCOUNT_RATE_LIMITS":        false,
			})
			h := env.Server.Platform.Handler()
			addr := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
			// One login per parallel worker: each rotates its own chain.
			newChain := func() string {
				res := env.Client("app").Do("POST", "auth/signup", `{"email":"b`+strings.ReplaceAll(time.Now().Format("150405.000000000"), ".", "")+`@example.com","password":"correct horse battery"}`)
				return res.Path("meta.refresh_token").(string)
			}
			var failures atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				token := newChain()
				for pb.Next() {
					var req fasthttp.Request
					req.Header.SetMethod("POST")
					req.SetRequestURI("/t/" + env.Tenant.Slug + "/_allauth/app/v1/tokens/refresh")
					req.Header.SetHost(apitest.PlatformHost)
					req.Header.SetContentType("application/json")
					req.SetBodyString(`{"refresh_token":"` + token + `"}`)
					var ctx fasthttp.RequestCtx
					ctx.Init(&req, addr, nil)
					h(&ctx)
					body := string(ctx.Response.Body())
					i := strings.Index(body, `"refresh_token":"`)
					if ctx.Response.StatusCode() != 200 || i < 0 {
						failures.Add(1)
						token = newChain()
						continue
					}
					rest := body[i+len(`"refresh_token":"`):]
					token = rest[:strings.IndexByte(rest, '"')]
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
			if failures.Load() > 0 {
				b.Fatalf("%d refreshes failed", failures.Load())
			}
		})
	}
}
