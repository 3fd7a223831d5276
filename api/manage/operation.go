package manage

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/apikeys"
)

// Operation is one management API operation, declared once: the router,
// the scope check, the OpenAPI document and the contract test read it.
type Operation struct {
	// ID is the OpenAPI operationId ("getUser").
	ID string
	// Method and Path: Path is relative to Prefix, with {name} parameters
	// as in OpenAPI ("/tenants/{slug}/users/{id}").
	Method string
	Path   string
	// Scope is the scope the key must hold.
	Scope apikeys.Scope
	// Summary is the document's one-line description.
	Summary string
	// Query lists the query (and header) parameters the operation reads,
	// for the document; a list (a Page response) gets limit and cursor
	// without declaring them.
	Query []Param
	// Request is a zero value of the JSON body's type (nil: no body).
	Request any
	// OptionalBody says the body may be left out (the document's
	// requestBody is then not required): Request is what it reads when
	// one is sent.
	OptionalBody bool
	// BodyType, when set, is the media type of a body the handler reads
	// itself, as it arrived (a bulk import's JSON Lines); Request is then nil.
	BodyType string
	// Status is the success status; Response a zero value of its body's
	// type (nil: no body, 204).
	Status   int
	Response any
	// Handle does the work; the request is authenticated, authorized and
	// (for a path with {slug}) resolved to a tenant the key reaches.
	Handle func(c *fiber.Ctx, r *Request) error
	// Load, when set, replaces Handle for a read that changes nothing: it
	// runs while the key's rate limit is counted (its Redis round trip
	// overlaps the read's Postgres one) and returns what writes the
	// answer, which runs only once the limit let the request through.
	Load func(c *fiber.Ctx, r *Request) (answer func() error)
}

// fiberPath is Path in Fiber's syntax (":name").
func (op Operation) fiberPath() string {
	var b strings.Builder
	for _, seg := range strings.Split(op.Path, "/") {
		if seg == "" {
			continue
		}
		b.WriteByte('/')
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			b.WriteByte(':')
			b.WriteString(seg[1 : len(seg)-1])
			continue
		}
		b.WriteString(seg)
	}
	return b.String()
}

// PathParams lists the {name} parameters of Path, in order.
func (op Operation) PathParams() []string {
	var out []string
	for _, seg := range strings.Split(op.Path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, seg[1:len(seg)-1])
		}
	}
	return out
}
