package base

import (
	"slices"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// flows lists what an unauthenticated client can do, in allauth's order,
// with the pending stage (if any) marked.
func flows(c *fiber.Ctx, h *api.Headless) []map[string]any {
	t, sess := api.Tenant(c), api.Session(c)
	s := t.Settings
	out := []map[string]any{}
	if !s.SocialAccountOnly {
		out = append(out, map[string]any{"id": "login"})
	}
	if s.LoginByCodeEnabled {
		out = append(out, map[string]any{"id": "login_by_code"})
	}
	if s.SignupOpen && !s.SocialAccountOnly {
		out = append(out, map[string]any{"id": "signup"})
	}
	if slices.Contains(s.Apps, tenants.AppSocialAccount) {
		client := api.Client(c)
		var redirect, token []string
		for _, app := range s.ProviderApps() {
			k, ok := providers.Lookup(app.Provider)
			if !ok || !k.Supports(client) {
				continue
			}
			if k.Redirect {
				redirect = append(redirect, app.SubID())
			}
			if k.Token {
				token = append(token, app.SubID())
			}
		}
		if len(redirect) > 0 && client == api.ClientBrowser {
			out = append(out, map[string]any{"id": "provider_redirect", "providers": redirect})
		}
		if len(token) > 0 {
			out = append(out, map[string]any{"id": "provider_token", "providers": token})
		}
		if sess != nil && (len(redirect) > 0 || len(token) > 0) {
			if p := h.Accounts.PendingSocialSignup(t, sess); p != nil {
				if app, ok := s.ProviderApp(p.Provider); ok {
					out = append(out, map[string]any{"id": "provider_signup", "provider": providers.Describe(app), "is_pending": true})
				}
			}
		}
	}
	if slices.Contains(s.Apps, tenants.AppMFA) && s.MFAPasskeyLoginEnabled {
		out = append(out, map[string]any{"id": "mfa_login_webauthn"})
	}
	if sess != nil {
		if p := h.Accounts.PendingStage(t, sess); p != nil {
			pending := map[string]any{"id": p.Stage, "is_pending": true}
			if p.Stage == identity.StageMFAAuthenticate && h.Accounts.MFA != nil {
				if types, err := h.Accounts.MFA.Types(c.UserContext(), t.ID, p.UserID); err == nil {
					pending["types"] = nonNilStrings(types)
				}
			}
			found := false
			for _, f := range out {
				if f["id"] == p.Stage {
					for k, v := range pending {
						f[k] = v
					}
					found = true
				}
			}
			if !found {
				out = append(out, pending)
			}
		}
	}
	if !s.SocialAccountOnly && s.PasswordResetByCodeEnabled {
		out = append(out, map[string]any{"id": "password_reset_by_code", "is_pending": sess != nil && h.Accounts.ResetCodePending(sess)})
	}
	return out
}

// reauthenticationFlows lists how a logged-in user can reauthenticate: by
// password, by a second factor, or by a pending password reset code.
func reauthenticationFlows(c *fiber.Ctx, h *api.Headless, t *tenants.Tenant, sess *sessions.Session, user *identity.User) []map[string]any {
	out := []map[string]any{}
	if user.HasUsablePassword() {
		out = append(out, map[string]any{"id": "reauthenticate"})
	}
	if need, types, err := h.Accounts.RequiresMFA(c.UserContext(), t, user.ID); err == nil && need {
		out = append(out, map[string]any{"id": "mfa_reauthenticate", "types": nonNilStrings(types)})
	}
	if !t.Settings.SocialAccountOnly && t.Settings.PasswordResetByCodeEnabled {
		out = append(out, map[string]any{"id": "password_reset_by_code", "is_pending": h.Accounts.ResetCodePending(sess)})
	}
	return out
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
