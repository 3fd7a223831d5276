package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/hallpass/hallpass/api/spec/openapi"
)

// ErrNotInSpec reports a response the allauth spec does not describe: a
// path outside it (/healthz, /.well-known/jwks.json, console pages), a
// client other than app or browser, a method the path does not document, a
// Hallpass-only error (unknown tenant, malformed host, store unavailable),
// or a bare 404 from a route that is absent under the tenant's settings
// (allauth then has no route and its served spec no path). Callers decide
// whether that is acceptable.
var ErrNotInSpec = errors.New("not described by the allauth spec")

// hallpassOnlyCodes are the error codes of Hallpass's own infrastructure
// responses (api/errors.go), which allauth has no counterpart for.
var hallpassOnlyCodes = map[string]bool{"unknown_tenant": true, "invalid_host": true, "unavailable": true}

// hallpassOnly reports whether body is an envelope whose errors are all
// Hallpass-only codes.
func hallpassOnly(body []byte) bool {
	var env struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &env) != nil || len(env.Errors) == 0 {
		return false
	}
	for _, e := range env.Errors {
		if !hallpassOnlyCodes[e.Code] {
			return false
		}
	}
	return true
}

// allauthRouter finds operations of the corrected spec; built once.
var allauthRouter struct {
	once   sync.Once
	router routers.Router
	err    error
}

func loadAllauthRouter() (routers.Router, error) {
	allauthRouter.once.Do(func() {
		doc, err := openapi.LoadConformant()
		if err != nil {
			allauthRouter.err = err
			return
		}
		// Match on path only: a shallow copy without servers, so neither the
		// spec's servers nor the test server's host take part.
		routed := *doc
		routed.Servers = nil
		allauthRouter.router, allauthRouter.err = gorillamux.NewRouter(&routed)
	})
	return allauthRouter.router, allauthRouter.err
}

// specPath turns a request path as the tests send it into the spec's
// address space: a leading /t/{slug} tenant prefix and any query string go.
func specPath(path string) string {
	path, _, _ = strings.Cut(path, "?")
	if rest, ok := strings.CutPrefix(path, "/t/"); ok {
		if i := strings.IndexByte(rest, '/'); i >= 0 {
			return rest[i:]
		}
		return "/"
	}
	return path
}

// bareStatus reports whether body is exactly {"status": status}.
func bareStatus(body []byte, status int) bool {
	var env map[string]any
	if json.Unmarshal(body, &env) != nil || len(env) != 1 {
		return false
	}
	s, ok := env["status"].(float64)
	return ok && int(s) == status
}

func init() {
	// The provider redirect's error page is HTML (a string in the spec).
	openapi3filter.RegisterBodyDecoder("text/html", func(r io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
		b, err := io.ReadAll(r)
		return string(b), err
	})
}

// ValidateResponse checks a response against allauth's headless OpenAPI
// spec as corrected by openapi.LoadConformant: the status must be one the
// operation documents, and the body must match its schema. path is the
// request path as sent, e.g. /t/<slug>/_allauth/app/v1/auth/login or
// /_allauth/browser/v1/config. A nil header stands for a JSON response.
// Responses the spec does not describe (see ErrNotInSpec) yield an error
// wrapping ErrNotInSpec; any other mismatch is an ordinary error.
func ValidateResponse(method, path string, status int, header http.Header, body []byte) error {
	router, err := loadAllauthRouter()
	if err != nil {
		return err
	}
	p := specPath(path)
	if hallpassOnly(body) {
		return fmt.Errorf("%s %s → %d: Hallpass-only error: %w", method, p, status, ErrNotInSpec)
	}
	req := httptest.NewRequest(method, (&url.URL{Path: p}).EscapedPath(), nil)
	route, params, err := router.FindRoute(req)
	switch {
	case errors.Is(err, routers.ErrPathNotFound):
		return fmt.Errorf("%s %s: %w", method, p, ErrNotInSpec)
	case errors.Is(err, routers.ErrMethodNotAllowed):
		return fmt.Errorf("%s %s: method not documented: %w", method, p, ErrNotInSpec)
	case err != nil:
		return fmt.Errorf("%s %s: %w", method, p, err)
	}
	if c, ok := params["client"]; ok && c != "app" && c != "browser" {
		return fmt.Errorf("%s %s: client %q: %w", method, p, c, ErrNotInSpec)
	}
	if status == http.StatusNotFound && route.Operation.Responses.Status(status) == nil && bareStatus(body, status) {
		return fmt.Errorf("%s %s → 404: route absent: %w", method, p, ErrNotInSpec)
	}
	if header == nil {
		header = http.Header{"Content-Type": {"application/json"}}
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request:    req,
			PathParams: params,
			Route:      route,
		},
		Status: status,
		Header: header,
		Body:   io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
			// Paths and reasons only: schema dumps make failures unreadable.
			SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.DisableSchemaErrorDetails()},
		},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		return fmt.Errorf("%s %s → %d: %w", method, p, status, err)
	}
	return nil
}
