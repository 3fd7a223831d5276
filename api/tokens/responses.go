package tokens

import "github.com/gofiber/fiber/v2"

// refreshData is tokens/refresh's data: the new access token, and the
// rotated refresh token when there is one.
func refreshData(access, refresh string) map[string]any {
	data := map[string]any{"access_token": access}
	if refresh != "" {
		data["refresh_token"] = refresh
	}
	return data
}

// respondJWKS sends the tenant's JWKS document: cacheable by anyone for
// five minutes, revalidated by its ETag.
func respondJWKS(c *fiber.Ctx, doc []byte, etag string) error {
	c.Set(fiber.HeaderCacheControl, "public, max-age=300")
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderAccessControlAllowOrigin, "*")
	if c.Get(fiber.HeaderIfNoneMatch) == etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, "application/jwk-set+json")
	return c.Send(doc)
}
