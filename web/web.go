// Package web holds the console's static assets (CSS, scripts), embedded in
// the binary so the console needs no CDN, and the shared templ layout.
package web

import (
	"embed"
	"io/fs"
	"mime"
	"path"
	"strings"

	"github.com/gofiber/fiber/v2"
)

//go:embed static
var static embed.FS

// Static is the embedded asset tree, rooted at the static folder.
func Static() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the folder is embedded at build time; absence is a build bug
	}
	return sub
}

// Handler serves the embedded assets under the route it is mounted at,
// with long-lived caching (asset names change when their content does).
func Handler() fiber.Handler {
	assets := Static()
	return func(c *fiber.Ctx) error {
		name := strings.TrimPrefix(path.Clean("/"+c.Params("*")), "/")
		b, err := fs.ReadFile(assets, name)
		if err != nil || name == "" {
			return fiber.ErrNotFound
		}
		if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
			c.Set(fiber.HeaderContentType, ct)
		}
		c.Set(fiber.HeaderCacheControl, "public, max-age=3600")
		c.Set("X-Content-Type-Options", "nosniff")
		return c.Send(b)
	}
}
