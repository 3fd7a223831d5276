package social

import (
	"github.com/hallpass/hallpass/internal/failure"
	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/internal/sessions"
	domain "github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/tenants"
)

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

// callbackError is the `error` a failed redirect flow puts on the frontend
// callback URL (allauth's headless complete_login): the refusal's allauth
// code (failure.Refusal.ErrorCode); "" for success. Anything else (an
// infrastructure failure) is not ok: the caller returns it as it is.
func callbackError(err error) (string, bool) {
	if err == nil {
		return "", true
	}
	if r, ok := failure.AsRefusal(err); ok && r.ErrorCode() != "" {
		return r.ErrorCode(), true
	}
	return "", false
}
