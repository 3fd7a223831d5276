package social

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/hallpass/hallpass/internal/egress"
)

// DefaultTimeout bounds provider calls when no SOCIALACCOUNT_REQUESTS_TIMEOUT
// is given (allauth's default, 5 s).
const DefaultTimeout = 5 * time.Second

// maxResponse bounds what is read of any provider response.
const maxResponse = 1 << 20

// userAgent names Hallpass to providers (GitHub's API requires one).
const userAgent = "Hallpass"

var (
	publicTransport http.RoundTripper = &providerTransport{base: newTransport(false)}
	anyTransport    http.RoundTripper = &providerTransport{base: newTransport(true)}
)

// ErrForbiddenAddress is a provider URL resolving to a loopback, private,
// link-local or otherwise internal address while private networks are not
// allowed.
var ErrForbiddenAddress = errors.New("social: provider address is not public")

func newTransport(allowPrivate bool) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = egress.DialControl(ErrForbiddenAddress)
	}
	// No proxy: the address check must see the provider's own address.
	return &http.Transport{
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   10,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	}
}

// providerTransport carries every provider call, also those the OAuth 2
// and OpenID Connect libraries make: it names Hallpass (GitHub's API wants a
// User-Agent), asks for JSON unless the request says otherwise (GitHub's
// token endpoint answers a form without), and cuts every response body at
// maxResponse (go-oidc reads key sets whole).
type providerTransport struct{ base http.RoundTripper }

func (t *providerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("User-Agent") == "" || req.Header.Get("Accept") == "" {
		req = req.Clone(req.Context())
		if req.Header.Get("User-Agent") == "" {
			req.Header.Set("User-Agent", userAgent)
		}
		if req.Header.Get("Accept") == "" {
			req.Header.Set("Accept", "application/json")
		}
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: maxResponse}
	return resp, nil
}

// errResponseTooLarge is a provider answer longer than maxResponse.
var errResponseTooLarge = errors.New("response too large")

// limitedBody fails a read past its limit (io.LimitReader would silently
// truncate, and a truncated key set may still parse).
type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, errResponseTooLarge
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// NewHTTPClient returns the client for provider calls, each bounded by
// timeout (SOCIALACCOUNT_REQUESTS_TIMEOUT; 0 = DefaultTimeout). Unless
// allowPrivateNetworks, it refuses to connect to loopback, private and
// link-local addresses, so a tenant's server_url cannot reach the platform's
// internal network. Clients share connection pools; creating one is cheap.
func NewHTTPClient(timeout time.Duration, allowPrivateNetworks bool) *http.Client {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	t := publicTransport
	if allowPrivateNetworks {
		t = anyTransport
	}
	return &http.Client{Transport: t, Timeout: timeout}
}

// response is a read provider response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r *response) ok() bool { return r.status >= 200 && r.status < 300 }

func (r *response) isJSON() bool {
	mt, _, _ := mime.ParseMediaType(r.header.Get("Content-Type"))
	return mt == "application/json" || strings.HasSuffix(mt, "+json") || bytes.HasPrefix(bytes.TrimSpace(r.body), []byte("{"))
}

// do sends req with the app's client and reads its answer.
func (b *base) do(req *http.Request, op string) (*response, error) { return send(b.client, req, op) }

// send sends req and reads its answer; transport failures and timeouts
// become *ProviderError.
func send(client *http.Client, req *http.Request, op string) (*response, error) {
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		return nil, &ProviderError{Op: op, Timeout: isTimeout(err), Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, &ProviderError{Op: op, Status: resp.StatusCode, Timeout: isTimeout(err), Err: err}
	}
	if len(body) > maxResponse {
		return nil, &ProviderError{Op: op, Status: resp.StatusCode, Err: errResponseTooLarge}
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// getJSON GETs u with the given Authorization header value and decodes a
// 2xx JSON object; any other answer is a *ProviderError.
func (b *base) getJSON(ctx context.Context, u, authorization, op string) (map[string]any, error) {
	r, err := get(ctx, b.client, u, authorization, op)
	if err != nil {
		return nil, err
	}
	m, err := decodeObject(r.body)
	if err != nil {
		return nil, &ProviderError{Op: op, Status: r.status, Err: err}
	}
	return m, nil
}

// get GETs u asking for JSON; an answer other than 2xx is a *ProviderError.
func get(ctx context.Context, client *http.Client, u, authorization, op string) (*response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s URL: %v", ErrConfig, op, err)
	}
	req.Header.Set("Accept", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	r, err := send(client, req, op)
	if err != nil {
		return nil, err
	}
	if !r.ok() {
		return nil, r.providerError(op)
	}
	return r, nil
}

// providerError reads an OAuth error body ({"error": …} or a form).
func (r *response) providerError(op string) *ProviderError {
	pe := &ProviderError{Op: op, Status: r.status}
	if r.isJSON() {
		var e struct {
			Error       any    `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(r.body, &e) == nil {
			switch v := e.Error.(type) {
			case string:
				pe.Code = v
			case map[string]any: // Microsoft Graph: {"error": {"code", "message"}}
				pe.Code, _ = v["code"].(string)
				pe.Description, _ = v["message"].(string)
			}
			if e.Description != "" {
				pe.Description = e.Description
			}
		}
	} else if q, err := url.ParseQuery(string(r.body)); err == nil {
		pe.Code, pe.Description = q.Get("error"), q.Get("error_description")
	}
	pe.Code = clip(pe.Code, 100)
	pe.Description = clip(pe.Description, 500)
	return pe
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// decodeObject decodes a JSON object, keeping numbers exact.
func decodeObject(body []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if m == nil {
		return nil, errors.New("JSON is not an object")
	}
	return m, nil
}

// number reads a JSON number (or numeric string) as an integer.
func number(v any) (int64, bool) {
	switch n := v.(type) {
	case json.Number:
		if i, err := n.Int64(); err == nil {
			return i, true
		}
		f, err := n.Float64()
		return int64(f), err == nil
	case float64:
		return int64(n), true
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}
