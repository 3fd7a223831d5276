package account

import (
	"errors"
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/userdata"
)

// parseProfileChange reads POST account/profile: a flat JSON object of
// declared field values ({"first_name": "Ada", "birthday": null}; null
// clears a field), JSON-decoded for userdata's checks. nil when the object
// is empty. Which keys are allowed, and their values, identity decides
// (userdata.ModeUser).
func parseProfileChange(c *fiber.Ctx) (map[string]any, error) {
	b, err := parseBody(c)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(b))
	for k := range b {
		names = append(names, k)
	}
	slices.Sort(names)
	return b.Values(names), nil
}

// profileInputError turns the declared fields' refusals into allauth's
// envelope: one entry per field, param the field's name, Django's code (or
// unknown / not_editable); any other error passes unchanged.
func profileInputError(err error) error {
	var list userdata.FieldErrors
	var one *userdata.FieldError
	switch {
	case errors.As(err, &list):
	case errors.As(err, &one):
		list = userdata.FieldErrors{one}
	default:
		return err
	}
	items := make([]api.ErrorItem, len(list))
	for i, e := range list {
		items[i] = api.ErrorItem{Message: e.Message, Code: e.Code, Param: e.Param}
	}
	return &api.InputError{Errors: items}
}
