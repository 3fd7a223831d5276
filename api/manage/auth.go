package manage

import (
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/tenants"
)

// Request is what a handler knows of its request once it is authorized.
type Request struct {
	// Key is the API key the request was made with.
	Key apikeys.Key
	// Tenant is the tenant named by the path's {slug}, which the key
	// reaches (nil on paths without one).
	Tenant *tenants.Tenant
}

// Actor is the audit actor of the request: the key, and the client's IP.
func (r *Request) Actor(c *fiber.Ctx) audit.Actor {
	return audit.Actor{Name: r.Key.Actor(), IP: api.ClientIP(c)}
}

// bearer returns the token of an Authorization: Bearer header ("" when
// there is none).
func bearer(c *fiber.Ctx) string {
	h := c.Get(fiber.HeaderAuthorization)
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(token)
}

// handle wraps op's handler: authenticate the key, check its scope, resolve
// the tenant of the path, run the handler; every error is a problem. Every
// request whose key authenticated is audited, with its final status.
func (a *API) handle(op Operation) fiber.Handler {
	target := op.Method + " " + Prefix + op.Path
	return func(c *fiber.Ctx) error {
		r, err := a.authorize(c, op)
		if err == nil {
			err = a.run(c, op, r)
		}
		if err != nil {
			err = writeProblem(c, a.cfg.Log, err)
		}
		if r != nil && a.cfg.Audit != nil {
			a.cfg.Audit.Record(r.event(c, target))
		}
		return err
	}
}

// event is the audit event of a request made with r.Key: in the trail of
// the tenant it acted on, else of the key's own tenant (or the platform).
func (r *Request) event(c *fiber.Ctx, target string) audit.Event {
	tenant := r.Key.TenantID
	if r.Tenant != nil {
		tenant = r.Tenant.ID
	}
	return audit.Event{TenantID: tenant, At: time.Now(), Actor: r.Key.Actor(), IP: api.ClientIP(c), Action: "api.request",
		Target: target, Details: map[string]any{"status": c.Response().StatusCode()}}
}

// authorize returns the request once its key, scope and tenant pass; the
// request is also returned with an error once the key authenticated (it is
// audited either way).
func (a *API) authorize(c *fiber.Ctx, op Operation) (*Request, error) {
	secret := bearer(c)
	if secret == "" {
		c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="hallpass"`)
		return nil, errUnauthenticated
	}
	key, err := a.cfg.Keys.Authenticate(c.UserContext(), secret)
	if err != nil {
		if errors.Is(err, apikeys.ErrUnknownKey) || errors.Is(err, apikeys.ErrRevoked) || errors.Is(err, apikeys.ErrExpired) {
			c.Set(fiber.HeaderWWWAuthenticate, `Bearer realm="hallpass", error="invalid_token"`)
			return nil, errInvalidKey
		}
		return nil, err
	}
	r := &Request{Key: key}
	if slug := c.Params("slug"); slug != "" {
		t, err := a.cfg.Tenants.BySlug(c.UserContext(), slug)
		// Another tenant's slug answers as a slug that does not exist.
		if errors.Is(err, tenants.ErrNotFound) || (err == nil && !key.Reaches(t.ID)) {
			return r, errTenantNotFound
		}
		if err != nil {
			return r, err
		}
		r.Tenant = t
	}
	if !key.Can(op.Scope) {
		return r, errForbidden
	}
	return r, nil
}
