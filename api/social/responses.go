package social

import (
	"errors"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/internal/sessions"
	domain "github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/tenants"
)

// tokenMessages are allauth's headless texts for the token flow's codes.
var tokenMessages = map[string]string{
	"invalid_token":                      "Invalid token.",
	"client_id_required":                 "`client_id` required.",
	"client_id_mismatch":                 "`client_id` mismatch.",
	"token_required":                     "`id_token` and/or `access_token` required.",
	"token_authentication_not_supported": "Provider does not support token authentication.",
	"unknown_provider":                   "Unknown provider.",
}

// tokenError renders a token flow refusal.
func tokenError(e *domain.Error) api.ErrorItem {
	msg, ok := tokenMessages[e.Code]
	if !ok {
		msg = e.Code
	}
	return api.ErrorItem{Param: e.Param, Code: e.Code, Message: msg}
}

// providerData describes the app of a sub-id; an account of an app the
// tenant has since removed keeps its bare id.
func providerData(s *tenants.Settings, subID string) providers.Data {
	if app, ok := s.ProviderApp(subID); ok {
		return providers.Describe(app)
	}
	return providers.Data{ID: subID, Name: subID, Flows: []string{}}
}

// accountData is allauth's ProviderAccount.
func accountData(s *tenants.Settings, provider, uid string, extra map[string]any) map[string]any {
	p := providerData(s, provider)
	kind := provider
	if app, ok := s.ProviderApp(provider); ok {
		kind = app.Provider
	}
	return map[string]any{"uid": uid, "provider": p, "display": domain.Display(kind, extra)}
}

// accountsData lists connected accounts.
func accountsData(s *tenants.Settings, accounts []domain.Account) []map[string]any {
	out := make([]map[string]any, 0, len(accounts))
	for _, acc := range accounts {
		out = append(out, accountData(s, acc.Provider, acc.UID, acc.ExtraData))
	}
	return out
}

// signupData is GET auth/provider/signup's data: the user the signup would
// create, the provider account, and the provider's addresses.
func signupData(s *tenants.Settings, p *sessions.PendingSocialSignup) map[string]any {
	user := map[string]any{"display": "user", "has_usable_password": false}
	if len(p.Emails) > 0 {
		user["email"] = p.Emails[0].Address
	}
	if s.UserModelUsernameField != "" && p.Username != "" {
		user["username"], user["display"] = p.Username, p.Username
	}
	emails := make([]map[string]any, 0, len(p.Emails))
	for i, e := range p.Emails {
		emails = append(emails, map[string]any{"email": e.Address, "verified": e.Verified, "primary": i == 0})
	}
	return map[string]any{"user": user, "account": accountData(s, p.Provider, p.UID, p.Extra), "email": emails}
}

// fail maps the domain's errors for the JSON endpoints: field errors 400,
// closed signup 403, no applicable flow 409, rate limits 429, anonymous
// callers the unauthenticated response, stale sessions the reauthentication
// response.
func (h *Handlers) fail(c *fiber.Ctx, err error) error {
	var errs identity.Errors
	var one *identity.Error
	var se *domain.Error
	switch {
	case errors.As(err, &errs):
		out := &api.InputError{}
		for _, e := range errs {
			out.Errors = append(out.Errors, api.ErrorItem{Message: e.Message, Code: e.Code, Param: e.Param})
		}
		return out
	case errors.As(err, &one):
		return &api.InputError{Errors: []api.ErrorItem{{Message: one.Message, Code: one.Code, Param: one.Param}}}
	case errors.As(err, &se):
		return &api.InputError{Errors: []api.ErrorItem{tokenError(se)}}
	case errors.Is(err, domain.ErrProvider):
		// The provider refused or did not answer: the token could not be
		// verified.
		return &api.InputError{Errors: []api.ErrorItem{{Param: "token", Code: "invalid_token",
			Message: "The provider could not verify the token."}}}
	case errors.Is(err, identity.ErrSignupClosed):
		return api.ErrForbidden
	case errors.Is(err, identity.ErrConflict):
		return api.ErrConflict
	case errors.Is(err, identity.ErrRateLimited):
		return api.ErrRateLimited
	case errors.Is(err, identity.ErrNotAuthenticated):
		return h.RespondAuth(c)
	case errors.Is(err, identity.ErrReauthenticationRequired):
		return h.RespondReauth(c)
	}
	return err
}

// callbackError is the `error` a failed redirect flow puts on the frontend
// callback URL (allauth's headless complete_login); "" for success and for
// infrastructure failures, which the caller returns as they are.
func callbackError(err error) (string, bool) {
	var errs identity.Errors
	var one *identity.Error
	switch {
	case err == nil:
		return "", true
	case errors.Is(err, identity.ErrReauthenticationRequired):
		return "reauthentication_required", true
	case errors.Is(err, identity.ErrSignupClosed):
		return "signup_closed", true
	case errors.Is(err, identity.ErrNotAuthenticated):
		return "permission_denied", true
	case errors.As(err, &errs) && len(errs) > 0:
		return errs[0].Code, true
	case errors.As(err, &one):
		return one.Code, true
	case errors.Is(err, identity.ErrRateLimited):
		return "rate_limited", true
	}
	return "", false
}
