package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/providers"
	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// Cookie and header names allauth frontends depend on (Django's).
const (
	SessionCookie   = "sessionid"
	CSRFCookie      = "csrftoken"
	CSRFHeader      = "X-CSRFToken"
	SessionHeader   = "X-Session-Token"
	csrfTokenLength = 32
	maxBody         = 64 << 10
)

type (
	sessionKey   struct{}
	startUserKey struct{}
)

// TokenStrategy is the JWT token strategy as the headless core sees it.
type TokenStrategy interface {
	// AccessTokenSession validates an access token presented on a headless
	// endpoint and returns the storage key of its session; false means the
	// token counts for nothing (the request is anonymous).
	// An error means the token could not be checked (a store is down).
	AccessTokenSession(ctx context.Context, t *tenants.Tenant, raw string) ([]byte, bool, error)
	// Issue returns an access and a refresh token for the session's user.
	Issue(ctx context.Context, t *tenants.Tenant, issuer string, sess *sessions.Session) (access, refresh string, err error)
}

// Headless is what every headless slice shares: the account services, the
// token strategy, and the per-request session handling of both clients.
type Headless struct {
	Accounts *identity.Accounts
	// Tokens is the JWT strategy, used for tenants that choose it.
	Tokens TokenStrategy
}

// usesJWT reports whether the request is an app client of a JWT tenant.
func (h *Headless) usesJWT(c *fiber.Ctx, t *tenants.Tenant) bool {
	return h.Tokens != nil && Client(c) == ClientApp && t.Settings.TokenStrategy == tenants.TokenStrategyJWT
}

// bearer returns the credential of an Authorization header with the
// tenant's scheme (compared case-insensitively, as allauth does).
func bearer(c *fiber.Ctx, scheme string) (string, bool) {
	h := c.Get(fiber.HeaderAuthorization)
	sch, cred, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(sch, scheme) {
		return "", false
	}
	cred = strings.TrimSpace(cred)
	return cred, cred != ""
}

// Session returns the request's session (anonymous if nobody is logged in).
func Session(c *fiber.Ctx) *sessions.Session {
	s, _ := c.Locals(sessionKey{}).(*sessions.Session)
	return s
}

// Request describes the HTTP request to the domain.
func Request(c *fiber.Ctx) identity.Request {
	r := identity.Request{BaseURL: TenantBaseURL(c), IP: ClientIP(c), Client: Client(c)}
	if t := Tenant(c); t != nil && r.Client == ClientBrowser {
		r.TrustCookie = c.Cookies(t.Settings.TrustCookieName())
	}
	return r
}

// CookiePath is the path the tenant's cookies are scoped to: its base, "/"
// when the request addressed it by Host, "/t/{slug}/" by prefix, so tenants
// reached through /t/{slug}/ on one host never see each other's cookies.
func CookiePath(c *fiber.Ctx) string { return TenantPath(c) + "/" }

// anonymousSubject is the per-IP key of an anonymous-state limit: the
// client's ratelimit.IPNetwork, or the address as given if it is none.
func anonymousSubject(ip string) string {
	if n := ratelimit.IPNetwork(ip); n != "" {
		return n
	}
	return ip
}

// LimitAnonymous consumes one hit of one of Hallpass's own rate-limited
// actions (HALLPASS_RATE_LIMITS: requests that store state for a client
// not logged in), per client IP, an IPv6 client counted by its /64 (one
// subscriber's allocation, whose addresses it can rotate through at will);
// ErrRateLimited when exhausted.
func (h *Headless) LimitAnonymous(c *fiber.Ctx, action string) error {
	t := Tenant(c)
	rules := t.Settings.HallpassRateLimits[action]
	if h.Accounts.Limiter == nil || len(rules) == 0 {
		return nil
	}
	ok, err := h.Accounts.Limiter.Allow(c.UserContext(), t.ID, action, rules, ratelimit.Subject{IP: anonymousSubject(ClientIP(c))})
	if err != nil {
		return err
	}
	if !ok {
		return ErrRateLimited
	}
	return nil
}

// LoadSession is the headless middleware that ties the request to a
// session: the app client by X-Session-Token (a token naming no session is
// answered 410, as allauth does), the browser client by its session cookie,
// with Django's CSRF rules on unsafe methods. It also applies CORS for the
// tenant's frontend origins and caps the body size.
func (h *Headless) LoadSession() fiber.Handler {
	return func(c *fiber.Ctx) error {
		t := Tenant(c)
		if origin := c.Get(fiber.HeaderOrigin); origin != "" && allowedOrigin(t, c, origin) {
			c.Set(fiber.HeaderAccessControlAllowOrigin, origin)
			c.Set(fiber.HeaderAccessControlAllowCredentials, "true")
			c.Vary(fiber.HeaderOrigin)
			if c.Method() == fiber.MethodOptions {
				c.Set(fiber.HeaderAccessControlAllowMethods, "GET, POST, PUT, PATCH, DELETE, OPTIONS")
				c.Set(fiber.HeaderAccessControlAllowHeaders, "accept, authorization, content-type, user-agent, x-csrftoken, x-requested-with, x-session-token, x-email-verification-key, x-password-reset-key")
				c.Set(fiber.HeaderAccessControlMaxAge, "86400")
				return c.SendStatus(fiber.StatusNoContent)
			}
		}
		if c.Method() == fiber.MethodOptions {
			return c.SendStatus(fiber.StatusNoContent)
		}
		if len(c.Body()) > maxBody {
			return RespondStatus(c, fiber.StatusRequestEntityTooLarge)
		}
		ip, ua := ClientIP(c), c.Get(fiber.HeaderUserAgent)
		client := Client(c)
		store := h.Accounts.Sessions
		var sess *sessions.Session
		var err error
		if client == ClientApp {
			if token := c.Get(SessionHeader); token != "" {
				sess, err = store.Lookup(c.UserContext(), t.ID, token, ip, ua)
			} else if raw, ok := bearer(c, t.Settings.JWTAuthorizationHeaderScheme); ok && h.usesJWT(c, t) {
				// allauth: a valid access token's sid stands in for the
				// session token; an invalid one counts for nothing.
				id, ok, terr := h.Tokens.AccessTokenSession(c.UserContext(), t, raw)
				if terr != nil {
					return terr
				}
				if ok {
					sess, err = store.LookupID(c.UserContext(), t.ID, id, ip, ua)
				}
			}
			if errors.Is(err, sessions.ErrNotFound) {
				c.Locals(sessionKey{}, store.New(t.ID, client, ip, ua))
				return h.RespondAuth(c, fiber.StatusGone)
			}
		} else {
			if token := c.Cookies(SessionCookie); token != "" {
				sess, err = store.Lookup(c.UserContext(), t.ID, token, ip, ua)
				if errors.Is(err, sessions.ErrNotFound) {
					sess, err = nil, nil // Django starts a fresh session
					clearCookie(c, SessionCookie)
				}
			}
			if err := checkCSRF(c, t); err != nil {
				return err
			}
		}
		if err != nil {
			return err
		}
		if sess == nil {
			sess = store.New(t.ID, client, ip, ua)
		}
		c.Locals(sessionKey{}, sess)
		c.Locals(startUserKey{}, sess.State.UserID)
		return c.Next()
	}
}

// checkCSRF applies Django's CSRF contract to browser requests: every
// response carries a csrftoken cookie; unsafe methods must echo it in
// X-CSRFToken, and a cross-site Origin must be one of the tenant's.
func checkCSRF(c *fiber.Ctx, t *tenants.Tenant) error {
	cookie := c.Cookies(CSRFCookie)
	if !validCSRF(cookie) {
		cookie = ""
	}
	safe := c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead
	if !safe {
		if origin := c.Get(fiber.HeaderOrigin); origin != "" && !allowedOrigin(t, c, origin) {
			return ErrForbidden
		}
		sent := c.Get(CSRFHeader)
		if sent == "" && c.Method() == fiber.MethodPost && strings.HasPrefix(c.Get(fiber.HeaderContentType), fiber.MIMEApplicationForm) {
			// A top-level form post (the provider redirect) carries the
			// token as Django's csrfmiddlewaretoken field.
			sent = c.FormValue("csrfmiddlewaretoken")
		}
		header := unmaskCSRF(sent)
		if cookie == "" || header == "" || subtle.ConstantTimeCompare([]byte(header), []byte(cookie)) != 1 {
			return ErrForbidden
		}
	}
	if cookie == "" {
		setCSRFCookie(c, newCSRFToken())
	}
	return nil
}

// RotateCSRF issues a new CSRF token, as Django does at login.
func RotateCSRF(c *fiber.Ctx) {
	if Client(c) == ClientBrowser {
		setCSRFCookie(c, newCSRFToken())
	}
}

func setCSRFCookie(c *fiber.Ctx, token string) {
	c.Cookie(&fiber.Cookie{Name: CSRFCookie, Value: token, Path: CookiePath(c), MaxAge: 31449600,
		Secure: c.Protocol() == "https", SameSite: fiber.CookieSameSiteLaxMode})
}

func clearCookie(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: CookiePath(c), Expires: time.Unix(0, 0), MaxAge: -1,
		HTTPOnly: true, Secure: c.Protocol() == "https", SameSite: fiber.CookieSameSiteLaxMode})
}

const csrfAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func newCSRFToken() string {
	b := make([]byte, csrfTokenLength)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = csrfAlphabet[int(b[i])%len(csrfAlphabet)]
	}
	return string(b)
}

func validCSRF(s string) bool {
	if len(s) != csrfTokenLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune(csrfAlphabet, rune(s[i])) {
			return false
		}
	}
	return true
}

// unmaskCSRF accepts the token as the cookie holds it, or Django's masked
// 64-character form (mask followed by the masked secret).
func unmaskCSRF(s string) string {
	if len(s) == csrfTokenLength {
		return s
	}
	if len(s) != 2*csrfTokenLength || !validCSRF(s[:csrfTokenLength]) || !validCSRF(s[csrfTokenLength:]) {
		return ""
	}
	mask, token := s[:csrfTokenLength], s[csrfTokenLength:]
	out := make([]byte, csrfTokenLength)
	n := len(csrfAlphabet)
	for i := range out {
		x := strings.IndexByte(csrfAlphabet, token[i]) - strings.IndexByte(csrfAlphabet, mask[i])
		out[i] = csrfAlphabet[(x%n+n)%n]
	}
	return string(out)
}

// SafeRedirect reports whether a frontend may be sent to target after a
// flow (allauth's is_safe_url): a path on the API's own origin, or an
// absolute http(s) URL on an origin allowedOrigin accepts.
func SafeRedirect(c *fiber.Ctx, target string) bool {
	if target == "" || strings.ContainsAny(target, "\\\x00\r\n\t") {
		return false
	}
	u, err := url.Parse(target)
	if err != nil || u.User != nil {
		return false
	}
	if u.Scheme == "" && u.Host == "" {
		return strings.HasPrefix(target, "/") && !strings.HasPrefix(target, "//")
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return false
	}
	return allowedOrigin(Tenant(c), c, u.Scheme+"://"+u.Host)
}

// allowedOrigin reports whether origin may call the tenant's API with
// credentials: the request's own origin, the origins of the tenant's
// frontend URLs, or HALLPASS_CORS_ALLOWED_ORIGINS.
func allowedOrigin(t *tenants.Tenant, c *fiber.Ctx, origin string) bool {
	o := strings.ToLower(strings.TrimSuffix(origin, "/"))
	if o == strings.ToLower(TenantOrigin(c)) {
		return true
	}
	for _, raw := range t.Settings.FrontendURLs {
		if u, err := url.Parse(raw); err == nil && u.Host != "" && strings.ToLower(u.Scheme+"://"+u.Host) == o {
			return true
		}
	}
	return slices.ContainsFunc(t.Settings.CORSAllowedOrigins, func(a string) bool { return strings.ToLower(a) == o })
}

// Respond writes an enveloped response after saving the session: an app
// client is given a new session token in meta when it has one, a browser
// its session cookie.
func (h *Headless) Respond(c *fiber.Ctx, status int, data any, meta map[string]any) error {
	token, err := h.SaveSession(c)
	if err != nil {
		return err
	}
	if token != "" {
		if meta == nil {
			meta = map[string]any{}
		}
		meta["session_token"] = token
	}
	return Respond(c, status, data, meta)
}

// SaveSession saves the request's session and hands the client its new
// token, if it got one: a browser as its session cookie; for an app the
// token is returned, for the response's meta.
func (h *Headless) SaveSession(c *fiber.Ctx) (appToken string, err error) {
	sess := Session(c)
	t := Tenant(c)
	if sess != nil {
		if sess.StoresNewPending() {
			// Whatever the endpoint, a client that is not logged in
			// stores a new session in the Redis every tenant shares only
			// so often (and the tenant's budget caps them all, see
			// sessions.Store.Pending).
			if err := h.LimitAnonymous(c, ratelimit.ActionAnonymousSession); err != nil {
				return "", err
			}
		}
		if err := h.Accounts.Sessions.Save(c.UserContext(), sess, time.Duration(t.Settings.LoginTimeout)*time.Second); err != nil {
			return "", err
		}
		if sess.NewToken() {
			if Client(c) == ClientApp {
				appToken = sess.Token
			} else {
				cookie := &fiber.Cookie{Name: SessionCookie, Value: sess.Token, Path: CookiePath(c), HTTPOnly: true,
					Secure: c.Protocol() == "https", SameSite: fiber.CookieSameSiteLaxMode}
				if sess.Authenticated() {
					cookie.Expires = sess.ExpiresAt
				}
				c.Cookie(cookie)
			}
		} else if Client(c) == ClientBrowser && sess.Token == "" && c.Cookies(SessionCookie) != "" {
			clearCookie(c, SessionCookie)
		}
	}
	return appToken, nil
}

// BrowserSession ties a request outside the headless tree (the provider
// callback) to the browser's session cookie, as LoadSession does for
// browser requests but without the CSRF check: a fresh session when the
// cookie names none.
func (h *Headless) BrowserSession(c *fiber.Ctx) (*sessions.Session, error) {
	t := Tenant(c)
	SetClient(c, ClientBrowser)
	ip, ua := ClientIP(c), c.Get(fiber.HeaderUserAgent)
	var sess *sessions.Session
	if token := c.Cookies(SessionCookie); token != "" {
		var err error
		sess, err = h.Accounts.Sessions.Lookup(c.UserContext(), t.ID, token, ip, ua)
		if errors.Is(err, sessions.ErrNotFound) {
			sess = nil
			clearCookie(c, SessionCookie)
		} else if err != nil {
			return nil, err
		}
	}
	if sess == nil {
		sess = h.Accounts.Sessions.New(t.ID, ClientBrowser, ip, ua)
	}
	c.Locals(sessionKey{}, sess)
	c.Locals(startUserKey{}, sess.State.UserID)
	return sess, nil
}

// UserView is allauth's serialised user, empty fields dropped. The fields
// are in the order a map's keys are encoded (sorted), which is what this
// was before it became a struct (a session check built the map each time).
type UserView struct {
	Display           string `json:"display"`
	Email             string `json:"email,omitempty"`
	HasUsablePassword bool   `json:"has_usable_password"`
	ID                int64  `json:"id"`
	Username          string `json:"username,omitempty"`
}

// UserData is allauth's serialised user.
func UserData(u *identity.User, s *tenants.Settings) UserView {
	return summaryData(u.Summary(), s)
}

// summaryData is UserData from the summary cached with a session.
func summaryData(u *sessions.User, s *tenants.Settings) UserView {
	d := UserView{ID: u.ID, Display: u.Display(), HasUsablePassword: u.UsablePassword, Email: u.PrimaryEmail}
	if s.UserModelUsernameField != "" {
		d.Username = u.Username
	}
	return d
}

// authData is the data of an authenticated session's response (keys in
// encoded-map order, as UserView).
type authData struct {
	Methods []sessions.AuthRecord `json:"methods"`
	User    UserView              `json:"user"`
}

// sessionUser returns what the authentication response shows of the
// session's user: on a GET, the summary read with the session (its Redis
// entry is dropped by every change to the user, see
// sessions.Store.UserChanged), so checking a session costs no Postgres
// read; otherwise, and when the session carries none, the user as Postgres
// has it now (the request may just have changed it).
func (h *Headless) sessionUser(c *fiber.Ctx, t *tenants.Tenant, sess *sessions.Session) (*sessions.User, error) {
	if u := sess.User(); u != nil && (c.Method() == fiber.MethodGet || c.Method() == fiber.MethodHead) {
		return u, nil
	}
	user, err := h.Accounts.Store.User(c.UserContext(), t.ID, sess.State.UserID)
	if err != nil {
		return nil, err
	}
	return user.Summary(), nil
}

// RespondAuth writes allauth's authentication response for the session:
// 200 with the user and methods when logged in; otherwise 401 (or status,
// e.g. 410) with the flows a frontend can take next.
func (h *Headless) RespondAuth(c *fiber.Ctx, status ...int) error {
	t, sess := Tenant(c), Session(c)
	if sess != nil && sess.Authenticated() && len(status) == 0 {
		user, err := h.sessionUser(c, t, sess)
		if err != nil {
			if errors.Is(err, identity.ErrUserNotFound) {
				_ = h.Accounts.Logout(c.UserContext(), sess)
				return h.RespondAuth(c)
			}
			return err
		}
		if !user.Active {
			_ = h.Accounts.Logout(c.UserContext(), sess)
			return h.RespondAuth(c)
		}
		methods := sess.State.Methods
		if methods == nil {
			methods = []sessions.AuthRecord{}
		}
		meta := map[string]any{"is_authenticated": true}
		startUser, _ := c.Locals(startUserKey{}).(int64)
		if h.usesJWT(c, t) && startUser != sess.State.UserID {
			// Tokens go out on the response where the user became
			// authenticated; the session must exist before its refresh tokens.
			if err := h.Accounts.Sessions.Save(c.UserContext(), sess, time.Duration(t.Settings.LoginTimeout)*time.Second); err != nil {
				return err
			}
			access, refresh, err := h.Tokens.Issue(c.UserContext(), t, TenantBaseURL(c), sess)
			if err != nil {
				return err
			}
			meta["access_token"], meta["refresh_token"] = access, refresh
		}
		return h.Respond(c, fiber.StatusOK, authData{User: summaryData(user, t.Settings), Methods: methods}, meta)
	}
	code := fiber.StatusUnauthorized
	if len(status) > 0 {
		code = status[0]
	}
	var isAuth any = false
	if code == fiber.StatusGone {
		isAuth = nil // allauth renders `user and user.is_authenticated` with no user
	}
	return h.Respond(c, code, map[string]any{"flows": h.flows(c)}, map[string]any{"is_authenticated": isAuth})
}

// flows lists what an unauthenticated client can do, in allauth's order,
// with the pending stage (if any) marked.
func (h *Headless) flows(c *fiber.Ctx) []map[string]any {
	t, sess := Tenant(c), Session(c)
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
		client := Client(c)
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
		if len(redirect) > 0 && client == ClientBrowser {
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

// RespondReauth writes allauth's "reauthentication required" response: 401
// with the user, the methods, and the flows that can reauthenticate.
func (h *Headless) RespondReauth(c *fiber.Ctx) error {
	t, sess := Tenant(c), Session(c)
	user, err := h.Accounts.Store.User(c.UserContext(), t.ID, sess.State.UserID)
	if err != nil {
		return err
	}
	flows := []map[string]any{}
	if user.HasUsablePassword() {
		flows = append(flows, map[string]any{"id": "reauthenticate"})
	}
	if need, types, err := h.Accounts.RequiresMFA(c.UserContext(), t, user.ID); err == nil && need {
		flows = append(flows, map[string]any{"id": "mfa_reauthenticate", "types": nonNilStrings(types)})
	}
	if !t.Settings.SocialAccountOnly && t.Settings.PasswordResetByCodeEnabled {
		flows = append(flows, map[string]any{"id": "password_reset_by_code", "is_pending": h.Accounts.ResetCodePending(sess)})
	}
	methods := sess.State.Methods
	if methods == nil {
		methods = []sessions.AuthRecord{}
	}
	return h.Respond(c, fiber.StatusUnauthorized, map[string]any{"user": UserData(user, t.Settings), "methods": methods, "flows": flows},
		map[string]any{"is_authenticated": true})
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
