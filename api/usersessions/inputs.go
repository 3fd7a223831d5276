package usersessions

import (
	"encoding/json"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
)

// parseEnd reads DELETE auth/sessions' {sessions: [id, ...]}.
func parseEnd(c *fiber.Ctx) ([]int64, error) {
	b, err := api.ParseBody(c)
	if err != nil {
		return nil, err
	}
	var ids []int64
	if raw, ok := b["sessions"]; !ok || json.Unmarshal(raw, &ids) != nil {
		return nil, api.FieldError("sessions", "invalid", "Enter a list of session ids.")
	}
	return ids, nil
}
