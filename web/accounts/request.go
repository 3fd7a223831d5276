package accounts

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/clientip"
	"github.com/hallpass/hallpass/internal/csrf"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/origins"
	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// errCSRF is a form post whose CSRF token is missing or wrong, or that
// came from an origin the tenant does not trust: Django's 403 page.
var errCSRF = errors.New("accounts: CSRF verification failed")

// Request is one page request: its tenant, its browser session (the one the
// headless browser client shares) and its CSRF token.
type Request struct {
	// C is the Fiber request.
	C *fiber.Ctx
	// Tenant is the request's tenant; Target says how it was addressed.
	Tenant *tenants.Tenant
	Target *tenants.Target
	// Session is the browser's session (anonymous when nobody is signed in).
	Session *sessions.Session
	// Pages is the page set serving the request.
	Pages *Pages

	csrfSecret string
	// startUser is the session's user when the request began (0: none).
	startUser int64
	saved     bool
	user      *identity.User
}

// begin loads the request's session from the browser's session cookie and
// applies Django's CSRF rules: every page hands out a csrftoken cookie; a
// POST must echo it (csrfmiddlewaretoken or X-CSRFToken) and, when it
// names its Origin, come from one the tenant trusts.
func (p *Pages) begin(c *fiber.Ctx, tg *tenants.Target) (*Request, error) {
	t := tg.Tenant
	r := &Request{C: c, Tenant: t, Target: tg, Pages: p}
	ip, ua := r.IP(), c.Get(fiber.HeaderUserAgent)
	store := p.Accounts.Sessions
	if token := c.Cookies(sessions.BrowserCookie); token != "" {
		sess, err := store.Lookup(c.UserContext(), t.ID, token, ip, ua)
		switch {
		case errors.Is(err, sessions.ErrNotFound):
			clearCookie(r, sessions.BrowserCookie)
		case err != nil:
			r.Session = store.New(t.ID, clientBrowser, ip, ua)
			return r, err
		default:
			r.Session = sess
		}
	}
	if r.Session == nil {
		r.Session = store.New(t.ID, clientBrowser, ip, ua)
	}
	r.startUser = r.Session.State.UserID
	secret := c.Cookies(csrf.Cookie)
	if !csrf.Valid(secret) {
		secret = ""
	}
	if c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		if origin := c.Get(fiber.HeaderOrigin); origin != "" && !origins.Frontend(t.Settings, r.origin(), origin) {
			return r, errCSRF
		}
		sent := c.FormValue(csrf.FormField)
		if sent == "" {
			sent = c.Get(csrf.Header)
		}
		if !csrf.Matches(secret, sent) {
			return r, errCSRF
		}
	}
	if secret == "" {
		secret = csrf.NewToken()
		setCSRFCookie(r, secret)
	}
	r.csrfSecret = secret
	return r, nil
}

// clientBrowser is the headless client whose session the pages share.
const clientBrowser = "browser"

// CSRF is the token a form on this page carries in csrfmiddlewaretoken:
// the cookie's secret under a fresh mask, as Django renders it.
func (r *Request) CSRF() string { return csrf.Mask(r.csrfSecret) }

// RotateCSRF gives the browser a new CSRF secret, as Django does at login.
func (r *Request) RotateCSRF() {
	r.csrfSecret = csrf.NewToken()
	setCSRFCookie(r, r.csrfSecret)
}

func setCSRFCookie(r *Request, secret string) {
	r.C.Cookie(&fiber.Cookie{Name: csrf.Cookie, Value: secret, Path: cookiePath(r), MaxAge: 31449600,
		Secure: secure(r), SameSite: fiber.CookieSameSiteLaxMode})
}

// cookiePath is the path the tenant's cookies are scoped to (its base), the
// same as the headless API's, so the two share them.
func cookiePath(r *Request) string { return r.Target.Prefix + "/" }

func secure(r *Request) bool { return r.C.Protocol() == "https" }

func clearCookie(r *Request, name string) {
	r.C.Cookie(&fiber.Cookie{Name: name, Value: "", Path: cookiePath(r), Expires: time.Unix(0, 0), MaxAge: -1,
		HTTPOnly: true, Secure: secure(r), SameSite: fiber.CookieSameSiteLaxMode})
}

// IP is the client's address as the tenant's proxy settings define it.
func (r *Request) IP() string {
	s := r.Tenant.Settings
	return clientip.ForTenant(r.C, s.TrustedClientIPHeader, s.TrustedProxyCount)
}

// BaseURL is the tenant's base URL for this request (from configuration).
func (r *Request) BaseURL() string { return r.Target.BaseURL() }

// origin is the scheme and host of BaseURL.
func (r *Request) origin() string { return origins.Of(r.BaseURL()) }

// Domain describes the request to the domain, as the browser client's.
func (r *Request) Domain() identity.Request {
	return identity.Request{BaseURL: r.BaseURL(), IP: r.IP(), Client: clientBrowser,
		TrustCookie: r.C.Cookies(r.Tenant.Settings.TrustCookieName())}
}

// Ctx is the request's context for domain calls.
func (r *Request) Ctx() context.Context { return r.C.UserContext() }

// Path is a path under the tenant's base as the browser addresses it: "/t/{slug}" + p
// by path, p by host. p starts with "/".
func (r *Request) Path(p string) string { return r.Target.Prefix + p }

// Form is a posted form field's value.
func (r *Request) Form(name string) string { return r.C.FormValue(name) }

// Save stores the session (and hands the browser its cookie) when it
// changed, as the headless API does after every request; Render and
// Redirect call it.
func (r *Request) Save() error {
	if r.saved {
		return nil
	}
	r.saved = true
	sess, s := r.Session, r.Tenant.Settings
	if sess.StoresNewPending() {
		if err := limitAnonymous(r); err != nil {
			return err
		}
	}
	if err := r.Pages.Accounts.Sessions.Save(r.Ctx(), sess, time.Duration(s.LoginTimeout)*time.Second); err != nil {
		return err
	}
	if sess.NewToken() {
		cookie := &fiber.Cookie{Name: sessions.BrowserCookie, Value: sess.Token, Path: cookiePath(r), HTTPOnly: true,
			Secure: secure(r), SameSite: fiber.CookieSameSiteLaxMode}
		if sess.Authenticated() {
			cookie.Expires = sess.ExpiresAt
		}
		r.C.Cookie(cookie)
	} else if sess.Token == "" && r.C.Cookies(sessions.BrowserCookie) != "" {
		clearCookie(r, sessions.BrowserCookie)
	}
	return nil
}

// limitAnonymous applies HALLPASS_RATE_LIMITS' anonymous_session limit to a
// request that stores a new anonymous session, per client IP (its /64 for
// IPv6), as the headless API does.
func limitAnonymous(r *Request) error {
	rules := r.Tenant.Settings.HallpassRateLimits[ratelimit.ActionAnonymousSession]
	lim := r.Pages.Accounts.Limiter
	if lim == nil || len(rules) == 0 {
		return nil
	}
	subject := r.IP()
	if n := ratelimit.IPNetwork(subject); n != "" {
		subject = n
	}
	ok, err := lim.Allow(r.Ctx(), r.Tenant.ID, ratelimit.ActionAnonymousSession, rules, ratelimit.Subject{IP: subject})
	if err != nil {
		return err
	}
	if !ok {
		return identity.ErrRateLimited
	}
	return nil
}

// Redirect saves the session and sends the browser to target (a path under
// the tenant's base as Path returns it, or a URL Next accepted): 303 after
// a form post, 302 otherwise.
func (r *Request) Redirect(target string) error {
	if err := r.Save(); err != nil {
		return err
	}
	status := fiber.StatusFound
	if r.C.Method() == fiber.MethodPost {
		status = fiber.StatusSeeOther
	}
	noStore(r.C)
	return r.C.Redirect(target, status)
}

// Next is the request's `next` parameter (query or form) when it is safe
// to go to (SafeNext), else fallback (a path under the tenant's base,
// without the prefix: "/accounts/email/").
func (r *Request) Next(fallback string) string {
	raw := r.C.Query("next")
	if r.C.Method() == fiber.MethodPost {
		if v := r.C.FormValue("next"); v != "" {
			raw = v
		}
	}
	if next, ok := SafeNext(r.Tenant.Settings, r.origin(), r.Target.Prefix, raw); ok {
		return next
	}
	return r.Path(fallback)
}

// NextParam is the request's `next` as given when it is safe, "" otherwise:
// for carrying it on to the next page's links and forms.
func (r *Request) NextParam() string {
	raw := r.C.Query("next")
	if v := r.C.FormValue("next"); v != "" && r.C.Method() == fiber.MethodPost {
		raw = v
	}
	if _, ok := SafeNext(r.Tenant.Settings, r.origin(), r.Target.Prefix, raw); ok {
		return raw
	}
	return ""
}

// WithNext is path p (under the tenant's base) with the request's safe
// `next` carried on.
func (r *Request) WithNext(p string) string {
	if n := r.NextParam(); n != "" {
		return r.Path(p) + "?next=" + url.QueryEscape(n)
	}
	return r.Path(p)
}

// User is the signed-in user, nil when nobody is. A session whose user was
// deleted or deactivated is ended, as the headless API ends it.
func (r *Request) User() (*identity.User, error) {
	if r.user != nil || !r.Session.Authenticated() {
		return r.user, nil
	}
	u, err := r.Pages.Accounts.Store.User(r.Ctx(), r.Tenant.ID, r.Session.State.UserID)
	if errors.Is(err, identity.ErrUserNotFound) || (err == nil && !u.IsActive) {
		if err := r.Pages.Accounts.Pipeline.Logout(r.Ctx(), r.Tenant, r.Session); err != nil {
			return nil, err
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r.user = u
	return u, nil
}

// RequireUser returns the signed-in user; when nobody is signed in it
// redirects to the sign-in page (with this page as `next`) and returns a
// nil user: the handler returns the error it is given.
func (r *Request) RequireUser() (*identity.User, error) {
	u, err := r.User()
	if err != nil || u != nil {
		return u, err
	}
	return nil, r.Redirect(r.Path(Prefix+"login/") + "?next=" + url.QueryEscape(r.Path(strings.TrimPrefix(r.C.Path(), r.Target.Prefix))))
}

// Render saves the session and writes a page: the layout, branded for the
// tenant, around body.
func (r *Request) Render(status int, title string, body templ.Component) error {
	if err := r.Save(); err != nil {
		return err
	}
	return r.write(status, title, body)
}

// write renders without saving the session (error pages).
func (r *Request) write(status int, title string, body templ.Component) error {
	c := r.C
	signedIn := false
	if r.Session != nil && r.Session.Authenticated() {
		signedIn = true
	}
	frame := Frame{Title: title, Brand: r.brand(), Static: r.Path(Prefix + "static/"),
		BrandCSS: r.Pages.brandCSSURL(r), SignedIn: signedIn, Home: r.Path(DefaultRedirect),
		LogoutURL: r.Path(Prefix + "logout/")}
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderContentSecurityPolicy, csp(r))
	noStore(c)
	return Layout(frame, body).Render(context.WithoutCancel(c.UserContext()), c.Response().BodyWriter())
}

// csp is the pages' Content-Security-Policy: nothing from anywhere but the
// tenant's own origin, no inline script or style, forms posting (and
// redirecting after a post) only to the tenant's own and frontend origins.
func csp(r *Request) string {
	formAction := "'self'"
	if o := r.origin(); o != "" {
		formAction += " " + o
	}
	for _, raw := range r.Tenant.Settings.FrontendURLs {
		if o := origins.Of(raw); o != "" && !strings.Contains(formAction, " "+o) {
			formAction += " " + o
		}
	}
	return "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; " +
		"form-action " + formAction + "; frame-ancestors 'none'; base-uri 'none'"
}

// noStore keeps pages out of shared and browser caches: they carry CSRF
// tokens and account data.
func noStore(c *fiber.Ctx) {
	c.Set(fiber.HeaderCacheControl, "no-store")
}
