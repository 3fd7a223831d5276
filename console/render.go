package console

import (
	"context"
	"errors"
	"net"
	"syscall"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
	"github.com/jackc/pgx/v5/pgconn"
)

// writeHTML renders a component as the whole response.
func writeHTML(c *fiber.Ctx, status int, comp templ.Component) error {
	c.Status(status)
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	// Rendering writes to memory only; templ stops at a cancelled context,
	// and the page that says the request ran out of time must still render.
	return comp.Render(context.WithoutCancel(c.UserContext()), c.Response().BodyWriter())
}

// setCookie sets a console cookie: HttpOnly, SameSite=Strict, scoped to Root.
func setCookie(c *fiber.Ctx, name, value string, expires time.Time, secure bool) {
	c.Cookie(&fiber.Cookie{Name: name, Value: value, Path: Root, Expires: expires, HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: secure})
}

// clearCookie removes a console cookie.
func clearCookie(c *fiber.Ctx, name string, secure bool) {
	if c.Cookies(name) == "" {
		return
	}
	c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: Root, Expires: time.Unix(0, 0), MaxAge: -1, HTTPOnly: true, SameSite: fiber.CookieSameSiteStrictMode, Secure: secure})
}

// unavailable reports whether err means a backing store is unreachable.
func unavailable(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return true
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return len(pe.Code) == 5 && (pe.Code[:2] == "08" || pe.Code == "57P01" || pe.Code == "57P02" || pe.Code == "57P03")
	}
	return false
}
