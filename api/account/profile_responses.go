package account

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/identity"
)

// profileData is account/profile's data: the user's declared fields and
// public metadata. private_metadata is the tenant backend's alone and never
// appears in a headless response.
type profileData struct {
	Profile        map[string]any `json:"profile"`
	PublicMetadata map[string]any `json:"public_metadata"`
}

// respondProfile answers account/profile with the user's data as it is.
func respondProfile(c *fiber.Ctx, h *api.Headless, d *identity.UserData) error {
	return h.Respond(c, fiber.StatusOK, profileData{Profile: d.Profile, PublicMetadata: d.PublicMetadata}, nil)
}
