package social

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"html"
	"net/url"
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/internal/ratelimit"
	domain "github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/tenants"
)

// Redirect handles POST auth/provider/redirect, a top-level form post from
// the frontend: it starts the flow, bound to the browser session, and sends
// the browser to the provider. A form that does not check out ends on the
// tenant's socialaccount_login_error page (or an error page of ours): never
// on a callback_url that is not the tenant's.
func (h *Handlers) Redirect(c *fiber.Ctx) error {
	t, sess := api.Tenant(c), api.Session(c)
	in, code := parseRedirect(c)
	if code != "" {
		return loginError(c, code, domain.ProcessLogin)
	}
	app, p, err := h.provider(t.Settings, in.Provider)
	if err != nil {
		if errors.Is(err, domain.ErrUnknownProvider) {
			return loginError(c, "unknown_provider", domain.ProcessLogin)
		}
		return err
	}
	if k, ok := providers.Lookup(app.Provider); !ok || !k.Redirect {
		return loginError(c, "unknown_provider", domain.ProcessLogin)
	}
	// Each redirect stores a flow state (and, for a new visitor, a session)
	// in the Redis every tenant shares: only so many per IP.
	if err := h.LimitAnonymous(c, ratelimit.ActionProviderRedirect); err != nil {
		return err
	}
	st := domain.State{Process: in.Process, CallbackURL: in.CallbackURL, SessionBinding: domain.SessionBinding(sess.EnsureToken())}
	authURL, err := domain.BeginRedirect(c.UserContext(), h.States, t.ID, p, st, callbackURL(c, t.Settings, app), nil)
	if err != nil {
		if errors.Is(err, domain.ErrProvider) || errors.Is(err, domain.ErrConfig) {
			// Discovery failed, or the app is misconfigured.
			return redirectWithError(c, in.CallbackURL, domain.AuthError(err), in.Process)
		}
		return err
	}
	u, err := url.Parse(authURL)
	if err != nil {
		return err
	}
	sess.AddOAuthFlow(flowHash(u.Query().Get("state")))
	if _, err := h.SaveSession(c); err != nil {
		return err
	}
	return c.Redirect(authURL, fiber.StatusFound)
}

// flowHash is how a session remembers a flow's state.
func flowHash(state string) string {
	sum := sha256.Sum256([]byte("hallpass oauth flow\x00" + state))
	return hex.EncodeToString(sum[:16])
}

// callbackURL is the backend callback of an app on the tenant's base, as
// the provider must be configured with: /accounts/{provider}/login/callback/,
// or /accounts/{prefix}/{provider_id}/login/callback/ for OpenID Connect.
func callbackURL(c *fiber.Ctx, s *tenants.Settings, app providers.App) string {
	base := strings.TrimSuffix(api.TenantBaseURL(c), "/")
	if app.Provider == "openid_connect" {
		return base + "/accounts/" + s.SocialAccountOpenIDConnectURLPrefix + "/" + url.PathEscape(app.ProviderID) + "/login/callback/"
	}
	return base + "/accounts/" + app.Provider + "/login/callback/"
}

// Callback handles the provider's return to /accounts/…/login/callback/:
// the flow's state must be one this browser session started; the code is
// exchanged, the provider account logs in (or is connected), and the
// browser goes back to the frontend's callback_url, with allauth's error
// and error_process parameters when something failed.
func (h *Handlers) Callback(c *fiber.Ctx) error {
	t := api.Tenant(c)
	if t == nil || !slices.Contains(t.Settings.Apps, tenants.AppSocialAccount) {
		return api.ErrRouteAbsent
	}
	if c.Method() == fiber.MethodPost {
		// Apple answers with a cross-site form post, which carries no
		// SameSite=Lax session cookie: continue as a top-level GET.
		p, _ := url.Parse(api.TenantBaseURL(c))
		return c.Redirect(strings.TrimSuffix(p.Path, "/")+c.Path()+"?"+formValues(c).Encode(), fiber.StatusSeeOther)
	}
	sess, err := h.BrowserSession(c)
	if err != nil {
		return err
	}
	q := queryValues(c)
	state := q.Get("state")
	st, err := h.States.Take(c.UserContext(), t.ID, state, domain.SessionBinding(sess.Token))
	if err == nil && !sess.TakeOAuthFlow(flowHash(state)) {
		err = domain.ErrStateMismatch
	}
	if errors.Is(err, domain.ErrStateNotFound) || errors.Is(err, domain.ErrStateMismatch) {
		return loginError(c, domain.AuthErrorUnknown, domain.ProcessLogin)
	}
	if err != nil {
		return err
	}
	app, p, err := h.provider(t.Settings, st.Provider)
	if err != nil || !callbackMatches(c, t.Settings, app) {
		return h.finish(c, st, domain.AuthErrorUnknown)
	}
	prof, _, err := domain.CompleteRedirect(c.UserContext(), p, st, q, callbackURL(c, t.Settings, app))
	if err != nil {
		return h.finish(c, st, domain.AuthError(err))
	}
	login := socialLogin(t.Settings, app, prof)
	if st.Process == domain.ProcessConnect {
		err = h.Accounts.SocialLogins.ConnectSocial(c.UserContext(), t, sess, login)
	} else {
		err = h.Accounts.SocialLogins.SocialLoginFlow(c.UserContext(), t, sess, login, api.Request(c))
	}
	code, ok := callbackError(err)
	if !ok {
		return err
	}
	if code == "" && st.Process == domain.ProcessLogin && !sess.Authenticated() &&
		h.Accounts.Pipeline.PendingStage(t, sess) == nil && h.Accounts.SocialLogins.PendingSocialSignup(t, sess) == nil {
		code = domain.AuthErrorUnknown // e.g. an inactive account
	}
	if sess.Authenticated() {
		api.RotateCSRF(c)
	}
	return h.finish(c, st, code)
}

// callbackMatches checks that the callback path names the flow's app.
func callbackMatches(c *fiber.Ctx, s *tenants.Settings, app providers.App) bool {
	if id := c.Params("id"); id != "" {
		return app.Provider == "openid_connect" && c.Params("prefix") == s.SocialAccountOpenIDConnectURLPrefix && id == app.ProviderID
	}
	return app.Provider != "openid_connect" && c.Params("provider") == app.Provider
}

// finish saves the session and returns the browser to the flow's
// callback_url, with error parameters when code is not empty.
func (h *Handlers) finish(c *fiber.Ctx, st *domain.State, code string) error {
	if _, err := h.SaveSession(c); err != nil {
		return err
	}
	return redirectWithError(c, st.CallbackURL, code, st.Process)
}

// redirectWithError sends the browser to target (checked safe when the flow
// began), adding error and error_process when code is not empty.
func redirectWithError(c *fiber.Ctx, target, code, process string) error {
	if code != "" {
		target = addQuery(target, url.Values{"error": {code}, "error_process": {process}})
	}
	return c.Redirect(target, fiber.StatusFound)
}

// addQuery appends parameters to a URL, keeping its fragment last.
func addQuery(target string, params url.Values) string {
	base, frag, hasFrag := strings.Cut(target, "#")
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	out := base + sep + params.Encode()
	if hasFrag {
		out += "#" + frag
	}
	return out
}

// loginError answers a flow that cannot return to its frontend callback
// (a bad form, an unknown or foreign state): the tenant's
// socialaccount_login_error frontend URL with error and error_process, or,
// without one, a small error page of ours.
func loginError(c *fiber.Ctx, code, process string) error {
	t := api.Tenant(c)
	if target := t.Settings.FrontendURLs["socialaccount_login_error"]; target != "" {
		if strings.HasPrefix(target, "/") {
			if u, err := url.Parse(api.TenantBaseURL(c)); err == nil {
				target = u.Scheme + "://" + u.Host + target
			}
		}
		return redirectWithError(c, target, code, process)
	}
	api.NeverCache(c)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set("Content-Security-Policy", "default-src 'none'")
	return c.Status(fiber.StatusBadRequest).SendString(`<!doctype html><html lang="en"><head><meta charset="utf-8">` +
		`<title>Third-party login failure</title></head><body><h1>Third-party login failure</h1>` +
		`<p>An error occurred while attempting to log in via your third-party account (` + html.EscapeString(code) + `).</p></body></html>`)
}

// maxCallbackParams bounds what a callback may carry.
const maxCallbackParams = 16

// queryValues are the callback's query parameters.
func queryValues(c *fiber.Ctx) url.Values { return argValues(c.Context().QueryArgs()) }

// formValues are a form-post callback's fields.
func formValues(c *fiber.Ctx) url.Values { return argValues(c.Context().PostArgs()) }

// argValues copies at most maxCallbackParams arguments.
func argValues(args *fasthttp.Args) url.Values {
	q := url.Values{}
	n := 0
	for k, v := range args.All() {
		if n < maxCallbackParams {
			q.Add(string(k), string(v))
			n++
		}
	}
	return q
}
