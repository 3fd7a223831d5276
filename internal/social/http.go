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
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultTimeout bounds provider calls when no SOCIALACCOUNT_REQUESTS_TIMEOUT
// is given (allauth's default, 5 s).
const DefaultTimeout = 5 * time.Second

// maxResponse bounds what is read of any provider response.
const maxResponse = 1 << 20

// userAgent names Hallpass to providers (GitHub's API requires one).
const userAgent = "Hallpass"

var (
	publicTransport = newTransport(false)
	anyTransport    = newTransport(true)
)

// ErrForbiddenAddress is a provider URL resolving to a loopback, private,
// link-local or otherwise internal address while private networks are not
// allowed.
var ErrForbiddenAddress = errors.New("social: provider address is not public")

func newTransport(allowPrivate bool) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = func(network, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, address)
			}
			if !publicAddr(ap.Addr()) {
				return fmt.Errorf("%w: %s", ErrForbiddenAddress, ap.Addr())
			}
			return nil
		}
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

func publicAddr(a netip.Addr) bool {
	a = a.Unmap()
	if !a.IsValid() || a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast() ||
		a.IsMulticast() || a.IsUnspecified() || a.IsInterfaceLocalMulticast() {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("fec0::/10"),
}

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

// do sends req and reads its answer; transport failures and timeouts become
// *ProviderError.
func (b *base) do(req *http.Request, op string) (*response, error) {
	req.Header.Set("User-Agent", userAgent)
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, &ProviderError{Op: op, Timeout: isTimeout(err), Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, &ProviderError{Op: op, Status: resp.StatusCode, Timeout: isTimeout(err), Err: err}
	}
	if len(body) > maxResponse {
		return nil, &ProviderError{Op: op, Status: resp.StatusCode, Err: errors.New("response too large")}
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
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %s URL: %v", ErrConfig, op, err)
	}
	req.Header.Set("Accept", "application/json")
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	r, err := b.do(req, op)
	if err != nil {
		return nil, err
	}
	if !r.ok() {
		return nil, r.providerError(op)
	}
	m, err := decodeObject(r.body)
	if err != nil {
		return nil, &ProviderError{Op: op, Status: r.status, Err: err}
	}
	return m, nil
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

// clientAuth is how the token endpoint authenticates the app.
type clientAuth int

const (
	authPost  clientAuth = iota // client_id and client_secret in the form
	authBasic                   // HTTP Basic (RFC 6749 §2.3.1)
)

// exchange runs the authorization_code grant against tokenURL.
func (b *base) exchange(ctx context.Context, tokenURL, clientID, secret string, auth clientAuth, code, redirectURI, codeVerifier string) (*Tokens, error) {
	const op = "token exchange"
	if code == "" {
		return nil, &ProviderError{Op: op, Err: errors.New("no code")}
	}
	form := url.Values{
		"grant_type":   {"authorization_code"},
		"code":         {code},
		"redirect_uri": {redirectURI},
	}
	if b.pkceEnabled() && codeVerifier != "" {
		form.Set("code_verifier", codeVerifier)
	}
	if auth == authPost {
		form.Set("client_id", clientID)
		if secret != "" {
			form.Set("client_secret", secret)
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("%w: token URL: %v", ErrConfig, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if auth == authBasic {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	}
	r, err := b.do(req, op)
	if err != nil {
		return nil, err
	}
	if !r.ok() {
		return nil, r.providerError(op)
	}
	var raw map[string]any
	if r.isJSON() {
		if raw, err = decodeObject(r.body); err != nil {
			return nil, &ProviderError{Op: op, Status: r.status, Err: err}
		}
	} else {
		q, err := url.ParseQuery(string(r.body))
		if err != nil {
			return nil, &ProviderError{Op: op, Status: r.status, Err: err}
		}
		raw = make(map[string]any, len(q))
		for k := range q {
			raw[k] = q.Get(k)
		}
	}
	t := &Tokens{Raw: raw}
	t.AccessToken, _ = raw["access_token"].(string)
	if t.AccessToken == "" {
		// GitHub answers 200 {"error": "bad_verification_code"}.
		pe := &ProviderError{Op: op, Status: r.status, Err: errors.New("no access_token")}
		pe.Code, _ = raw["error"].(string)
		pe.Description, _ = raw["error_description"].(string)
		return nil, pe
	}
	t.RefreshToken, _ = raw["refresh_token"].(string)
	t.TokenType, _ = raw["token_type"].(string)
	t.IDToken, _ = raw["id_token"].(string)
	t.Scope, _ = raw["scope"].(string)
	if secs, ok := number(raw["expires_in"]); ok && secs > 0 {
		t.ExpiresAt = time.Now().Add(time.Duration(secs) * time.Second)
	}
	return t, nil
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
