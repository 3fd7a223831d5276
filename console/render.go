package console

import (
	"context"
	"time"

	"github.com/a-h/templ"
	"github.com/gofiber/fiber/v2"
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
