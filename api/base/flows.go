package base

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/login"
	loginmethods "github.com/hallpass/hallpass/internal/login/methods"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// flows lists what an unauthenticated client can do, in allauth's order:
// the registered login methods' flows, with the pending stage (if any)
// marked.
func flows(c *fiber.Ctx, h *api.Headless) []map[string]any {
	t, sess := api.Tenant(c), api.Session(c)
	v := login.View{Settings: t.Settings, Client: api.Client(c), HasSession: sess != nil}
	if sess != nil {
		v.PendingSocialSignup = func() string {
			if p := h.Accounts.SocialLogins.PendingSocialSignup(t, sess); p != nil {
				return p.Provider
			}
			return ""
		}
		v.ResetCodePending = func() bool { return h.Accounts.Passwords.ResetCodePending(sess) }
	}
	var pending login.Flow
	if sess != nil {
		if p := h.Accounts.Pipeline.PendingStage(t, sess); p != nil {
			pending = login.Flow{"id": p.Stage, "is_pending": true}
			if p.Stage == identity.StageMFAAuthenticate && h.Accounts.MFA != nil {
				if types, err := h.Accounts.MFA.Types(c.UserContext(), t.ID, p.UserID); err == nil {
					pending["types"] = nonNilStrings(types)
				}
			}
		}
	}
	return loginmethods.All.Flows(v, pending)
}

// reauthenticationFlows lists how a logged-in user can reauthenticate: the
// registered login methods' reauthentication flows (by password, by a
// second factor, or by a pending password reset code).
func reauthenticationFlows(c *fiber.Ctx, h *api.Headless, t *tenants.Tenant, sess *sessions.Session, user *identity.User) []map[string]any {
	v := login.ReauthView{Settings: t.Settings, UsablePassword: user.HasUsablePassword(),
		ResetCodePending: h.Accounts.Passwords.ResetCodePending(sess)}
	if _, types, err := h.Accounts.Pipeline.RequiresMFA(c.UserContext(), t, user.ID); err == nil {
		v.SecondFactors = types
	}
	return loginmethods.All.ReauthenticationFlows(v)
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
