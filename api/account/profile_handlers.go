package account

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/userdata"
)

// GetProfile handles GET account/profile (a Hallpass extension): the
// logged-in user's declared fields (HALLPASS_USER_FIELDS) and public
// metadata. Anonymous: allauth's 401 with the flows.
func (h *Handlers) GetProfile(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if !sess.Authenticated() {
		return identity.ErrNotAuthenticated
	}
	d, err := h.Accounts.Profiles.Data(c.UserContext(), t.ID, sess.State.UserID)
	if err != nil {
		return profileUserGone(err)
	}
	return respondProfile(c, h.Headless, d)
}

// ChangeProfile handles POST account/profile (a Hallpass extension): the
// user changes their own user_editable fields; no reauthentication. A
// refused value is a 400 naming the field, and nothing changes.
func (h *Handlers) ChangeProfile(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if !sess.Authenticated() {
		return identity.ErrNotAuthenticated
	}
	change, err := parseProfileChange(c)
	if err != nil {
		return err
	}
	if change == nil {
		return h.GetProfile(c)
	}
	by := audit.Actor{IP: api.ClientIP(c)}
	d, err := h.Accounts.Profiles.Update(c.UserContext(), by, t, sess.State.UserID, userdata.ModeUser, identity.UserDataChange{Profile: change})
	if err != nil {
		return profileUserGone(profileInputError(err))
	}
	return respondProfile(c, h.Headless, d)
}

// profileUserGone answers for a session whose user was deleted meanwhile
// as for no session at all.
func profileUserGone(err error) error {
	if errors.Is(err, identity.ErrUserNotFound) {
		return identity.ErrNotAuthenticated
	}
	return err
}
