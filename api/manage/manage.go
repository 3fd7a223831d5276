// Package manage is the management API: /api/v1 on the platform host, for a
// SaaS customer's backend and automation. Requests carry an API key
// (Authorization: Bearer hp_…) whose scopes and tenant bound what it may
// do; answers are JSON, errors RFC 9457 problem+json. Every operation calls
// the same domain code the console calls, so each rule (disabling a user
// ends their sessions, settings are validated, changes are audited) lives
// in one place.
//
// Each operation is declared once, as an Operation (method, path, scope,
// request and response types, handler); the router, the scope checks, the
// OpenAPI document and the contract test all read the same list.
package manage

import (
	"context"
	"log/slog"
	"net"

	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/importjobs"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/internal/webhooks"
	"github.com/hallpass/hallpass/tenants"
)

// Prefix is where the management API is mounted on the platform host.
const Prefix = "/api/v1"

// KeyAuthenticator turns a presented secret into a usable key
// (apikeys.Store, or its cache).
type KeyAuthenticator interface {
	Authenticate(ctx context.Context, secret string) (apikeys.Key, error)
}

// TenantFinder finds a tenant by slug (tenants.Cache: warm lookups cost no
// round trip).
type TenantFinder interface {
	BySlug(ctx context.Context, slug string) (*tenants.Tenant, error)
}

// Config is what the management API is built on.
type Config struct {
	Keys    KeyAuthenticator
	Tenants TenantFinder
	// Store changes tenants and reads what the cache does not hold.
	Store *tenants.Store
	// CursorKey signs list cursors; every node needs the same (derive it
	// from the master key).
	CursorKey []byte
	Log       *slog.Logger
	// Limiter counts each key's requests (nil: no rate limit); RateLimit is
	// the budget per key (default DefaultRateLimit).
	Limiter   *ratelimit.Limiter
	RateLimit RateLimit
	// Redis keeps the answers to Idempotency-Key requests (nil: the header
	// is refused with 503, never silently ignored), sealed with Sealer (an
	// answer may hold a user's data; nil: the header is refused too).
	Redis  *redis.Client
	Sealer *seal.Sealer
	// TXT looks up the DNS records that prove a custom domain's ownership
	// (default net.DefaultResolver).
	TXT tenants.TXTResolver
	// Addressing tells the platform's own host names, which are never a
	// tenant's custom domain.
	Addressing *tenants.Addressing
	// SigningKeys manages the tenants' signing keys.
	SigningKeys *tenants.Keys
	// Pool reads the audit trail.
	Pool *pgxpool.Pool
	// Users is the operator's operations on a tenant's users (the
	// console's own instance).
	Users *identity.UserAdmin
	// MFA reads the users' authenticators.
	MFA *mfa.Store
	// Imports queues bulk user imports (nil: they answer 503).
	Imports *importjobs.Store
	// PublicURL is the platform's public URL (HALLPASS_PUBLIC_URL, no
	// trailing slash): mailed links reach the tenant's API under it.
	PublicURL string
	// Audit receives one event per request whose key authenticated
	// (actor "apikey:<id>", action "api.request"); nil records none. It
	// must not wait for Postgres (audit.Writer).
	Audit EventRecorder
	// Webhooks manages the tenants' webhook endpoints; nil leaves the
	// webhooks operations out.
	Webhooks *webhooks.Service
}

// EventRecorder queues audit events (audit.Writer).
type EventRecorder interface {
	Record(e audit.Event)
}

// API is the management API's handlers over Config.
type API struct {
	cfg     Config
	ops     []Operation
	cursors cursors
}

// New builds the API with every operation.
func New(cfg Config) *API {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	cfg.RateLimit = cfg.RateLimit.orDefault()
	if cfg.TXT == nil {
		cfg.TXT = net.DefaultResolver
	}
	a := &API{cfg: cfg, cursors: cursors{key: cfg.CursorKey}}
	a.ops = a.operations()
	return a
}

// Operations lists the API's operations in document order.
func (a *API) Operations() []Operation { return a.ops }

// operations is every operation, in document order; each resource's
// handlers (handlers.go) contribute their own list.
func (a *API) operations() []Operation {
	var ops []Operation
	ops = append(ops, tenantHandlers{a}.tenantOperations()...)
	ops = append(ops, settingsHandlers{a}.settingsOperations()...)
	ops = append(ops, signingKeyHandlers{a}.signingKeyOperations()...)
	ops = append(ops, domainHandlers{a}.domainOperations()...)
	ops = append(ops, auditHandlers{a}.auditOperations()...)
	ops = append(ops, userHandlers{a}.userOperations()...)
	ops = append(ops, userHandlers{a}.importOperations()...)
	ops = append(ops, webhookHandlers{a}.webhookOperations()...)
	return ops
}

// Mount registers the API on app (the platform app), before the console's
// catch-all and the platform's 404.
func (a *API) Mount(app fiber.Router) {
	g := app.Group(Prefix)
	for _, op := range a.ops {
		g.Add(op.Method, op.fiberPath(), a.handle(op))
	}
	a.mountDocs(g)
	g.Use(func(c *fiber.Ctx) error {
		return writeProblem(c, a.cfg.Log, errNoSuchOperation)
	})
}

// ErrorHandler answers, as problem+json, the errors of requests under
// Prefix that never reached an operation: a body the HTTP server refused
// as too large, a panic. Mount it with server.Server.ErrorsUnder.
func (a *API) ErrorHandler() fiber.ErrorHandler {
	return func(c *fiber.Ctx, err error) error {
		api.EnsureRequestID(c)
		return writeProblem(c, a.cfg.Log, err)
	}
}
