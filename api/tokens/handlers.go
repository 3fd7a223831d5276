// Package tokens serves allauth's JWT token strategy over HTTP: the app
// client's tokens/refresh endpoint, and the tenant's JWKS for its backends
// to verify access tokens offline. The strategy itself (issuing, checking,
// rotating) is internal/tokens.
package tokens

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	domain "github.com/hallpass/hallpass/internal/tokens"
	"github.com/hallpass/hallpass/tenants"
)

// Handlers serve the refresh endpoint and the JWKS.
type Handlers struct {
	Strategy *domain.Strategy
	Headless *api.Headless
}

// Routes are the tokens slice's headless endpoints.
func (h *Handlers) Routes() []api.Route {
	return []api.Route{
		{Method: fiber.MethodPost, Path: "/tokens/refresh", Client: api.ClientApp, Handler: h.Refresh,
			Rule: api.Rule{Text: "app client", When: api.Always.When}},
	}
}

// RegisterOutside adds /.well-known/jwks.json to a tenant's base.
func (h *Handlers) RegisterOutside(r fiber.Router) {
	r.Get("/.well-known/jwks.json", h.JWKS)
}

// Refresh handles POST tokens/refresh: 200 with a new access token (and a
// rotated refresh token), or allauth's bare 400.
func (h *Handlers) Refresh(c *fiber.Ctx) error {
	t := api.Tenant(c)
	raw := parseRefresh(c)
	if raw == "" || t.Settings.TokenStrategy != tenants.TokenStrategyJWT {
		return api.RespondStatus(c, fiber.StatusBadRequest)
	}
	access, refresh, err := h.Strategy.Refresh(c.UserContext(), t, api.TenantBaseURL(c), raw)
	if err != nil {
		if domain.IsInvalid(err) {
			return api.RespondStatus(c, fiber.StatusBadRequest)
		}
		return err
	}
	return api.Respond(c, fiber.StatusOK, refreshData(access, refresh), nil)
}

// JWKS handles GET /.well-known/jwks.json: the tenant's public keys (none
// for an HS tenant), cacheable, with an ETag.
func (h *Handlers) JWKS(c *fiber.Ctx) error {
	doc, etag, err := h.Strategy.Keys.JWKS(c.UserContext(), api.Tenant(c))
	if err != nil {
		return err
	}
	return respondJWKS(c, doc, etag)
}
