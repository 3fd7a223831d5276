// Package base serves what allauth's headless "base" app does: the
// frontend's configuration document.
package base

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
)

// Register adds the base routes to a headless client group.
func Register(r api.Routes) {
	r.Get("/config", Config)
}

// Config handles GET config: the tenant's static configuration for its
// frontend, shaped as allauth's ConfigResponse.
func Config(c *fiber.Ctx) error {
	t := api.Tenant(c)
	return api.Respond(c, fiber.StatusOK, configData(t.Settings, api.Client(c)), nil)
}
