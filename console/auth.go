package console

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/clientip"
	"github.com/hallpass/hallpass/internal/pgtext"
)

// loginForm is the sign-in form as shown again after a failure.
type loginForm struct {
	Email   string
	Next    string
	CSRF    string
	Error   string
	Notice  string
	Blocked bool
	// Passkeys offers passkey sign-in (the console's URL allows WebAuthn).
	Passkeys bool
}

// loginPage shows the sign-in form. The form's CSRF token lives in a
// short-lived cookie, since there is no session yet (login CSRF).
func (h signInPages) loginPage(r *request) error {
	c := r.c
	if sess, _, err := h.currentSession(c); err == nil && sess != nil {
		return c.Redirect(safeNext(c.Query("next")), fiber.StatusSeeOther)
	}
	f := loginForm{Next: safeNext(c.Query("next")), CSRF: h.loginToken(c), Passkeys: h.relyingParty != nil}
	switch {
	case c.Query("signed_out") == "1":
		f.Notice = "You have signed out."
	case c.Query("signed_out") == "all":
		f.Notice = "You have signed out on every device."
	case c.Query("mfa") == "expired":
		f.Notice = "Your sign-in was not finished in time, or was already used. Please sign in again."
	case c.Query("mfa") == "failed":
		f.Notice = "Too many wrong codes. Please sign in again."
	case c.Query("next") != "":
		f.Notice = "Please sign in to continue."
	}
	return h.render(r, fiber.StatusOK, "Sign in", loginPage(f))
}

// loginToken returns the sign-in form's token, minting it (and its cookie)
// when the browser has none.
func (h *Console) loginToken(c *fiber.Ctx) string {
	tok := c.Cookies(loginCookieName)
	if len(tok) != 43 {
		tok = randomToken()
		setCookie(c, loginCookieName, tok, h.now().Add(time.Hour), h.secure)
	}
	return tok
}

// login checks email and password and opens a session, or, for a user
// with a second factor, hands over to that step (mfa_login.go). Failures are
// audited and say nothing about which of the two was wrong. Every attempt
// first takes a place among the failures allowed to its client IP and to
// the account typed (loginLimiter.reserve), before the password is checked:
// with none left, the form is refused (429) without checking it; a right
// password gives the place back.
func (h signInPages) login(r *request) error {
	c := r.c
	ctx := r.ctx()
	ip := clientip.Peer(c)
	f := loginForm{Email: c.FormValue("email"), Next: safeNext(c.FormValue("next")), Passkeys: h.relyingParty != nil}
	if !h.validPost(c, c.Cookies(loginCookieName)) {
		f.CSRF = h.loginToken(c)
		f.Error = "The sign-in form expired. Please try again."
		return h.render(r, fiber.StatusForbidden, "Sign in", loginPage(f))
	}
	f.CSRF = c.Cookies(loginCookieName)
	try := attemptOf(ip, f.Email)
	ok, err := h.limiter.reserve(ctx, try)
	if err != nil {
		return err
	}
	if !ok {
		if h.limiter.firstRefusal(ctx, try) {
			_ = h.auditPlatform(ctx, "anonymous", "console.login.throttled", f.Email, ip, nil)
		}
		f.Error, f.Blocked = tooManyFailures, true
		c.Set(fiber.HeaderRetryAfter, strconv.Itoa(h.limiter.retryAfter()))
		return h.render(r, fiber.StatusTooManyRequests, "Sign in", loginPage(f))
	}
	user, err := h.checkPassword(ctx, f.Email, c.FormValue("password"))
	if err != nil {
		if !errors.Is(err, errBadCredentials) {
			_ = h.limiter.giveBack(ctx, try)
			return err
		}
		if err := h.auditPlatform(ctx, "anonymous", "console.login.failed", f.Email, ip, nil); err != nil {
			return err
		}
		f.Error = "That email and password do not match a console account."
		return h.render(r, fiber.StatusUnauthorized, "Sign in", loginPage(f))
	}
	if err := h.limiter.succeeded(ctx, try); err != nil {
		return err
	}
	needs, err := secondFactorPages(h).needsSecondFactor(ctx, user.ID)
	if err != nil {
		return err
	}
	if needs {
		return secondFactorPages(h).startSecondFactor(r, user, f.Next)
	}
	return h.openSession(r, user, f.Next, map[string]any{"method": "password"})
}

// tooManyFailures is the refusal of an attempt past the sign-in limits.
const tooManyFailures = "Too many failed sign-ins for this account or from your network. Try again later."

// openSession signs user in on this browser once every factor has passed:
// a fresh session (an earlier session of this browser ends, so no session
// fixation), the sign-in recorded and audited, then on to next.
func (h *Console) openSession(r *request, user *User, next string, details map[string]any) error {
	c := r.c
	ctx := r.ctx()
	if old, err := h.sessions.Lookup(ctx, c.Cookies(CookieName)); err == nil {
		_ = h.sessions.Delete(ctx, old)
	}
	token, sess, err := h.sessions.Create(ctx, user.ID, clientip.Peer(c), c.Get(fiber.HeaderUserAgent))
	if err != nil {
		return err
	}
	if err := h.users.SignedIn(ctx, user.ID, h.now(), ""); err != nil {
		return err
	}
	if err := h.auditPlatform(ctx, actor(user), "console.login", user.Email, clientip.Peer(c), details); err != nil {
		return err
	}
	setCookie(c, CookieName, token, sess.ExpiresAt, h.secure)
	clearCookie(c, loginCookieName, h.secure)
	clearCookie(c, flowCookieName, h.secure)
	return c.Redirect(safeNext(next), fiber.StatusSeeOther)
}

var errBadCredentials = errors.New("console: bad credentials")

// checkPassword verifies a console user's password (argon2id, or an older
// format that is then re-hashed). It does not sign anyone in: a second
// factor may still be due.
func (h *Console) checkPassword(ctx context.Context, email, password string) (*User, error) {
	user, hash, err := h.users.PasswordHash(ctx, email)
	if err != nil {
		if !errors.Is(err, pgx.ErrNoRows) && !errors.Is(err, ErrInvalidEmail) {
			return nil, err
		}
		_, _, _ = h.hasher.Verify(h.dummyHash, password)
		return nil, errBadCredentials
	}
	ok, rehash, err := h.hasher.Verify(hash, password)
	if err != nil || !ok || password == "" {
		return nil, errBadCredentials
	}
	if rehash {
		if newHash, err := h.hasher.Hash(password); err == nil {
			if err := h.users.Rehash(ctx, user.ID, hash, newHash); err != nil {
				return nil, err
			}
		}
	}
	return user, nil
}

// logout ends this browser's session.
func (h signInPages) logout(r *request) error {
	ctx := r.ctx()
	if err := h.sessions.Delete(ctx, r.session); err != nil {
		return err
	}
	if err := h.auditPlatform(ctx, actor(r.user), "console.logout", r.user.Email, clientip.Peer(r.c), nil); err != nil {
		return err
	}
	clearCookie(r.c, CookieName, h.secure)
	return r.c.Redirect(Root+"login?signed_out=1", fiber.StatusSeeOther)
}

// logoutEverywhere ends every session of the user, on every device.
func (h signInPages) logoutEverywhere(r *request) error {
	ctx := r.ctx()
	n, err := h.sessions.DeleteAll(ctx, r.user.ID)
	if err != nil {
		return err
	}
	if err := h.auditPlatform(ctx, actor(r.user), "console.logout_everywhere", r.user.Email, clientip.Peer(r.c), map[string]any{"sessions": n}); err != nil {
		return err
	}
	clearCookie(r.c, CookieName, h.secure)
	return r.c.Redirect(Root+"login?signed_out=all", fiber.StatusSeeOther)
}

// accountView is the account page's data.
type accountView struct {
	Email           string
	PlatformAdmin   bool
	Sessions        int
	SignedInAt      time.Time
	IdleTimeout     time.Duration
	CSRF            string
	MembershipCount int
}

// accountPage shows who is signed in, and offers signing out everywhere.
func (h signInPages) accountPage(r *request) error {
	n, err := h.sessions.Count(r.ctx(), r.user.ID)
	if err != nil {
		return err
	}
	ms, err := h.users.Memberships(r.ctx(), r.user.ID)
	if err != nil {
		return err
	}
	v := accountView{Email: r.user.Email, PlatformAdmin: r.user.IsPlatformAdmin, Sessions: n, SignedInAt: r.session.CreatedAt,
		IdleTimeout: h.sessions.IdleTimeout(), CSRF: r.session.CSRF, MembershipCount: len(ms)}
	return h.render(r, fiber.StatusOK, "Account", accountPage(v), active("account", ""))
}

// home is the console's landing page: the tenant list.
func (h signInPages) home(r *request) error {
	return r.c.Redirect(Root+"tenants", fiber.StatusSeeOther)
}

// auditPlatform records a platform-level event (sign-ins, sign-outs).
func (h *Console) auditPlatform(ctx context.Context, who, action, target, ip string, details map[string]any) error {
	return h.auditTenant(ctx, audit.Platform, who, action, target, ip, details)
}

func (h *Console) auditTenant(ctx context.Context, tenantID uuid.UUID, who, action, target, ip string, details map[string]any) error {
	return pgx.BeginFunc(ctx, h.cfg.Pool, func(tx pgx.Tx) error {
		return audit.Record(ctx, tx, audit.Event{TenantID: tenantID, Actor: who, Action: action, Target: pgtext.Clean(target, 254), IP: ip, Details: details})
	})
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
