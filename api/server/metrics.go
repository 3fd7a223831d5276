package server

import (
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/metrics"
)

// BenchCeilingPath is the raw Fiber JSON route the load generator measures
// as the server's ceiling; it exists only with Config.BenchCeiling
// (HALLPASS_BENCH_CEILING=1), never in production.
const BenchCeilingPath = "/bench/ceiling"

// tenantRouteKey holds, for a request the tenant app served, the pattern of
// the tenant route that answered it (set by recordTenantRoute).
type tenantRouteKey struct{}

// requestMetrics records every request of the platform app — tenant
// requests included — on metrics.Default: count and latency by app
// ("platform" or "tenant"), route pattern (bounded: never the raw path),
// method and status. It runs first, so it renders an error itself (as
// AccessLog does) to see the status actually sent.
func requestMetrics(errs fiber.ErrorHandler) fiber.Handler {
	reg := metrics.Default
	return func(c *fiber.Ctx) error {
		start := time.Now()
		if err := c.Next(); err != nil {
			if herr := errs(c, err); herr != nil {
				return herr
			}
		}
		app, route := "platform", c.Route().Path
		if r, ok := c.Locals(tenantRouteKey{}).(string); ok {
			app, route = "tenant", r
		}
		reg.ObserveRequest(app, route, metrics.HTTPMethod(c.Method()), c.Response().StatusCode(), time.Since(start))
		return nil
	}
}

// recordTenantRoute runs first in the tenant app and leaves the pattern of
// the route that answered (e.g. "/_allauth/:client/v1/auth/session"; "/"
// for a 404 or 405) where requestMetrics finds it.
func recordTenantRoute(c *fiber.Ctx) error {
	err := c.Next()
	c.Locals(tenantRouteKey{}, c.Route().Path)
	return err
}

// registerBenchCeiling adds the ceiling route ahead of every middleware: the
// cheapest JSON answer this Fiber app can give.
func registerBenchCeiling(app *fiber.App) {
	app.Get(BenchCeilingPath, func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": fiber.StatusOK})
	})
}
