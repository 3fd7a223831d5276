// Package apitest drives the headless API through HTTP the way a frontend
// does, against real Postgres and Redis: each Env is a fresh tenant on a
// server assembled as `hallpass serve` assembles one (internal/assembly),
// workers included.
package apitest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/google/uuid"

	"github.com/hallpass/hallpass/api/server"
	apisocial "github.com/hallpass/hallpass/api/social"
	"github.com/hallpass/hallpass/internal/assembly"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/mail/smtptest"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/testenv"
	tokensdomain "github.com/hallpass/hallpass/internal/tokens"
	"github.com/hallpass/hallpass/internal/webhooks"
	"github.com/hallpass/hallpass/tenants"
)

// Clients are the two headless client kinds, for table-driven tests.
var Clients = []string{"app", "browser"}

// PlatformHost is the base domain test servers run under; requests default
// to it, so tenants are addressed by the /t/{slug}/ prefix unless a test sets Host.
const PlatformHost = "hallpass.test"

// PublicURL is the test servers' HALLPASS_PUBLIC_URL: the platform answers
// on PlatformHost, and every link a tenant mails is built on it (by path) or
// on {slug}.PlatformHost (by host).
const PublicURL = "http://" + PlatformHost

// Settings is a tenant settings document (allauth names).
type Settings map[string]any

// Env is one tenant on one server, with a real SMTP listener receiving
// the tenant's mail through the outbox worker.
type Env struct {
	T      testing.TB
	Tenant *tenants.Tenant
	Store  *tenants.Store
	// Server holds the Fiber apps of Assembly.
	Server *server.Server
	// Assembly is the whole server, built as `hallpass serve` builds it.
	Assembly *assembly.Server
	Accounts *identity.Accounts
	// Keys manages the tenants' signing keys (the server's own).
	Keys *tenants.Keys
	// Mail is the SMTP listener every tenant of this test binary mails to;
	// use WaitMail for this tenant's messages.
	Mail *smtptest.Server
	// Social serves the provider endpoints; set Social.Endpoints before a
	// test's first provider request.
	Social   *apisocial.Handlers
	strategy *tokensdomain.Strategy
	// host is the Host requests carry unless a test sets one: the public URL's.
	host string
	// cfg is what the server was built from (NewPeer builds another).
	cfg serverConfig
	// answerWithin is how long Raw waits for an answer: past the server's
	// own request deadline, so that a slow request on a busy machine ends
	// in the server's answer (a 503 at worst), never in the harness's
	// timeout.
	answerWithin time.Duration
}

// Strategy is the tenant server's JWT strategy (tests move its clock).
func (e *Env) Strategy() *tokensdomain.Strategy { return e.strategy }

// New creates a tenant with settings and a server that serves it.
func New(t testing.TB, settings Settings) *Env {
	t.Helper()
	return NewWithLog(t, settings, slog.New(slog.DiscardHandler))
}

// NewWithLog is New with log as the server's logger (access log, errors,
// panics, the tenant bus), for tests that read what the server logs.
func NewWithLog(t testing.TB, settings Settings, log *slog.Logger) *Env {
	t.Helper()
	return newEnv(t, settings, testServer(log))
}

// NewWithRequestTimeout is New on a server whose requests end after
// timeout (assembly.Config.RequestTimeout), for tests of what a request
// past its deadline leaves behind. Its passwords are hashed with a cheap
// argon2id: a full one, race-instrumented on a machine whose cores other
// jobs share, can take seconds and would spend the deadline before the
// request reaches what the test makes slow.
func NewWithRequestTimeout(t testing.TB, settings Settings, timeout time.Duration) *Env {
	t.Helper()
	cfg := testServer(slog.New(slog.DiscardHandler))
	cfg.RequestTimeout = timeout
	cfg.PasswordHasher = &cheapHasher
	return newEnv(t, settings, cfg)
}

// cheapHasher is an argon2id of 64 KiB and one pass, for tests whose
// timing a full hash would blur.
var cheapHasher = passwords.Hasher{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// NewAt is New on a server published at publicURL (HALLPASS_PUBLIC_URL),
// its tenants' hosts under baseDomain (HALLPASS_BASE_DOMAIN); requests
// default to publicURL's host.
func NewAt(t testing.TB, settings Settings, publicURL, baseDomain string) *Env {
	t.Helper()
	cfg := testServer(slog.New(slog.DiscardHandler))
	cfg.PublicURL, cfg.BaseDomain = publicURL, baseDomain
	return newEnv(t, settings, cfg)
}

// NewBehindProxy is New on a server behind a trusted proxy
// (HALLPASS_TRUSTED_PROXIES): the in-process requests' peer, 0.0.0.0, is
// the proxy, and X-Forwarded-For carries the client's address.
func NewBehindProxy(t testing.TB, settings Settings) *Env {
	t.Helper()
	cfg := testServer(slog.New(slog.DiscardHandler))
	cfg.TrustedProxies = []string{"0.0.0.0"}
	return newEnv(t, settings, cfg)
}

// serverConfig is how a test server differs from serve's defaults.
type serverConfig struct {
	assembly.Config
	log *slog.Logger
}

// testServer is the test servers' configuration: published at PublicURL, with
// options that make a busy test machine's timing harmless.
func testServer(log *slog.Logger) serverConfig {
	return serverConfig{log: log, Config: assembly.Config{
		PublicURL:  PublicURL,
		BaseDomain: PlatformHost,
		// Provider stand-ins run on loopback; tests point providers at them
		// through Social.Endpoints.
		SocialPrivateNetworks: true,
		SocialEndpoints:       map[string]social.Endpoints{},
		// Sessions are kept in memory too, as serve keeps them, in a
		// namespace of this server's own (its tenant is its own; no other
		// test's nodes answer).
		SessionCacheNamespace: "apitest-" + uuid.NewString(),
		// Tests count exact hits: a Redis slowed down by a busy machine must
		// not send some of them to the limiter's in-memory fallback.
		LimiterTimeout: 5 * time.Second,
		// Mail reaches the test's SMTP listener within a fraction of a second.
		MailPollInterval: 200 * time.Millisecond,
		MailBackoffBase:  20 * time.Millisecond,
		// Webhook receivers run on loopback; deliveries are retried
		// within moments.
		WebhookPrivateNetworks: true,
		Webhooks:               webhooks.Config{RetryBase: 100 * time.Millisecond, PollInterval: 100 * time.Millisecond},
	}}
}

// NewPeer builds a second node of e's cluster: another server on the same
// Postgres, Redis and cache namespace, serving e's tenant, sharing nothing
// in memory with e's server (what a revocation on one node must reach).
func NewPeer(t testing.TB, e *Env) *Env {
	t.Helper()
	srv := buildServer(t, e.cfg)
	peer := *e
	peer.T, peer.Server, peer.Assembly, peer.Accounts, peer.Keys = t, srv.HTTP, srv, srv.Accounts, srv.Keys
	peer.Store, peer.Social, peer.strategy = srv.Store, srv.Social, srv.Tokens
	return &peer
}

// buildServer assembles and starts a server from cfg, closed when the
// test ends.
func buildServer(t testing.TB, cfg serverConfig) *assembly.Server {
	t.Helper()
	_, sender := sharedMail(t)
	// The Redis client is registered first, so its cleanup runs after the
	// server's Close: the bus and the local cache stop before their
	// connection closes.
	deps := assembly.Deps{Pool: testenv.Pool(t), Redis: testenv.Redis(t), Sealer: testenv.Sealer(t), Log: cfg.log}
	cfg.MailSender = sender
	srv, err := assembly.Build(context.Background(), cfg.Config, deps)
	if err != nil {
		t.Fatalf("assemble the server: %v", err)
	}
	t.Cleanup(srv.Close)
	select {
	case <-srv.BusReady():
	case <-time.After(10 * time.Second):
		t.Fatal("tenant bus not subscribed within 10 s")
	}
	srv.Start()
	return srv
}

func newEnv(t testing.TB, settings Settings, cfg serverConfig) *Env {
	t.Helper()
	smtp, _ := sharedMail(t)
	srv := buildServer(t, cfg)
	if settings == nil {
		settings = Settings{}
	}
	raw, err := json.Marshal(settings)
	if err != nil {
		t.Fatal(err)
	}
	tn, err := srv.Store.Create(context.Background(), tenants.CreateInput{Slug: testenv.Slug(t.Name()), Settings: raw}, "apitest")
	if err != nil {
		t.Fatalf("create tenant: %v", err)
	}
	addr := tenants.MustAddressing(cfg.PublicURL, cfg.BaseDomain)
	host := strings.TrimPrefix(strings.TrimPrefix(addr.PublicOrigin(), "http://"), "https://")
	deadline := cfg.RequestTimeout
	if deadline <= 0 {
		deadline = server.DefaultRequestTimeout
	}
	return &Env{T: t, Tenant: tn, Store: srv.Store, Server: srv.HTTP, Assembly: srv, Accounts: srv.Accounts, Keys: srv.Keys,
		Mail: smtp, Social: srv.Social, strategy: srv.Tokens, host: host, cfg: cfg, answerWithin: deadline + 5*time.Second}
}

// Response is a received response with assertion helpers.
type Response struct {
	T      testing.TB
	Code   int
	Header http.Header
	Body   []byte
	JSON   map[string]any
}

// Do sends a request to the tenant's headless API of client, addressed by
// the /t/{slug}/ prefix; path is relative to /_allauth/{client}/v1/.
func (e *Env) Do(client, method, path, body string, headers ...string) *Response {
	e.T.Helper()
	return e.Raw(method, "/t/"+e.Tenant.Slug+"/_allauth/"+client+"/v1/"+path, body, headers...)
}

// Raw sends any request to the server; headers are name, value pairs
// ("Host" sets the Host header).
func (e *Env) Raw(method, target, body string, headers ...string) *Response {
	e.T.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	req.Host = e.host
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if strings.EqualFold(headers[i], "Host") {
			req.Host = headers[i+1]
			continue
		}
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.Server.Platform.Test(req, int(e.answerWithin.Milliseconds()))
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	out := &Response{T: e.T, Code: res.StatusCode, Header: res.Header, Body: b}
	_ = json.Unmarshal(b, &out.JSON)
	if err := Validate(method, req.URL.Path, res.StatusCode, res.Header, b); err != nil && !errors.Is(err, ErrNotInSpec) {
		e.T.Errorf("%s %s → %d does not match allauth's spec: %v\n%s", method, req.URL.Path, res.StatusCode, err, b)
	}
	return out
}

// Status asserts the HTTP status, and that an enveloped body mirrors it.
func (r *Response) Status(want int) *Response {
	r.T.Helper()
	if r.Code != want {
		r.T.Fatalf("status %d, want %d; body %s", r.Code, want, r.Body)
	}
	if s, ok := r.JSON["status"].(float64); ok && int(s) != want {
		r.T.Fatalf("envelope status %v, HTTP %d", s, want)
	}
	return r
}

// Error asserts that the errors list holds code on param ("" = form-level).
func (r *Response) Error(param, code string) *Response {
	r.T.Helper()
	errs, _ := r.JSON["errors"].([]any)
	for _, e := range errs {
		m, _ := e.(map[string]any)
		p, _ := m["param"].(string)
		if m["code"] == code && p == param {
			return r
		}
	}
	r.T.Fatalf("no error %q on %q in %s", code, param, r.Body)
	return r
}

// Path returns the value at a dotted path of the JSON body ("data.account.login_methods").
func (r *Response) Path(path string) any {
	var cur any = r.JSON
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// Validate checks a response against allauth's spec, with the two kinds of
// answer the spec cannot list per operation: the 410 allauth gives on every
// app endpoint for a dead session token (notes §3.1, §3.5), validated as
// GET auth/session's 410; and platform statuses (413 body too large, 429
// rate limited, 503 store unavailable), which must be a bare envelope.
func Validate(method, path string, status int, header http.Header, body []byte) error {
	if status == http.StatusNotFound && strings.TrimSpace(string(body)) == `{"status":404}` {
		return nil // no such route under the tenant's settings: allauth has no view there
	}
	switch status {
	case http.StatusGone:
		if i := strings.Index(path, "/_allauth/app/v1/"); i >= 0 {
			return ValidateResponse("GET", path[:i]+"/_allauth/app/v1/auth/session", status, header, body)
		}
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests, http.StatusServiceUnavailable:
		var env map[string]any
		if err := json.Unmarshal(body, &env); err != nil || env["status"] != float64(status) {
			return fmt.Errorf("platform status %d must be an envelope: %s", status, body)
		}
		return nil
	}
	err := ValidateResponse(method, path, status, header, body)
	if err == nil || !strings.Contains(err.Error(), "status is not supported") {
		return err
	}
	// Statuses allauth's code answers on endpoints whose spec entry omits
	// them (notes §2: "anon 401", "400 invalid ids", bare 403/409): checked
	// against the shape allauth uses for them elsewhere.
	prefix := path[:strings.Index(path, "/_allauth/")+len("/_allauth/")]
	client := "app"
	if strings.Contains(path, "/_allauth/browser/") {
		client = "browser"
	}
	switch status {
	case http.StatusUnauthorized:
		return ValidateResponse("GET", prefix+client+"/v1/auth/session", status, header, body)
	case http.StatusBadRequest:
		return ValidateResponse("POST", prefix+client+"/v1/auth/login", status, header, body)
	case http.StatusForbidden, http.StatusConflict, http.StatusNotFound:
		// Bare {status}; allauth's MFA 409s (cannot add an authenticator)
		// also carry errors.
		var env struct {
			Status *int              `json:"status"`
			Errors []json.RawMessage `json:"errors"`
		}
		var keys map[string]any
		if json.Unmarshal(body, &env) != nil || json.Unmarshal(body, &keys) != nil || env.Status == nil || *env.Status != status {
			return fmt.Errorf("%d must be an envelope: %s", status, body)
		}
		delete(keys, "status")
		if status == http.StatusConflict && len(env.Errors) > 0 {
			delete(keys, "errors")
		}
		if len(keys) != 0 {
			return fmt.Errorf("bare %d must be {status}: %s", status, body)
		}
		return nil
	}
	return err
}

var (
	mailOnce   sync.Once
	mailSMTP   *smtptest.Server
	mailSender *mail.SMTPSender
	mailErr    error
)

// sharedMail starts, once per test binary, the SMTP listener every test
// server's outbox worker delivers to. Any node's worker sends any tenant's
// mail (as in production), so tenants share it; messages carry their
// tenant in a header.
func sharedMail(t testing.TB) (*smtptest.Server, *mail.SMTPSender) {
	t.Helper()
	mailOnce.Do(func() {
		mailSMTP, mailErr = smtptest.Listen()
		if mailErr != nil {
			return
		}
		mailSender, mailErr = mail.NewSMTPSender(mailSMTP.URL())
	})
	if mailErr != nil {
		t.Fatalf("test mail pipeline: %v", mailErr)
	}
	return mailSMTP, mailSender
}

// Listen serves the tenant's server over real HTTP for the rest of the
// test, for clients that need a real URL (a browser's cookie jar, provider
// stand-ins redirecting back); it returns the tenant's base URL on
// PublicURL, ending in "/". Clients reach it through Transport, which dials
// PublicURL's host (and {slug}.PlatformHost) at a loopback listener.
func (e *Env) Listen() string {
	e.T.Helper()
	front.once.Do(func() {
		front.envs = map[string]*Env{}
		front.srv = httptest.NewServer(http.HandlerFunc(serveFront))
	})
	slug := e.Tenant.Slug
	front.mu.Lock()
	front.envs[slug] = e
	front.mu.Unlock()
	e.T.Cleanup(func() {
		front.mu.Lock()
		delete(front.envs, slug)
		front.mu.Unlock()
	})
	return PublicURL + "/t/" + slug + "/"
}

// front is the loopback server Listen hands out: it stands for the
// platform's public host and passes each request, Host unchanged, to the
// server of the Env whose tenant it addresses (by /t/{slug}/ or by host).
var front struct {
	once sync.Once
	srv  *httptest.Server
	mu   sync.Mutex
	envs map[string]*Env
}

func serveFront(w http.ResponseWriter, r *http.Request) {
	slug, _ := strings.CutSuffix(strings.Split(r.Host, ":")[0], "."+PlatformHost)
	if rest, ok := strings.CutPrefix(r.URL.Path, "/t/"); ok {
		slug, _, _ = strings.Cut(rest, "/")
	}
	front.mu.Lock()
	e := front.envs[slug]
	front.mu.Unlock()
	if e == nil {
		http.NotFound(w, r)
		return
	}
	adaptor.FiberApp(e.Server.Platform)(w, r)
}

// Transport is an HTTP transport for clients of Listen's URLs: PlatformHost
// and its subdomains are dialled at the loopback server, other hosts (the
// provider stand-ins) as usual.
func Transport() *http.Transport {
	var d net.Dialer
	return &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err == nil && front.srv != nil && (host == PlatformHost || strings.HasSuffix(host, "."+PlatformHost)) {
			addr = front.srv.Listener.Addr().String()
		}
		return d.DialContext(ctx, network, addr)
	}}
}
