package account

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/api/base"
	"github.com/hallpass/hallpass/internal/identity"
)

// respondVerification answers GET auth/email/verify: the address, its
// user, and whether confirming it completes a login.
func respondVerification(c *fiber.Ctx, h *api.Headless, v *identity.Verification) error {
	user, err := base.UserData(c, h, v.User)
	if err != nil {
		return err
	}
	return h.Respond(c, fiber.StatusOK, map[string]any{"email": v.Address.Email, "user": user},
		map[string]any{"is_authenticating": v.Authenticating})
}

// emailList is allauth's list of a user's email addresses.
func emailList(addrs []identity.EmailAddress) []map[string]any {
	out := []map[string]any{}
	for _, e := range addrs {
		out = append(out, map[string]any{"email": e.Email, "verified": e.Verified, "primary": e.Primary})
	}
	return out
}

// respondEmails answers with the logged-in user's email addresses.
func (h emailHandlers) respondEmails(c *fiber.Ctx) error {
	addrs, err := h.Accounts.Addresses.Emails(c.UserContext(), api.Tenant(c), api.Session(c))
	if err != nil {
		return h.failed(c, err)
	}
	return h.Respond(c, fiber.StatusOK, emailList(addrs), nil)
}
