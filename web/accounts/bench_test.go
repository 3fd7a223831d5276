package accounts_test

import (
	"strings"
	"testing"

	"github.com/valyala/fasthttp"

	"github.com/hallpass/hallpass/api/apitest"
)

// BenchmarkLoginPage is the server's time for GET /accounts/login/ from a
// browser that already holds its CSRF cookie (the common case): tenant
// resolution, session and CSRF, the page rendered into the response. The
// whole server's handler is called in memory, with no network in between.
// Target: under 2 ms.
func BenchmarkLoginPage(b *testing.B) {
	env := apitest.New(b, emailLogin)
	handler := env.Server.Platform.Handler()
	path := "/t/" + env.Tenant.Slug + "/accounts/login/"
	cookie := "csrftoken=" + strings.Repeat("a", 32)
	run := func() *fasthttp.RequestCtx {
		var ctx fasthttp.RequestCtx
		ctx.Request.SetRequestURI(path)
		ctx.Request.Header.SetHost(apitest.PlatformHost)
		ctx.Request.Header.Set("Cookie", cookie)
		handler(&ctx)
		return &ctx
	}
	if ctx := run(); ctx.Response.StatusCode() != 200 || !strings.Contains(string(ctx.Response.Body()), "Sign In") {
		b.Fatalf("login page: %d\n%s", ctx.Response.StatusCode(), ctx.Response.Body())
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		run()
	}
}
