package manage

import (
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/mfa"
)

// A user's live sessions and second factors: list them, end them, remove
// them.

// SessionOut is one of a user's live sessions.
type SessionOut struct {
	ID         int64     `json:"id"`
	Client     string    `json:"client"`
	IP         string    `json:"ip"`
	UserAgent  string    `json:"user_agent"`
	CreatedAt  time.Time `json:"created_at"`
	LastSeenAt time.Time `json:"last_seen_at"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// AuthenticatorOut is one of a user's second factors (its secrets are
// never shown).
type AuthenticatorOut struct {
	Type       string     `json:"type"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

// SessionsEnded says how many live sessions an operation ended.
type SessionsEnded struct {
	Ended int `json:"ended"`
}

// AuthenticatorsRemoved says how many authenticators an MFA reset removed.
type AuthenticatorsRemoved struct {
	Removed int `json:"removed"`
}

// existingUser reads the path's user id and checks that the user exists
// in the request's tenant (another tenant's user is a missing one).
func (h userHandlers) existingUser(c *fiber.Ctx, r *Request) (int64, error) {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return 0, err
	}
	if _, err := h.cfg.Users.User(c.UserContext(), r.Tenant.ID, id); err != nil {
		return 0, userProblem(err)
	}
	return id, nil
}

func (h userHandlers) listUserSessions(c *fiber.Ctx, r *Request) error {
	id, err := h.existingUser(c, r)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	live, err := h.cfg.Users.Sessions(ctx, r.Tenant.ID, id)
	if err != nil {
		return err
	}
	page := Page[SessionOut]{Items: make([]SessionOut, 0, len(live))}
	for _, s := range live {
		page.Items = append(page.Items, SessionOut{ID: s.ID, Client: s.Client, IP: s.IP, UserAgent: s.UserAgent,
			CreatedAt: s.CreatedAt.UTC(), LastSeenAt: s.LastSeen.UTC(), ExpiresAt: s.Expires.UTC()})
	}
	return c.JSON(page)
}

func (h userHandlers) endUserSessions(c *fiber.Ctx, r *Request) error {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return err
	}
	n, err := h.cfg.Users.EndSessions(c.UserContext(), r.Actor(c), r.Tenant.ID, id)
	if err != nil {
		return userProblem(err)
	}
	return c.JSON(SessionsEnded{Ended: n})
}

func (h userHandlers) endUserSession(c *fiber.Ctx, r *Request) error {
	// The user first: another tenant's user is a missing user, whatever
	// the session id.
	id, err := h.existingUser(c, r)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	sid, err := pathID(c, "session_id", NotFound("session"))
	if err != nil {
		return err
	}
	if err := h.cfg.Users.EndSession(ctx, r.Actor(c), r.Tenant.ID, id, sid); err != nil {
		return userProblem(err)
	}
	return c.SendStatus(http.StatusNoContent)
}

func (h userHandlers) listUserAuthenticators(c *fiber.Ctx, r *Request) error {
	id, err := h.existingUser(c, r)
	if err != nil {
		return err
	}
	ctx := c.UserContext()
	list, err := h.cfg.MFA.Summaries(ctx, r.Tenant.ID, id)
	if err != nil {
		return err
	}
	page := Page[AuthenticatorOut]{Items: make([]AuthenticatorOut, 0, len(list))}
	for _, au := range list {
		page.Items = append(page.Items, authenticatorOut(au))
	}
	return c.JSON(page)
}

func authenticatorOut(au *mfa.Authenticator) AuthenticatorOut {
	out := AuthenticatorOut{Type: au.Type, CreatedAt: au.CreatedAt.UTC()}
	if au.LastUsedAt != nil {
		at := au.LastUsedAt.UTC()
		out.LastUsedAt = &at
	}
	return out
}

func (h userHandlers) resetUserAuthenticators(c *fiber.Ctx, r *Request) error {
	id, err := pathID(c, "id", errNoSuchUser)
	if err != nil {
		return err
	}
	n, err := h.cfg.Users.ResetMFA(c.UserContext(), r.Actor(c), r.Tenant.ID, id)
	if err != nil {
		return userProblem(err)
	}
	return c.JSON(AuthenticatorsRemoved{Removed: n})
}
