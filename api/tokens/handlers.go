package tokens

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/tenants"
)

// Handlers serve the refresh endpoint and the JWKS.
type Handlers struct {
	Strategy *Strategy
	Headless *api.Headless
}

// RegisterJWKS adds /.well-known/jwks.json to a tenant's base.
func (h *Handlers) RegisterJWKS(r fiber.Router) {
	r.Get("/.well-known/jwks.json", h.JWKS)
}

// Refresh handles POST tokens/refresh: 200 with a new access token (and a
// rotated refresh token), or allauth's bare 400.
func (h *Handlers) Refresh(c *fiber.Ctx) error {
	t := api.Tenant(c)
	var in struct {
		RefreshToken json.RawMessage `json:"refresh_token"`
	}
	var raw string
	if err := json.Unmarshal(c.Body(), &in); err == nil {
		_ = json.Unmarshal(in.RefreshToken, &raw)
	}
	if raw == "" || t.Settings.TokenStrategy != tenants.TokenStrategyJWT {
		return api.RespondStatus(c, fiber.StatusBadRequest)
	}
	access, refresh, err := h.Strategy.Refresh(c.UserContext(), t, api.TenantBaseURL(c), raw)
	if err != nil {
		if IsInvalid(err) {
			return api.RespondStatus(c, fiber.StatusBadRequest)
		}
		return err
	}
	data := map[string]any{"access_token": access}
	if refresh != "" {
		data["refresh_token"] = refresh
	}
	return api.Respond(c, fiber.StatusOK, data, nil)
}

// JWKS handles GET /.well-known/jwks.json: the tenant's public keys (none
// for an HS tenant), cacheable, with an ETag.
func (h *Handlers) JWKS(c *fiber.Ctx) error {
	doc, etag, err := h.Strategy.Keys.JWKS(c.UserContext(), api.Tenant(c))
	if err != nil {
		return err
	}
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
	if c.Get(fiber.HeaderIfNoneMatch) == etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, "application/jwk-set+json")
	return c.Send(doc)
}
