// Package server wires the headless API into Fiber: a platform app (health,
// readiness, the console mount point, the /t/{slug}/ prefix) and a tenant app
// holding every per-tenant route, reached by Host or by prefix.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"time"

	gojson "github.com/goccy/go-json"
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/api/account"
	"github.com/hallpass/hallpass/api/base"
	"github.com/hallpass/hallpass/api/mfa"
	"github.com/hallpass/hallpass/api/social"
	"github.com/hallpass/hallpass/api/spec"
	"github.com/hallpass/hallpass/api/tokens"
	"github.com/hallpass/hallpass/tenants"
)

// Check is one readiness probe (Postgres, Redis).
type Check struct {
	Name string
	Ping func(ctx context.Context) error
}

// Config is what the server needs from main.
type Config struct {
	Resolver *tenants.Resolver
	Log      *slog.Logger
	Ready    []Check
	// Headless holds the account services behind the headless API.
	Headless *api.Headless
	// Tokens serves the JWT strategy's refresh endpoint and JWKS.
	Tokens *tokens.Handlers
	// MFA serves the two-factor and WebAuthn endpoints.
	MFA *mfa.Handlers
	// Social serves the provider (social login) endpoints and callbacks.
	Social *social.Handlers
	// BodyLimit caps request bodies (default 1 MiB).
	BodyLimit int
	// TrustedProxies are the addresses (IPs or CIDRs) of the platform's own
	// reverse proxies; only their X-Forwarded-* headers are believed when
	// building URLs (links in mail, the JWT issuer, same-origin checks).
	TrustedProxies []string
	// RequestTimeout bounds each request: its context, which reaches every
	// Postgres and Redis call made for it, ends then and the request is
	// answered 503 (default DefaultRequestTimeout).
	RequestTimeout time.Duration
	// BenchCeiling adds GET /bench/ceiling, a raw Fiber JSON route the load
	// generator uses as the ceiling (HALLPASS_BENCH_CEILING=1; never in production).
	BenchCeiling bool
}

// DefaultRequestTimeout is Config.RequestTimeout's default: far above any
// request's normal time (a password hash, a provider's token endpoint), and
// below the 30 s read and write timeouts.
const DefaultRequestTimeout = 15 * time.Second

// Server holds the two Fiber apps.
type Server struct {
	// Platform is the app that listens; mount the console on it.
	Platform *fiber.App
	// Tenant serves everything under a tenant's base.
	Tenant *fiber.App
	// Registry lists the catalog routes this server has handlers for.
	Registry *api.Registry
	log      *slog.Logger
	headless *api.Headless
}

// New builds the apps and registers every route.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.BodyLimit == 0 {
		cfg.BodyLimit = 1 << 20
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = DefaultRequestTimeout
	}
	errs := api.ErrorHandler(cfg.Log)
	fiberConfig := func() fiber.Config {
		return fiber.Config{
			ErrorHandler: errs,
			// goccy/go-json: the same output as encoding/json, at a
			// fraction of the CPU (responses are most of a session
			// check's own work).
			JSONEncoder:           gojson.Marshal,
			JSONDecoder:           gojson.Unmarshal,
			BodyLimit:             cfg.BodyLimit,
			DisableStartupMessage: true,
			ReadTimeout:           30 * time.Second,
			WriteTimeout:          30 * time.Second,
			IdleTimeout:           120 * time.Second,
			ReadBufferSize:        16 << 10,
			// Never take X-Forwarded-Host/Proto from just anyone: they end
			// up in links mailed to users.
			EnableTrustedProxyCheck: true,
			TrustedProxies:          cfg.TrustedProxies,
			ProxyHeader:             proxyHeader(cfg.TrustedProxies),
		}
	}
	s := &Server{Platform: fiber.New(fiberConfig()), Tenant: fiber.New(fiberConfig()), log: cfg.Log, headless: cfg.Headless, Registry: api.NewRegistry()}

	s.registerTenantRoutes(cfg)
	tenantHandler := s.Tenant.Handler()

	p := s.Platform
	if cfg.BenchCeiling {
		registerBenchCeiling(p)
	}
	p.Use(requestMetrics(errs), api.Recover(cfg.Log), api.RequestIDs(), api.SecurityHeaders(), api.AccessLog(cfg.Log, errs), api.Deadline(cfg.RequestTimeout))
	p.Get("/healthz", func(c *fiber.Ctx) error {
		return c.JSON(fiber.Map{"status": "ok"})
	})
	p.Get("/readyz", readiness(cfg.Ready))
	p.Use(api.ResolveTenant(cfg.Resolver, func(c *fiber.Ctx) error {
		tenantHandler(c.Context())
		return nil
	}))
	return s
}

func (s *Server) registerTenantRoutes(cfg Config) {
	t := s.Tenant
	t.Use(recordTenantRoute, api.Recover(s.log))
	headless := api.Routes{Router: t.Group("/_allauth/:client/v1"), Client: api.HeadlessClient(),
		Middleware: []fiber.Handler{s.headless.LoadSession()}, Registry: s.Registry}
	base.Register(headless)
	(&account.Handlers{Headless: s.headless}).Register(headless)
	if cfg.MFA != nil {
		cfg.MFA.Register(headless)
	}
	if cfg.Social != nil {
		cfg.Social.Register(headless, t)
	}
	if cfg.Tokens != nil {
		cfg.Tokens.RegisterJWKS(t)
		headless.Post("/tokens/refresh", cfg.Tokens.Refresh)
	}
	(&spec.Handlers{Registry: s.Registry}).Register(t)
	// Anything else under a tenant's base is absent, or, for a routed path
	// asked with another method, 405 (as Django answers).
	t.Use(methodNotAllowed(s.Registry))
}

// Finish completes the platform app: call after mounting the console, so that
// unknown platform paths get a JSON 404.
func (s *Server) Finish() {
	s.Platform.Use(func(c *fiber.Ctx) error { return api.ErrRouteAbsent })
}

func readiness(checks []Check) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		result := fiber.Map{}
		status := fiber.StatusOK
		for _, ch := range checks {
			if err := ch.Ping(ctx); err != nil {
				result[ch.Name] = err.Error()
				status = fiber.StatusServiceUnavailable
			} else {
				result[ch.Name] = "ok"
			}
		}
		api.NeverCache(c)
		return c.Status(status).JSON(fiber.Map{"status": map[bool]string{true: "ok", false: "unavailable"}[status == fiber.StatusOK], "checks": result})
	}
}

// Serve accepts connections on ln until ctx ends, then stops accepting and
// waits up to grace for requests in flight to finish.
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- s.Platform.Listener(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "grace", grace)
	if err := s.Platform.ShutdownWithTimeout(grace); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return <-errc
}

// proxyHeader makes c.IP() read X-Forwarded-For only behind trusted proxies.
func proxyHeader(trusted []string) string {
	if len(trusted) == 0 {
		return ""
	}
	return fiber.HeaderXForwardedFor
}

// methodNotAllowed answers 405 with an Allow header when the path is a
// routed headless endpoint that does not take the method; otherwise 404.
func methodNotAllowed(registry *api.Registry) fiber.Handler {
	return func(c *fiber.Ctx) error {
		t := api.Tenant(c)
		rest, ok := strings.CutPrefix(c.Path(), "/_allauth/")
		if !ok || t == nil {
			return api.ErrRouteAbsent
		}
		client, path, ok := strings.Cut(rest, "/v1")
		if !ok || (client != api.ClientApp && client != api.ClientBrowser) {
			return api.ErrRouteAbsent
		}
		var allow []string
		for _, r := range api.Catalog {
			if r.Path == path && registry.Handled(r.Method, r.Path) && r.Routed(t.Settings, client) {
				allow = append(allow, r.Method)
			}
		}
		if len(allow) == 0 {
			return api.ErrRouteAbsent
		}
		c.Set(fiber.HeaderAllow, strings.Join(allow, ", "))
		return api.RespondStatus(c, fiber.StatusMethodNotAllowed)
	}
}
