package api

import (
	"crypto/rand"
	"crypto/subtle"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/tenants"
)

// Django's CSRF contract, which allauth's browser frontends follow.
const (
	CSRFCookie      = "csrftoken"
	CSRFHeader      = "X-CSRFToken"
	csrfTokenLength = 32
	csrfAlphabet    = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
)

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
