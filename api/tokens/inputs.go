package tokens

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
)

// parseRefresh reads POST tokens/refresh's {refresh_token}; "" when the
// body is not JSON or the token not a string (allauth's bare 400).
func parseRefresh(c *fiber.Ctx) string {
	var in struct {
		RefreshToken json.RawMessage `json:"refresh_token"`
	}
	var raw string
	if err := json.Unmarshal(api.RawBody(c), &in); err == nil {
		_ = json.Unmarshal(in.RefreshToken, &raw)
	}
	return raw
}
