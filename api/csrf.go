package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/csrf"
	"github.com/hallpass/hallpass/tenants"
)

// Django's CSRF contract, which allauth's browser frontends follow (the
// rules themselves are package csrf's, shared with the hosted pages).
const (
	CSRFCookie = csrf.Cookie
	CSRFHeader = csrf.Header
)

// checkCSRF applies Django's CSRF contract to browser requests: every
// response carries a csrftoken cookie; unsafe methods must echo it in
// X-CSRFToken, and a cross-site Origin must be one of the tenant's.
func checkCSRF(c *fiber.Ctx, t *tenants.Tenant) error {
	cookie := c.Cookies(CSRFCookie)
	if !csrf.Valid(cookie) {
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
			sent = c.FormValue(csrf.FormField)
		}
		if cookie == "" || !csrf.Matches(cookie, sent) {
			return ErrForbidden
		}
	}
	if cookie == "" {
		setCSRFCookie(c, csrf.NewToken())
	}
	return nil
}

// RotateCSRF issues a new CSRF token, as Django does at login.
func RotateCSRF(c *fiber.Ctx) {
	if Client(c) == ClientBrowser {
		setCSRFCookie(c, csrf.NewToken())
	}
}

func setCSRFCookie(c *fiber.Ctx, token string) {
	c.Cookie(&fiber.Cookie{Name: CSRFCookie, Value: token, Path: CookiePath(c), MaxAge: 31449600,
		Secure: c.Protocol() == "https", SameSite: fiber.CookieSameSiteLaxMode})
}
