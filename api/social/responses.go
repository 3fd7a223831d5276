package social

import (
	"encoding/json"

	"github.com/hallpass/hallpass/internal/failure"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/internal/sessions"
	domain "github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/userdata"
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
// create (with the tenant's serializer keys, evaluated over what the
// provider gave: no id, no profile, no metadata yet), the provider
// account, and the provider's addresses.
func signupData(profiles *identity.Profiles, t *tenants.Tenant, p *sessions.PendingSocialSignup) map[string]any {
	s := t.Settings
	user := map[string]any{"display": "user", "has_usable_password": false}
	pending := userdata.User{Display: "user"}
	if len(p.Emails) > 0 {
		user["email"] = p.Emails[0].Address
		pending.Email = p.Emails[0].Address
	}
	if s.UserModelUsernameField != "" && p.Username != "" {
		user["username"], user["display"] = p.Username, p.Username
		pending.Username, pending.Display = p.Username, p.Username
	}
	emails := make([]map[string]any, 0, len(p.Emails))
	for i, e := range p.Emails {
		emails = append(emails, map[string]any{"email": e.Address, "verified": e.Verified, "primary": i == 0})
		pending.Emails = append(pending.Emails, userdata.Email{Email: e.Address, Verified: e.Verified, Primary: i == 0})
	}
	var out any = user
	if extra := profiles.Render(t, pending); len(extra) > 2 {
		out = withExtra(user, extra)
	}
	return map[string]any{"user": out, "account": accountData(s, p.Provider, p.UID, p.Extra), "email": emails}
}

// withExtra encodes allauth's user object with the serializer's keys
// (a JSON object) after allauth's own, as userdata.View does.
func withExtra(user map[string]any, extra json.RawMessage) json.RawMessage {
	b, _ := json.Marshal(user) // strings and booleans always encode
	return append(append(append(b[:len(b)-1:len(b)-1], ','), extra[1:len(extra)-1]...), '}')
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
