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

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/audit"
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
	// Audit receives one event per request whose key authenticated
	// (actor "apikey:<id>", action "api.request"); nil records none. It
	// must not wait for Postgres (audit.Writer).
	Audit EventRecorder
	Log   *slog.Logger
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
	a := &API{cfg: cfg, cursors: cursors{key: cfg.CursorKey}}
	a.ops = a.operations()
	return a
}

// Operations lists the API's operations in document order.
func (a *API) Operations() []Operation { return a.ops }

// operations is every operation, in document order; each resource's file
// contributes its own list.
func (a *API) operations() []Operation {
	var ops []Operation
	ops = append(ops, a.tenantOperations()...)
	return ops
}

// Mount registers the API on app (the platform app), before the console's
// catch-all and the platform's 404.
func (a *API) Mount(app fiber.Router) {
	g := app.Group(Prefix)
	for _, op := range a.ops {
		g.Add(op.Method, op.fiberPath(), a.handle(op))
	}
	g.Use(func(c *fiber.Ctx) error {
		return writeProblem(c, a.cfg.Log, errNoSuchOperation)
	})
}
