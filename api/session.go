package api

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// Cookie and header names allauth frontends depend on (Django's).
const (
	SessionCookie = sessions.BrowserCookie
	SessionHeader = "X-Session-Token"
	maxBody       = 64 << 10
)

type (
	sessionKey   struct{}
	startUserKey struct{}
)

// ErrSessionGone answers an app whose X-Session-Token names no session:
// allauth's 410 with the flows (base.Answers renders it).
var ErrSessionGone = &StatusError{Status: fiber.StatusGone}

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

// UsesJWT reports whether the request is an app client of a JWT tenant.
func (h *Headless) UsesJWT(c *fiber.Ctx, t *tenants.Tenant) bool {
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

// StartUser is the user the request's session had when it was loaded (0:
// none), so a response can tell that the request authenticated someone.
func StartUser(c *fiber.Ctx) int64 {
	id, _ := c.Locals(startUserKey{}).(int64)
	return id
}

// setSession ties the request to sess.
func setSession(c *fiber.Ctx, sess *sessions.Session) {
	c.Locals(sessionKey{}, sess)
	c.Locals(startUserKey{}, sess.State.UserID)
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
// ErrSessionGone, answered 410 as allauth does), the browser client by its
// session cookie, with Django's CSRF rules on unsafe methods. It also
// applies CORS for the tenant's frontend origins and caps the body size.
func (h *Headless) LoadSession() fiber.Handler {
	return func(c *fiber.Ctx) error {
		t := Tenant(c)
		if answered, err := corsHeaders(c, t); answered {
			return err
		}
		if c.Method() == fiber.MethodOptions {
			return c.SendStatus(fiber.StatusNoContent)
		}
		if len(RawBody(c)) > maxBody {
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
			} else if raw, ok := bearer(c, t.Settings.JWTAuthorizationHeaderScheme); ok && h.UsesJWT(c, t) {
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
				return ErrSessionGone
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
		setSession(c, sess)
		return c.Next()
	}
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
	setSession(c, sess)
	return sess, nil
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
		if err := h.Accounts.Sessions.Save(c.UserContext(), sess, LoginTimeout(t.Settings)); err != nil {
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

// LoginTimeout is how long a pending login keeps in the session
// (ACCOUNT_LOGIN_TIMEOUT).
func LoginTimeout(s *tenants.Settings) time.Duration {
	return time.Duration(s.LoginTimeout) * time.Second
}

func clearCookie(c *fiber.Ctx, name string) {
	c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: CookiePath(c), Expires: time.Unix(0, 0), MaxAge: -1,
		HTTPOnly: true, Secure: c.Protocol() == "https", SameSite: fiber.CookieSameSiteLaxMode})
}
