package console

import (
	"context"
	"crypto/subtle"
	"errors"
	"io"
	"net/url"
	"strings"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/failure"
	"github.com/hallpass/hallpass/internal/pgtext"
	"github.com/hallpass/hallpass/tenants"
	"github.com/hallpass/hallpass/web"
)

// Need is what a route requires of the signed-in user.
type Need int

// The access levels, weakest first. Tenant levels apply to the tenant named
// by the route's :slug.
const (
	// Public routes need no session (sign-in).
	Public Need = iota
	// SignedIn routes need a live session (tenant list, account).
	SignedIn
	// PlatformOnly routes are the platform's own pages (its API keys): a
	// platform admin's; anyone else finds nothing there.
	PlatformOnly
	// ViewTenant needs any role on the tenant (viewer and up).
	ViewTenant
	// EditTenant needs admin or owner.
	EditTenant
	// OwnTenant needs owner (deleting the tenant, managing members).
	OwnTenant
)

func (n Need) String() string {
	return [...]string{"public", "signed in", "platform admin", "view tenant", "edit tenant", "own tenant"}[n]
}

// Route is one console endpoint, as the role tests enumerate them.
type Route struct {
	Method string
	// Path is relative to Root, e.g. "t/:slug/settings/:group".
	Path string
	Need Need
}

type route struct {
	Route
	handle func(h *Console, r *request) error
}

// routes is every console endpoint. Each is wrapped by guard, which applies
// the session, CSRF and authorize checks its Need asks for before the
// handler runs; no handler reads the tenant from the URL itself. Static
// paths come before parameterised siblings ("settings/json" before
// "settings/:group").
var routes = []route{
	{Route{"GET", "login", Public}, on(signInPages.loginPage)},
	{Route{"POST", "login", Public}, on(signInPages.login)},
	// The second sign-in step and passkey sign-in: the handlers check the
	// pending flow's cookie and form token, or the sign-in form's, themselves.
	{Route{"GET", "login/mfa", Public}, on(secondFactorPages.mfaPage)},
	{Route{"POST", "login/mfa", Public}, on(secondFactorPages.mfaVerify)},
	{Route{"POST", "login/mfa/passkey/options", Public}, on(secondFactorPages.mfaPasskeyOptions)},
	{Route{"POST", "login/mfa/passkey", Public}, on(secondFactorPages.mfaPasskey)},
	{Route{"POST", "login/passkey/options", Public}, on(secondFactorPages.passkeyOptions)},
	{Route{"POST", "login/passkey", Public}, on(secondFactorPages.passkeyLogin)},
	// An invitation's link: the handlers check the session or the sign-in
	// form token themselves (the invitee may have no account yet).
	{Route{"GET", "invite/:token", Public}, on(memberPages.invitePage)},
	{Route{"POST", "invite/:token", Public}, on(memberPages.acceptInvite)},

	{Route{"GET", "", SignedIn}, on(signInPages.home)},
	{Route{"GET", "tenants", SignedIn}, on(tenantPages.tenantList)},
	{Route{"GET", "tenants/new", SignedIn}, on(tenantPages.newTenantPage)},
	{Route{"GET", "tenants/check-slug", SignedIn}, on(tenantPages.checkSlug)},
	{Route{"POST", "tenants", SignedIn}, on(tenantPages.createTenant)},
	{Route{"GET", "account", SignedIn}, on(signInPages.accountPage)},
	{Route{"GET", "account/security", SignedIn}, on(securityPages.securityPage)},
	{Route{"POST", "account/security/reauth", SignedIn}, on(securityPages.reauthenticate)},
	{Route{"GET", "account/security/totp", SignedIn}, on(securityPages.totpSetupPage)},
	{Route{"POST", "account/security/totp", SignedIn}, on(securityPages.enableTOTP)},
	{Route{"POST", "account/security/totp/disable", SignedIn}, on(securityPages.disableTOTP)},
	{Route{"POST", "account/security/recovery-codes", SignedIn}, on(securityPages.regenerateCodes)},
	{Route{"POST", "account/security/passkeys/options", SignedIn}, on(securityPages.passkeyCreationOptions)},
	{Route{"POST", "account/security/passkeys", SignedIn}, on(securityPages.addPasskey)},
	{Route{"POST", "account/security/passkeys/:id/rename", SignedIn}, on(securityPages.renamePasskey)},
	{Route{"POST", "account/security/passkeys/:id/remove", SignedIn}, on(securityPages.removePasskey)},
	{Route{"POST", "logout", SignedIn}, on(signInPages.logout)},
	{Route{"POST", "logout-everywhere", SignedIn}, on(signInPages.logoutEverywhere)},

	{Route{"GET", "platform/api-keys", PlatformOnly}, on(apiKeyPages.apiKeysPage)},
	{Route{"POST", "platform/api-keys", PlatformOnly}, on(apiKeyPages.createAPIKey)},
	{Route{"POST", "platform/api-keys/:id/revoke", PlatformOnly}, on(apiKeyPages.revokeAPIKey)},

	{Route{"GET", "t/:slug", ViewTenant}, on(tenantPages.overview)},
	{Route{"GET", "t/:slug/settings", ViewTenant}, on(settingsPages.settingsIndex)},
	{Route{"GET", "t/:slug/settings/json", ViewTenant}, on(settingsPages.settingsJSONPage)},
	{Route{"GET", "t/:slug/settings/history", ViewTenant}, on(settingsPages.settingsHistory)},
	{Route{"GET", "t/:slug/settings/preview/users", ViewTenant}, on(settingsPages.previewUsers)},
	{Route{"GET", "t/:slug/settings/branding", ViewTenant}, on(settingsPages.brandingPage)},
	{Route{"GET", "t/:slug/settings/branding/preview", ViewTenant}, on(settingsPages.brandingPreview)},
	{Route{"GET", "t/:slug/settings/:group", ViewTenant}, on(settingsPages.settingsGroupPage)},
	{Route{"GET", "t/:slug/users", ViewTenant}, on(userPages.usersPage)},
	{Route{"GET", "t/:slug/users/:id", ViewTenant}, on(userPages.userPage)},
	{Route{"GET", "t/:slug/domains", ViewTenant}, on(tenantPages.domainsPage)},
	{Route{"GET", "t/:slug/quickstart", ViewTenant}, on(toolPages.quickstart)},
	{Route{"GET", "t/:slug/keys", ViewTenant}, on(toolPages.keysPage)},
	{Route{"GET", "t/:slug/api-keys", ViewTenant}, on(apiKeyPages.apiKeysPage)},
	{Route{"GET", "t/:slug/members", ViewTenant}, on(memberPages.membersPage)},
	{Route{"GET", "t/:slug/webhooks", ViewTenant}, on(webhookPages.webhooksPage)},
	{Route{"GET", "t/:slug/webhooks/:id", ViewTenant}, on(webhookPages.webhookPage)},
	{Route{"GET", "t/:slug/inbox", ViewTenant}, on(toolPages.inboxPage)},
	{Route{"GET", "t/:slug/audit", ViewTenant}, on(toolPages.auditPage)},
	{Route{"GET", "t/:slug/audit/export", ViewTenant}, on(toolPages.auditExport)},

	// The user data preview changes nothing: anyone who may read the
	// tenant's users may compute it (its POST carries the form token).
	{Route{"POST", "t/:slug/settings/preview", ViewTenant}, on(settingsPages.settingsPreview)},
	{Route{"POST", "t/:slug/settings/branding/preview", ViewTenant}, on(settingsPages.brandingPreview)},
	{Route{"POST", "t/:slug/rename", EditTenant}, on(tenantPages.rename)},
	{Route{"POST", "t/:slug/settings/json", EditTenant}, on(settingsPages.settingsJSONPost)},
	{Route{"POST", "t/:slug/settings/branding", EditTenant}, on(settingsPages.brandingPost)},
	{Route{"POST", "t/:slug/settings/:group", EditTenant}, on(settingsPages.settingsGroupPost)},
	{Route{"POST", "t/:slug/keys/rotate", EditTenant}, on(toolPages.rotateKey)},
	{Route{"POST", "t/:slug/keys/import", EditTenant}, on(toolPages.importKey)},
	{Route{"POST", "t/:slug/keys/import/clear", EditTenant}, on(toolPages.clearImportedKey)},
	{Route{"POST", "t/:slug/keys/:kid/retire", EditTenant}, on(toolPages.retireKey)},
	{Route{"POST", "t/:slug/api-keys", EditTenant}, on(apiKeyPages.createAPIKey)},
	{Route{"POST", "t/:slug/api-keys/:id/revoke", EditTenant}, on(apiKeyPages.revokeAPIKey)},
	{Route{"POST", "t/:slug/users/:id/disable", EditTenant}, on(userPages.disableUser)},
	{Route{"POST", "t/:slug/users/:id/enable", EditTenant}, on(userPages.enableUser)},
	{Route{"POST", "t/:slug/users/:id/end-sessions", EditTenant}, on(userPages.endUserSessions)},
	{Route{"POST", "t/:slug/users/:id/reset-mfa", EditTenant}, on(userPages.resetMFA)},
	{Route{"POST", "t/:slug/users/:id/emails/:eid/send-verification", EditTenant}, on(userPages.sendVerification)},
	{Route{"POST", "t/:slug/users/:id/delete", EditTenant}, on(userPages.deleteUser)},
	{Route{"POST", "t/:slug/users/:id/data", EditTenant}, on(userPages.saveUserData)},
	{Route{"POST", "t/:slug/domains", EditTenant}, on(tenantPages.addDomain)},
	{Route{"POST", "t/:slug/domains/verify", EditTenant}, on(tenantPages.verifyDomain)},
	{Route{"POST", "t/:slug/domains/remove", EditTenant}, on(tenantPages.removeDomain)},
	{Route{"POST", "t/:slug/webhooks", EditTenant}, on(webhookPages.createWebhook)},
	{Route{"POST", "t/:slug/webhooks/:id/rotate", EditTenant}, on(webhookPages.rotateWebhook)},
	{Route{"POST", "t/:slug/webhooks/:id/test", EditTenant}, on(webhookPages.testWebhook)},
	{Route{"POST", "t/:slug/webhooks/:id/redeliver", EditTenant}, on(webhookPages.redeliverWebhook)},
	{Route{"POST", "t/:slug/webhooks/:id/enable", EditTenant}, on(webhookPages.enableWebhook)},
	{Route{"POST", "t/:slug/webhooks/:id/disable", EditTenant}, on(webhookPages.disableWebhook)},
	{Route{"POST", "t/:slug/webhooks/:id/delete", EditTenant}, on(webhookPages.deleteWebhook)},

	{Route{"POST", "t/:slug/delete", OwnTenant}, on(tenantPages.deleteTenant)},
	{Route{"POST", "t/:slug/members/invite", OwnTenant}, on(memberPages.invite)},
	{Route{"POST", "t/:slug/members/:uid/role", OwnTenant}, on(memberPages.changeRole)},
	{Route{"POST", "t/:slug/members/:uid/remove", OwnTenant}, on(memberPages.removeMember)},
	{Route{"POST", "t/:slug/invitations/:iid/revoke", OwnTenant}, on(memberPages.revokeInvitation)},
}

// Routes lists the console's endpoints and what each requires.
func Routes() []Route {
	out := make([]Route, len(routes))
	for i, r := range routes {
		out[i] = r.Route
	}
	return out
}

// Mount registers the console on the platform app, under Root. Call before
// the platform's catch-all 404 (server.Finish).
func (h *Console) Mount(app fiber.Router) {
	app.Get("/console", func(c *fiber.Ctx) error {
		if strings.HasSuffix(c.Path(), "/") {
			return c.Next() // non-strict routing matches /console/ here too
		}
		return c.Redirect(Root, fiber.StatusMovedPermanently)
	})
	app.Get(staticPrefix+"*", web.Handler())
	for _, rt := range routes {
		app.Add(rt.Method, Root+rt.Path, h.guard(rt))
	}
	app.All(Root+"*", func(c *fiber.Ctx) error {
		setPageHeaders(c)
		r := &request{c: c}
		if sess, user, err := h.currentSession(c); err == nil {
			r.session, r.user = sess, user
		}
		return h.finish(r, errNotFound)
	})
}

// request is one console request after guard: who is asking and, on tenant
// routes, the tenant they have been authorized for.
type request struct {
	c       *fiber.Ctx
	user    *User
	session *Session
	// tenant and role are set on tenant routes only.
	tenant *tenants.Tenant
	role   Role
	// admin is true for platform admins (who hold no role).
	admin bool
}

func (r *request) ctx() context.Context { return r.c.UserContext() }

// canEdit reports whether the user may change the tenant (admin, owner,
// platform admin): pages hide forms the server would refuse anyway.
func (r *request) canEdit() bool { return r.admin || r.role.rank() >= RoleAdmin.rank() }

// canOwn reports whether the user may delete the tenant.
func (r *request) canOwn() bool { return r.admin || r.role == RoleOwner }

// Errors handlers return; finish renders them as pages.
var (
	errNotFound  = errors.New("not found")
	errForbidden = errors.New("forbidden")
	errCSRF      = errors.New("form token missing or wrong")
)

// guard applies the route's Need: a live session for everything but Public,
// the CSRF token on every POST, and authorize on tenant routes.
func (h *Console) guard(rt route) fiber.Handler {
	return func(c *fiber.Ctx) error {
		setPageHeaders(c)
		r := &request{c: c}
		if rt.Need == Public {
			return h.finish(r, rt.handle(h, r))
		}
		sess, user, err := h.currentSession(c)
		if errors.Is(err, errNoSession) {
			return h.toSignIn(c)
		}
		if err != nil {
			return h.finish(r, err)
		}
		r.session, r.user, r.admin = sess, user, user.IsPlatformAdmin
		if c.Method() == fiber.MethodPost && !h.validPost(c, sess.CSRF) {
			return h.finish(r, errCSRF)
		}
		if rt.Need == PlatformOnly && !r.admin {
			return h.finish(r, errNotFound)
		}
		if rt.Need >= ViewTenant {
			t, role, err := h.authorize(r.ctx(), user, c.Params("slug"), rt.Need)
			if err != nil {
				return h.finish(r, err)
			}
			r.tenant, r.role = t, role
		}
		return h.finish(r, rt.handle(h, r))
	}
}

// authorize is the console's one access decision: may user do what need
// asks on the tenant named slug? Platform admins may do everything; a
// customer user needs a role on the tenant of at least viewer (ViewTenant),
// admin (EditTenant) or owner (OwnTenant). A tenant the user holds no role
// on is reported as not found, exactly like one that does not exist, so no
// customer learns another's tenant names; a role too weak for the action is
// forbidden.
func (h *Console) authorize(ctx context.Context, user *User, slug string, need Need) (*tenants.Tenant, Role, error) {
	if user == nil {
		return nil, "", errNoSession
	}
	if need < ViewTenant {
		return nil, "", nil
	}
	if tenants.ValidateSlug(slug) != nil {
		return nil, "", errNotFound
	}
	t, err := h.store.Get(ctx, slug)
	if errors.Is(err, tenants.ErrNotFound) {
		return nil, "", errNotFound
	}
	if err != nil {
		return nil, "", err
	}
	if user.IsPlatformAdmin {
		return t, "", nil
	}
	role, err := h.users.Role(ctx, t.ID, user.ID)
	if err != nil {
		return nil, "", err
	}
	if role.rank() == 0 {
		return nil, "", errNotFound
	}
	want := map[Need]Role{ViewTenant: RoleViewer, EditTenant: RoleAdmin, OwnTenant: RoleOwner}[need]
	if role.rank() < want.rank() {
		return nil, role, errForbidden
	}
	return t, role, nil
}

// currentSession returns the live session named by the cookie and its user.
func (h *Console) currentSession(c *fiber.Ctx) (*Session, *User, error) {
	sess, err := h.sessions.Lookup(c.UserContext(), c.Cookies(CookieName))
	if err != nil {
		return nil, nil, err
	}
	user, err := h.users.ByID(c.UserContext(), sess.UserID)
	if err != nil {
		return nil, nil, errNoSession
	}
	return sess, user, nil
}

// validPost checks a state-changing request: the form token (field _csrf or
// header X-CSRF-Token) must equal want, compared in constant time, and a
// browser that says the request comes from another site is refused even
// with a token.
func (h *Console) validPost(c *fiber.Ctx, want string) bool {
	if c.Get("Sec-Fetch-Site") == "cross-site" {
		return false
	}
	if o := c.Get(fiber.HeaderOrigin); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != string(c.Request().Host()) {
			return false
		}
	}
	got := c.FormValue("_csrf")
	if got == "" {
		got = c.Get("X-CSRF-Token")
	}
	return want != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// toSignIn answers a request without a live session: to the sign-in page,
// coming back here afterwards (for GETs).
func (h *Console) toSignIn(c *fiber.Ctx) error {
	target := Root + "login"
	if c.Method() == fiber.MethodGet {
		target += "?next=" + url.QueryEscape(string(c.Request().URI().RequestURI()))
	}
	clearCookie(c, CookieName, h.secure)
	if c.Get("HX-Request") == "true" {
		c.Set("HX-Redirect", target)
		return c.SendStatus(fiber.StatusUnauthorized)
	}
	return c.Redirect(target, fiber.StatusSeeOther)
}

// finish renders an error returned by a handler as a console page.
func (h *Console) finish(r *request, err error) error {
	if err == nil {
		return nil
	}
	c := r.c
	var status int
	var title, msg string
	var refused *tenantCreationError
	switch {
	case errors.As(err, &refused):
		status, title, msg = fiber.StatusForbidden, "Cannot create a tenant", refused.msg
	case errors.Is(err, errNotFound), errors.Is(err, tenants.ErrNotFound):
		status, title = fiber.StatusNotFound, "Not found"
		msg = "There is nothing here, or you do not have access to it."
	case errors.Is(err, errForbidden):
		status, title = fiber.StatusForbidden, "Not allowed"
		msg = "Your role on this tenant (" + string(r.role) + ") does not allow this action. Nothing was changed."
	case errors.Is(err, errInvitation):
		status, title = fiber.StatusNotFound, "Invitation not valid"
		msg = "This invitation link is unknown, was used or revoked, or has expired (links work for 7 days). Ask an owner of the tenant to invite you again."
	case errors.Is(err, errCSRF):
		status, title = fiber.StatusForbidden, "Form expired"
		msg = "This form was not sent from a current console page (its security token is missing or out of date). Nothing was changed. Go back, reload the page and try again."
	case errors.Is(err, errNoSession):
		return h.toSignIn(c)
	default:
		var retryAfter string
		status, title, msg, retryAfter = failurePage(err)
		if retryAfter != "" {
			c.Set(fiber.HeaderRetryAfter, retryAfter)
		}
		h.log.Error("console request failed", "err", err, "method", c.Method(), "path", c.Path())
	}
	return h.render(r, status, title, errorPage(title, msg))
}

// failurePage is the page for an error the console has no page of its own
// for: 503 while a store is unreachable (failure.Unavailable, the
// classification the headless API answers 503 by), else 500.
func failurePage(err error) (status int, title, msg, retryAfter string) {
	if failure.Unavailable(err) {
		return fiber.StatusServiceUnavailable, "Temporarily unavailable",
			"The database is not answering right now. Nothing was changed; please retry in a moment.", "2"
	}
	return fiber.StatusInternalServerError, "Something went wrong", "The console hit an unexpected error. It has been logged.", ""
}

// render writes a full page framed by the shared layout.
func (h *Console) render(r *request, status int, title string, body templ.Component, opts ...func(*web.Page)) error {
	p := h.frame(r, title)
	for _, o := range opts {
		o(&p)
	}
	return writeHTML(r.c, status, templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		return web.Layout(p).Render(templ.WithChildren(ctx, body), w)
	}))
}

// frame builds the layout's data for the request's user and tenant.
func (h *Console) frame(r *request, title string) web.Page {
	p := web.Page{Title: title, Static: staticPrefix, Home: Root}
	if r.user == nil {
		return p
	}
	p.User, p.PlatformAdmin, p.CSRF = r.user.Email, r.user.IsPlatformAdmin, r.session.CSRF
	p.Nav = []web.NavItem{{Key: "tenants", Label: "Tenants", Href: Root + "tenants"}}
	if r.user.IsPlatformAdmin && h.cfg.APIKeys != nil {
		p.Nav = append(p.Nav, web.NavItem{Key: "api-keys", Label: "Platform API keys", Href: Root + "platform/api-keys"})
	}
	p.Nav = append(p.Nav, web.NavItem{Key: "account", Label: "Account", Href: Root + "account"})
	if r.session.Flash != nil {
		p.Flash = flashView(*r.session.Flash)
	}
	if r.tenant != nil {
		p.Active = "tenants"
		role := string(r.role)
		if r.admin {
			role = "platform admin"
		}
		p.Tenant = &web.TenantNav{Slug: r.tenant.Slug, Name: r.tenant.Name, Role: role, Items: h.tenantNav(r.tenant.Slug)}
		p.Crumbs = []web.Crumb{{Label: "Tenants", Href: Root + "tenants"}, {Label: r.tenant.Name, Href: tenantPath(r.tenant.Slug, "")}}
	}
	return p
}

// tenantPath is the console path of one of a tenant's pages.
func tenantPath(slug, rest string) string {
	p := Root + "t/" + slug
	if rest != "" {
		p += "/" + rest
	}
	return p
}

// active marks the current top and side navigation entries.
func active(top, side string) func(*web.Page) {
	return func(p *web.Page) {
		p.Active = top
		if p.Tenant != nil {
			p.Tenant.Active = side
		}
	}
}

// crumbs appends breadcrumbs after the tenant's.
func crumbs(cs ...web.Crumb) func(*web.Page) {
	return func(p *web.Page) { p.Crumbs = append(p.Crumbs, cs...) }
}

// redirectWith stores a flash message and answers 303 to target.
func (h *Console) redirectWith(r *request, target string, f Flash) error {
	if err := h.sessions.SetFlash(r.ctx(), r.session, f); err != nil {
		return err
	}
	return r.c.Redirect(target, fiber.StatusSeeOther)
}

// setPageHeaders applies the console's browser policy to every response.
func setPageHeaders(c *fiber.Ctx) {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	c.Set("X-Frame-Options", "DENY")
	c.Set("X-Content-Type-Options", "nosniff")
	c.Set("Referrer-Policy", "same-origin")
}

// safeNext returns a same-console path to go to after sign-in.
func safeNext(next string) string {
	if !strings.HasPrefix(next, Root) || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") ||
		!pgtext.Valid(next) || len(next) > 2000 ||
		strings.HasPrefix(next, Root+"login") {
		return Root
	}
	return next
}
