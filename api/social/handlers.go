// Package social serves allauth's headless provider endpoints: the browser
// redirect flow (auth/provider/redirect and the provider's callback on the
// tenant's base), the app token flow (auth/provider/token), the pending
// provider signup (auth/provider/signup) and the connected accounts
// (account/providers). The provider side lives in internal/social, the
// account rules in internal/identity; this package parses (inputs.go),
// calls them (handlers.go, callback.go) and shapes allauth's responses
// (responses.go); the domain's refusals go to api.ErrorHandler as they are.
package social

import (
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/api/base"
	loginsocial "github.com/hallpass/hallpass/internal/login/social"
	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/internal/sessions"
	domain "github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/tenants"
)

// Handlers serve the provider slice.
type Handlers struct {
	*api.Headless
	// States keeps redirect flows between the redirect and the callback.
	States *domain.StateStore
	// AllowPrivateNetworks lets provider URLs resolve to loopback and
	// private addresses (on-premises identity providers, tests); off, a
	// tenant's OpenID Connect server_url cannot reach the platform's own
	// network.
	AllowPrivateNetworks bool
	// Endpoints point providers, by provider id, at other servers (tests).
	Endpoints map[string]domain.Endpoints
	// Cache holds providers' JWKS and discovery documents (nil: shared).
	Cache *domain.Cache
}

// Routes are the provider slice's own headless endpoints: none, as the
// social method declares its routes (internal/login/social); Bind answers
// them.
func (h *Handlers) Routes() []api.Route { return nil }

// Bind answers the social method's routes.
func (h *Handlers) Bind() api.Bindings {
	return api.Bindings{
		loginsocial.OpRedirect:     h.Redirect,
		loginsocial.OpToken:        h.Token,
		loginsocial.OpSignupInfo:   h.SignupInfo,
		loginsocial.OpSignup:       h.Signup,
		loginsocial.OpListAccounts: h.ListAccounts,
		loginsocial.OpDisconnect:   h.Disconnect,
	}
}

// RegisterOutside adds the provider callbacks on the tenant's base
// (allauth's own paths, outside the headless tree).
func (h *Handlers) RegisterOutside(tenant fiber.Router) {
	for _, path := range []string{"/accounts/:provider/login/callback/", "/accounts/:prefix/:id/login/callback/"} {
		tenant.Get(path, h.Callback)
		tenant.Post(path, h.Callback)
	}
}

// options are the provider options of this server.
func (h *Handlers) options() []domain.Option {
	opts := []domain.Option{domain.WithProviderEndpoints(h.Endpoints)}
	if h.Cache != nil {
		opts = append(opts, domain.WithCache(h.Cache))
	}
	return opts
}

// provider returns the tenant's app of a sub-id with its implementation.
func (h *Handlers) provider(s *tenants.Settings, subID string) (providers.App, domain.Provider, error) {
	app, _, err := domain.FindApp(s, subID, "")
	if err != nil {
		return app, nil, err
	}
	p, err := domain.ForTenant(s, subID, app.ClientID, h.AllowPrivateNetworks, h.options()...)
	return app, p, err
}

// socialLogin turns a provider profile into the account layer's login.
func socialLogin(s *tenants.Settings, app providers.App, prof *domain.Profile) sessions.SocialLogin {
	in := sessions.SocialLogin{Provider: app.SubID(), UID: prof.UID, Username: prof.Username, Extra: prof.Extra,
		EmailAuthentication: domain.EmailAuthentication(s, app)}
	for _, e := range prof.Emails {
		in.Emails = append(in.Emails, sessions.SocialEmail{Address: e.Address, Verified: e.Verified, Primary: e.Primary})
	}
	if len(in.Emails) == 0 && prof.Email != "" {
		in.Emails = []sessions.SocialEmail{{Address: prof.Email, Verified: prof.EmailVerified, Primary: true}}
	}
	return in
}

// Token handles POST auth/provider/token: an app (or a browser) hands over
// tokens it obtained from the provider itself.
func (h *Handlers) Token(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	in, err := parseToken(c)
	if err != nil {
		return err
	}
	req, err := domain.CheckTokenInput(t.Settings, in.Provider, in.Token, h.AllowPrivateNetworks, h.options()...)
	if err != nil {
		return err
	}
	prof, err := domain.VerifyToken(c.UserContext(), req)
	if err != nil {
		return err
	}
	login := socialLogin(t.Settings, req.App, prof)
	if in.Process == domain.ProcessConnect {
		if !sess.Authenticated() {
			return api.ErrForbidden // allauth: PermissionDenied
		}
		if err := h.Accounts.SocialLogins.ConnectSocial(c.UserContext(), t, sess, login); err != nil {
			return err
		}
		return base.RespondAuth(c, h.Headless)
	}
	if err := h.Accounts.SocialLogins.SocialLoginFlow(c.UserContext(), t, sess, login, api.Request(c)); err != nil {
		return err
	}
	if sess.Authenticated() {
		api.RotateCSRF(c)
	}
	return base.RespondAuth(c, h.Headless)
}

// SignupInfo handles GET auth/provider/signup.
func (h *Handlers) SignupInfo(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	p := h.Accounts.SocialLogins.PendingSocialSignup(t, sess)
	if p == nil {
		return api.ErrConflict
	}
	if !t.Settings.SignupOpen {
		return api.ErrForbidden
	}
	return h.Respond(c, fiber.StatusOK, signupData(h.Accounts.Profiles, t, p), nil)
}

// Signup handles POST auth/provider/signup.
func (h *Handlers) Signup(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if h.Accounts.SocialLogins.PendingSocialSignup(t, sess) == nil {
		return api.ErrConflict
	}
	if !t.Settings.SignupOpen {
		return api.ErrForbidden
	}
	in, err := parseSignup(c, t.Settings)
	if err != nil {
		return err
	}
	if err := h.Accounts.SocialLogins.CompleteSocialSignup(c.UserContext(), t, sess, in, api.Request(c)); err != nil {
		return err
	}
	if sess.Authenticated() {
		api.RotateCSRF(c)
	}
	return base.RespondAuth(c, h.Headless)
}

// ListAccounts handles GET account/providers.
func (h *Handlers) ListAccounts(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	accounts, err := h.Accounts.SocialLogins.SocialAccounts(c.UserContext(), t, sess)
	if err != nil {
		return err
	}
	return h.Respond(c, fiber.StatusOK, accountsData(t.Settings, accounts), nil)
}

// Disconnect handles DELETE account/providers.
func (h *Handlers) Disconnect(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	if !sess.Authenticated() {
		return base.RespondAuth(c, h.Headless)
	}
	provider, account, err := parseDisconnect(c)
	if err != nil {
		return err
	}
	if err := h.Accounts.SocialLogins.DisconnectSocial(c.UserContext(), t, sess, provider, account); err != nil {
		return err
	}
	return h.ListAccounts(c)
}
