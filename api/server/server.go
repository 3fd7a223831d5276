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
	"github.com/hallpass/hallpass/api/usersessions"
	loginmethods "github.com/hallpass/hallpass/internal/login/methods"
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
	// Pages serves the hosted account pages (allauth's own views, for
	// tenants with HEADLESS_ONLY false) on the tenant app, registered after
	// the headless routes and before the 405/404 fall-through; target tells
	// a page how its request addressed the tenant. Nil: no pages.
	Pages Pages
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

// Pages is a set of pages served under each tenant's base (package
// web/accounts): they read the request's tenant through target, and fall
// through (c.Next) on a path they do not serve for that tenant.
type Pages interface {
	Register(r fiber.Router, target func(*fiber.Ctx) *tenants.Target)
}

// DefaultRequestTimeout is Config.RequestTimeout's default: far above any
// request's normal time (a password hash, a provider's token endpoint), and
// below the 30 s read and write timeouts.
const DefaultRequestTimeout = 15 * time.Second

// ConnTimeout is each connection's read and write timeout: a request
// deadline must be shorter, or the connection closes before the 503.
const ConnTimeout = 30 * time.Second

// Server holds the two Fiber apps.
type Server struct {
	// Platform is the app that listens; mount the console on it.
	Platform *fiber.App
	// Tenant serves everything under a tenant's base.
	Tenant *fiber.App
	// Catalog is the headless routes this server serves: its slices'
	// routes and the login methods' routes they bind, composed in catalog
	// order (api.Compose). The router's gates, the 405
	// answer and the served specification read it.
	Catalog  api.Catalog
	log      *slog.Logger
	headless *api.Headless
	// publicHost is the platform's own host name ("" without a resolver:
	// every host); under holds ErrorsUnder's handlers.
	publicHost string
	under      []prefixErrors
}

// prefixErrors answers the errors of the platform paths under prefix.
type prefixErrors struct {
	prefix string
	handle fiber.ErrorHandler
}

// ErrorsUnder makes h answer the errors of requests to the platform host
// under prefix (a path such as "/api/v1") instead of the headless error
// handler: the management API answers problem+json even for what the HTTP
// server refuses before any handler runs (a body over the limit). Call it
// while mounting, before serving.
func (s *Server) ErrorsUnder(prefix string, h fiber.ErrorHandler) {
	s.under = append(s.under, prefixErrors{prefix: strings.TrimSuffix(prefix, "/"), handle: h})
}

// platformErrors is the platform app's error handler: ErrorsUnder's
// handlers for their paths, errs for everything else (every tenant host
// and headless path included).
func (s *Server) platformErrors(errs fiber.ErrorHandler) fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		if len(s.under) > 0 && s.onPlatformHost(c) {
			path := c.Path()
			for _, u := range s.under {
				if path == u.prefix || strings.HasPrefix(path, u.prefix+"/") {
					return u.handle(c, err)
				}
			}
		}
		return errs(c, err)
	}
}

func (s *Server) onPlatformHost(c *fiber.Ctx) bool {
	if s.publicHost == "" {
		return true
	}
	host, err := tenants.HostName(string(c.Request().Host()))
	return err == nil && host == s.publicHost
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
	s := &Server{log: cfg.Log, headless: cfg.Headless}
	if cfg.Resolver != nil {
		s.publicHost = cfg.Resolver.Addressing().PublicHost()
	}
	platformErrs := s.platformErrors(errs)
	fiberConfig := func(errs fiber.ErrorHandler) fiber.Config {
		return fiber.Config{
			ErrorHandler: errs,
			// goccy/go-json: the same output as encoding/json, at a
			// fraction of the CPU (responses are most of a session
			// check's own work).
			JSONEncoder:           gojson.Marshal,
			JSONDecoder:           gojson.Unmarshal,
			BodyLimit:             cfg.BodyLimit,
			DisableStartupMessage: true,
			ReadTimeout:           ConnTimeout,
			WriteTimeout:          ConnTimeout,
			IdleTimeout:           120 * time.Second,
			ReadBufferSize:        16 << 10,
			// Never take X-Forwarded-Host/Proto from just anyone: they end
			// up in links mailed to users.
			EnableTrustedProxyCheck: true,
			TrustedProxies:          cfg.TrustedProxies,
			ProxyHeader:             proxyHeader(cfg.TrustedProxies),
		}
	}
	s.Platform, s.Tenant = fiber.New(fiberConfig(platformErrs)), fiber.New(fiberConfig(errs))

	s.registerTenantRoutes(cfg)
	tenantHandler := s.Tenant.Handler()

	p := s.Platform
	if cfg.BenchCeiling {
		registerBenchCeiling(p)
	}
	p.Use(requestMetrics(platformErrs), api.Recover(cfg.Log), api.RequestIDs(), api.SecurityHeaders(), api.AccessLog(cfg.Log, platformErrs), api.Deadline(cfg.RequestTimeout))
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
	parts := headlessSlices(cfg)
	s.Catalog = compose(parts).Bound()
	headless := api.Mount{Router: t.Group("/_allauth/:client/v1"), Client: api.HeadlessClient(),
		Middleware: []fiber.Handler{base.Answers(s.headless), s.headless.LoadSession()}}
	for _, r := range s.Catalog {
		headless.Add(r)
	}
	for _, part := range parts {
		if o, ok := part.(api.Outside); ok {
			o.RegisterOutside(t)
		}
	}
	(&spec.Handlers{Catalog: s.Catalog}).RegisterOutside(t)
	if cfg.Pages != nil {
		cfg.Pages.Register(t, api.Target)
	}
	// Anything else under a tenant's base is absent, or, for a routed path
	// asked with another method, 405 (as Django answers).
	t.Use(methodNotAllowed(s.Catalog))
}

// headlessSlices are the headless API's slices, in catalog order; a slice
// whose handlers the config leaves out (Tokens, Social, MFA) is not served.
func headlessSlices(cfg Config) []api.Slice {
	h := cfg.Headless
	parts := []api.Slice{&base.Handlers{Headless: h}, &account.Handlers{Headless: h}, &usersessions.Handlers{Headless: h}}
	if cfg.Tokens != nil {
		parts = append(parts, cfg.Tokens)
	}
	if cfg.Social != nil {
		parts = append(parts, cfg.Social)
	}
	if cfg.MFA != nil {
		parts = append(parts, cfg.MFA)
	}
	return parts
}

// compose builds the catalog from the slices and the registered login
// methods' routes (api.Compose); a binding no method declares, or a route
// declared twice, is a programming error.
func compose(parts []api.Slice) api.Catalog {
	cat, err := api.Compose(loginmethods.All, parts)
	if err != nil {
		panic("server: " + err.Error())
	}
	return cat
}

// Catalog lists every headless route Hallpass has, in catalog order: the
// routes of a server with every slice, and any login method's route no
// slice binds (without a handler, which the route tests report). Its
// handlers have no dependencies: it is for listing and checking
// (`hallpass routes`, the route tests), never for serving.
func Catalog() api.Catalog {
	return compose(headlessSlices(Config{Tokens: &tokens.Handlers{}, Social: &social.Handlers{}, MFA: &mfa.Handlers{}}))
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
func methodNotAllowed(catalog api.Catalog) fiber.Handler {
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
		allow := catalog.Methods(path, t.Settings, client)
		if len(allow) == 0 {
			return api.ErrRouteAbsent
		}
		c.Set(fiber.HeaderAllow, strings.Join(allow, ", "))
		return api.RespondStatus(c, fiber.StatusMethodNotAllowed)
	}
}
