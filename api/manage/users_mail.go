package manage

import (
	"errors"
	"net/http"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/identity"
)

// Verification mail: a link, mailed to one of a user's unverified
// addresses.

// VerificationMailIn names the address to verify; without it (or with no
// body), the primary address if unverified, else the first unverified one.
type VerificationMailIn struct {
	Email string `json:"email,omitempty"`
}

// VerificationMailOut names the address the verification mail went to.
type VerificationMailOut struct {
	Email string `json:"email"`
}

func (h userHandlers) sendUserVerificationMail(c *fiber.Ctx, r *Request) error {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return err
	}
	var in VerificationMailIn
	if len(api.RawBody(c)) > 0 {
		if err := decodeBody(c, &in); err != nil {
			return err
		}
	}
	ctx := c.UserContext()
	acc, err := h.cfg.Users.Account(ctx, r.Tenant.ID, id)
	if err != nil {
		return userProblem(err)
	}
	var target *identity.EmailAddress
	for i := range acc.Emails {
		e := &acc.Emails[i]
		if in.Email != "" {
			if identity.SameEmail(e.Email, in.Email) {
				target = e
				break
			}
			continue
		}
		// Primary first: the first unverified one is the primary if that is.
		if !e.Verified {
			target = e
			break
		}
	}
	switch {
	case target == nil && in.Email != "":
		return Invalid("The user has no such address.", FieldError{Field: "/email", Code: "unknown_email",
			Message: "not one of the user's addresses"})
	case target == nil || target.Verified:
		return &Error{Status: http.StatusConflict, Code: "already_verified", Detail: "The address is verified already (or the user has no unverified address)."}
	}
	base := h.cfg.PublicURL + "/t/" + r.Tenant.Slug
	if err := h.cfg.Users.SendVerification(ctx, r.Actor(c), r.Tenant, id, target.ID, base); err != nil {
		if errors.Is(err, identity.ErrConflict) {
			return &Error{Status: http.StatusConflict, Code: "already_verified", Detail: "The address is verified already."}
		}
		return userProblem(err)
	}
	return c.Status(http.StatusAccepted).JSON(VerificationMailOut{Email: target.Email})
}
