package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/clientip"
	"github.com/hallpass/hallpass/tenants"
)

// RequestIDs gives every request an id: a sane incoming X-Request-ID is kept
// (so a load balancer's id follows the request), otherwise a random one.
func RequestIDs() fiber.Handler {
	return func(c *fiber.Ctx) error {
		assignRequestID(c)
		return c.Next()
	}
}

// EnsureRequestID returns the request's id, giving it one (as RequestIDs
// does) when no middleware ran: a request the HTTP server refused itself,
// such as a body over the limit, reaches the error handler without one.
func EnsureRequestID(c *fiber.Ctx) string {
	if id := RequestID(c); id != "" {
		return id
	}
	return assignRequestID(c)
}

func assignRequestID(c *fiber.Ctx) string {
	id := c.Get(fiber.HeaderXRequestID)
	if !validRequestID(id) {
		var b [12]byte
		_, _ = rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	c.Locals(requestIDKey{}, id)
	c.Set(fiber.HeaderXRequestID, id)
	return id
}

func validRequestID(id string) bool {
	if len(id) == 0 || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// Deadline gives every request a context that ends timeout after the
// request starts, or when the handler returns, and makes it the request's
// user context: every Postgres and Redis call made on the request's behalf
// (through c.UserContext()) is cancelled with it, so a slow query does not
// outlive its request, and the request is answered 503 (Unavailable).
// Work that must outlive the request keeps a context of its own.
func Deadline(timeout time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		// The user context lives in the fasthttp request, so the tenant
		// app, called with the same request, sees it too.
		ctx, cancel := context.WithTimeout(c.UserContext(), timeout)
		defer cancel()
		c.SetUserContext(ctx)
		return c.Next()
	}
}

// AccessLog logs one structured line per request, after the error handler
// has chosen the status.
func AccessLog(log *slog.Logger, errorHandler fiber.ErrorHandler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		start := time.Now()
		err := c.Next()
		if err != nil {
			// Render the error now so the logged status is the one sent.
			if herr := errorHandler(c, err); herr != nil {
				return herr
			}
		}
		status := c.Response().StatusCode()
		level := slog.LevelInfo
		if status >= 500 {
			level = slog.LevelError
		}
		if !log.Enabled(c.UserContext(), level) {
			// Nothing would be written: build nothing.
			return nil
		}
		attrs := []slog.Attr{
			slog.String("request_id", RequestID(c)),
			slog.String("method", c.Method()),
			slog.String("host", c.Hostname()),
			slog.String("path", loggedURL(c)),
			slog.Int("status", status),
			slog.Duration("duration", time.Since(start)),
			slog.String("ip", clientip.Peer(c)),
		}
		if t := Tenant(c); t != nil {
			attrs = append(attrs, slog.String("tenant", t.Slug))
		}
		log.LogAttrs(c.UserContext(), level, "request", attrs...)
		return nil
	}
}

// Recover turns a panic into a 500 envelope and logs the stack.
func Recover(log *slog.Logger) fiber.Handler {
	return func(c *fiber.Ctx) (err error) {
		defer func() {
			if r := recover(); r != nil {
				log.Error("panic", "panic", fmt.Sprint(r), "request_id", RequestID(c), "stack", string(debug.Stack()))
				err = &StatusError{Status: fiber.StatusInternalServerError}
			}
		}()
		return c.Next()
	}
}

// ResolveTenant ties each request to its tenant by Host, then (on the
// platform's own host) by the /t/{slug}/ prefix, and hands tenant requests
// to tenantHandler with the prefix stripped. Requests for the platform
// itself continue down the chain; a Host the platform does not answer on is
// refused (400 invalid_host, or 404 unknown_tenant for a tenant-shaped name
// nobody holds).
func ResolveTenant(r *tenants.Resolver, tenantHandler fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		target, err := r.ResolveHost(c.UserContext(), string(c.Request().Host()))
		if err != nil {
			return err
		}
		if target.Tenant != nil {
			SetTenant(c, target)
			return tenantHandler(c)
		}
		path := c.Path()
		rest, ok := strings.CutPrefix(path, "/t/")
		if !ok {
			return c.Next()
		}
		slug, tail, _ := strings.Cut(rest, "/")
		target, err = r.ResolvePath(c.UserContext(), slug)
		if err != nil {
			return err
		}
		SetTenant(c, target)
		c.Path("/" + tail)
		return tenantHandler(c)
	}
}

// HeadlessClient validates the {client} path segment against the tenant's
// HEADLESS_CLIENTS (absent clients have no routes: 404), records it, and
// marks every response never-cache.
func HeadlessClient() fiber.Handler {
	return func(c *fiber.Ctx) error {
		client := c.Params("client")
		t := Tenant(c)
		if t == nil || (client != ClientBrowser && client != ClientApp) || !slices.Contains(t.Settings.Clients, client) {
			return ErrRouteAbsent
		}
		SetClient(c, client)
		NeverCache(c)
		return c.Next()
	}
}

// SecurityHeaders sets the headers every response carries: no MIME
// sniffing, no framing, a conservative referrer policy, and HSTS when the
// request came over https.
func SecurityHeaders() fiber.Handler {
	return func(c *fiber.Ctx) error {
		c.Set("X-Content-Type-Options", "nosniff")
		c.Set("X-Frame-Options", "DENY")
		c.Set("Referrer-Policy", "strict-origin-when-cross-origin")
		c.Set("Cross-Origin-Opener-Policy", "same-origin")
		if c.Protocol() == "https" {
			c.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		return c.Next()
	}
}

// sensitiveParams are query parameters whose values are credentials: a
// provider callback's authorization code, state and tokens, keys sent in
// links. The access log keeps their names, never their values.
var sensitiveParams = map[string]bool{"code": true, "state": true, "id_token": true, "access_token": true,
	"refresh_token": true, "key": true, "token": true, "user": true, "password": true}

// keyPaths are the path prefixes whose next segment is a key mailed in a
// link (the hosted pages' confirmation and reset links): the access log
// keeps the path, never the key.
var keyPaths = []string{"/accounts/confirm-email/", "/accounts/password/reset/key/"}

// redactKeyPath replaces the key segment of a keyPaths path by "REDACTED".
func redactKeyPath(path string) string {
	for _, p := range keyPaths {
		i := strings.Index(path, p)
		if i < 0 {
			continue
		}
		rest := path[i+len(p):]
		seg, tail, _ := strings.Cut(rest, "/")
		if seg == "" || seg == "done" {
			return path
		}
		if tail != "" || strings.HasSuffix(rest, "/") {
			tail = "/" + tail
		}
		return path[:i+len(p)] + "REDACTED" + tail
	}
	return path
}

// loggedURL is the request URL as the access log shows it: sensitive query
// values and keys in link paths replaced by "REDACTED".
func loggedURL(c *fiber.Ctx) string {
	args := c.Context().QueryArgs()
	if args.Len() == 0 {
		return redactKeyPath(c.OriginalURL())
	}
	var b strings.Builder
	path, _, _ := strings.Cut(c.OriginalURL(), "?")
	b.WriteString(redactKeyPath(path))
	sep := byte('?')
	for k, v := range args.All() {
		b.WriteByte(sep)
		sep = '&'
		b.WriteString(url.QueryEscape(string(k)))
		b.WriteByte('=')
		if sensitiveParams[strings.ToLower(string(k))] {
			b.WriteString("REDACTED")
		} else {
			b.WriteString(url.QueryEscape(string(v)))
		}
	}
	return b.String()
}
