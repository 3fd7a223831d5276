package web

import (
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"path"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
)

// fingerprints maps each embedded asset to its fingerprinted name and back.
var fingerprints = sync.OnceValue(func() (f struct{ named, byPrint map[string]string }) {
	f.named, f.byPrint = map[string]string{}, map[string]string{}
	_ = fs.WalkDir(Static(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(Static(), p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ext := path.Ext(p)
		printed := strings.TrimSuffix(p, ext) + "." + hex.EncodeToString(sum[:8]) + ext
		f.named[p], f.byPrint[printed] = printed, p
		return nil
	})
	return f
})

// Fingerprinted is an embedded asset's name with its content hash before
// the extension ("accounts.css" → "accounts.0123456789abcdef.css"): a
// changed file gets a new name, so the name can be cached forever. An
// unknown name is returned as given.
func Fingerprinted(name string) string {
	if p, ok := fingerprints().named[name]; ok {
		return p
	}
	return name
}

// ImmutableHandler serves the embedded assets by their Fingerprinted names
// under the route it is mounted at ("*" parameter), cached for a year as
// immutable; any other name, the plain one included, is 404.
func ImmutableHandler() fiber.Handler {
	assets := Static()
	return func(c *fiber.Ctx) error {
		name, ok := fingerprints().byPrint[c.Params("*")]
		if !ok {
			return c.Next()
		}
		b, err := fs.ReadFile(assets, name)
		if err != nil {
			return c.Next()
		}
		if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
			c.Set(fiber.HeaderContentType, ct)
		}
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
		c.Set("X-Content-Type-Options", "nosniff")
		return c.Send(b)
	}
}
