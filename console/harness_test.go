package console_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/assembly"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// testHasher is a cheap argon2id so that tests sign in quickly.
var testHasher = passwords.Hasher{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

const testPassword = "correct horse battery"

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// env is a console mounted on a bare Fiber app, over the test database,
// built on the collaborators of a server assembled as serve assembles one
// (its Accounts, MFA store and Keys), with a test clock, DNS and a tenants
// store whose publications are recorded.
type env struct {
	t        *testing.T
	app      *fiber.App
	con      *console.Console
	srv      *assembly.Server
	store    *tenants.Store
	keys     *tenants.Keys
	pool     *pgxpool.Pool
	clock    *clock
	accounts *identity.Accounts
	dns      *fakeDNS
	changes  *changeLog
	cfg      console.Config
	// ip is the client address of this env's browsers, as the console's
	// trusted proxy reports it (X-Forwarded-For): each env has its own, so
	// that tests do not share the console's per-IP limits in Redis.
	ip string
}

type envOption func(*console.Config)

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	return newEnvOn(t, assembly.Config{}, opts...)
}

// newEnvOn is newEnv on a server assembled with server's options (the
// platform's addresses and the test knobs are set here).
func newEnvOn(t *testing.T, server assembly.Config, opts ...envOption) *env {
	t.Helper()
	pool := testenv.Pool(t)
	server.PublicURL, server.BaseDomain = "http://console.test", "hallpass.test"
	// app.Test's peer (0.0.0.0) is the platform's proxy.
	server.TrustedProxies = []string{"0.0.0.0"}
	server.PasswordHasher = &testHasher
	server.SessionCacheNamespace = "console-test-" + uuid.NewString()
	server.LimiterTimeout = 10 * time.Second
	srv, err := assembly.Build(context.Background(), server,
		assembly.Deps{Pool: pool, Redis: testenv.Redis(t), Sealer: testenv.Sealer(t), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	clk := &clock{t: time.Now()}
	dns := &fakeDNS{pool: pool, records: map[string]dnsAnswer{}}
	cfg := srv.ConsoleConfig()
	// The console's tenants store records what it publishes (the server's
	// publishes on the tenant bus).
	changes := &changeLog{}
	cfg.Store = tenants.NewStore(pool, testenv.Sealer(t), changes)
	cfg.Inbox = mail.NewDevInbox(pool, slog.New(slog.DiscardHandler))
	cfg.TXT, cfg.Now = dns, clk.Now
	// Each console gets a limiter of its own (mountConsole).
	cfg.Limiter = nil
	// Most tests have customers create tenants; production's default
	// (0: platform admins only) is tested in TestWhoMayCreateTenants.
	cfg.TenantsPerUser = 1000
	for _, o := range opts {
		o(&cfg)
	}
	e := &env{t: t, srv: srv, store: cfg.Store, keys: srv.Keys, pool: pool, clock: clk, accounts: srv.Accounts, dns: dns, changes: changes, cfg: cfg,
		ip: testIP()}
	e.app, e.con = mountConsole(t, cfg)
	return e
}

// mountConsole builds a console and mounts it on an app set up as the
// platform's behind a trusted proxy: app.Test's peer (0.0.0.0) is the
// proxy, and X-Forwarded-For carries the client's address.
//
// Each console counts sign-in failures with a limiter of its own, as each
// node of a deployment does, sharing the counts through Redis only; its
// calls may wait for Redis up to 10 s (not 400 ms) before it falls back to
// memory, since this machine is loaded and runs the race detector.
func mountConsole(t *testing.T, cfg console.Config) (*fiber.App, *console.Console) {
	t.Helper()
	if cfg.Limiter == nil {
		cfg.Limiter = ratelimit.NewLimiter(testenv.Redis(t))
		cfg.Limiter.SetTimeout(10 * time.Second)
	}
	con, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	app := fiber.New(fiber.Config{DisableStartupMessage: true, EnableTrustedProxyCheck: true, TrustedProxies: []string{"0.0.0.0"},
		ProxyHeader: fiber.HeaderXForwardedFor})
	con.Mount(app)
	return app, con
}

// twin is a second console node over the same database and Redis (another
// instance of a deployment), with its own client address.
func (e *env) twin() *env {
	e.t.Helper()
	t := *e
	t.ip = testIP()
	t.app, t.con = mountConsole(e.t, e.cfg)
	return &t
}

// testIP returns a random address of 10.0.0.0/8 for a test's clients.
func testIP() string {
	return fmt.Sprintf("10.%d.%d.%d", rand.IntN(256), rand.IntN(256), 1+rand.IntN(254))
}

// dnsAnswer is what fakeDNS answers for one name.
type dnsAnswer struct {
	records []string
	err     error
}

// fakeDNS answers TXT lookups: a name set in records gets that answer;
// otherwise the challenge name of a claimed domain holds its token, as if
// the customer had published it, and any other name does not exist.
type fakeDNS struct {
	pool    *pgxpool.Pool
	mu      sync.Mutex
	records map[string]dnsAnswer
	asked   []string
}

func (f *fakeDNS) set(name string, a dnsAnswer) {
	f.mu.Lock()
	f.records[name] = a
	f.mu.Unlock()
}

func (f *fakeDNS) LookupTXT(ctx context.Context, name string) ([]string, error) {
	f.mu.Lock()
	a, ok := f.records[name]
	f.asked = append(f.asked, name)
	f.mu.Unlock()
	if ok {
		return a.records, a.err
	}
	domain, found := strings.CutPrefix(name, "_hallpass-challenge.")
	var token string
	if found {
		err := f.pool.QueryRow(ctx, `SELECT verification_token FROM tenant_domains WHERE domain = $1`, domain).Scan(&token)
		if err == nil {
			return []string{token}, nil
		}
	}
	return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// changeLog records the tenant changes the console publishes.
type changeLog struct {
	mu   sync.Mutex
	list []tenants.Change
}

func (c *changeLog) PublishChange(_ context.Context, ch tenants.Change) error {
	c.mu.Lock()
	c.list = append(c.list, ch)
	c.mu.Unlock()
	return nil
}

func (c *changeLog) all() []tenants.Change {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]tenants.Change(nil), c.list...)
}

// endUser is one of a tenant's own users, made directly in the database.
type endUser struct {
	ID, EmailID int64
	Email       string
}

// endUser creates a tenant user with a password and one primary address.
func (e *env) endUser(tn *tenants.Tenant, prefix string, verified bool) endUser {
	e.t.Helper()
	ctx := context.Background()
	u := endUser{Email: testenv.Slug(prefix) + "@users.example"}
	hash, err := testHasher.Hash(testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	name := strings.ReplaceAll(strings.TrimSuffix(u.Email, "@users.example"), "-", "_")
	if err := e.pool.QueryRow(ctx, `INSERT INTO users (tenant_id, id, username, username_folded, password_hash) VALUES ($1, next_user_id($1), $2, $2, $3) RETURNING id`,
		tn.ID, name, hash).Scan(&u.ID); err != nil {
		e.t.Fatal(err)
	}
	if err := e.pool.QueryRow(ctx, `INSERT INTO email_addresses (tenant_id, user_id, email, email_folded, verified, is_primary)
		VALUES ($1, $2, $3, $3, $4, true) RETURNING id`, tn.ID, u.ID, u.Email, verified).Scan(&u.EmailID); err != nil {
		e.t.Fatal(err)
	}
	return u
}

// loginEndUser opens an authenticated API session of a tenant user, as a
// login does, and returns its token.
func (e *env) loginEndUser(tn *tenants.Tenant, userID int64) string {
	e.t.Helper()
	ctx := context.Background()
	sess := e.accounts.Sessions.New(tn.ID, "app", "198.51.100.7", "test-agent/1.0")
	if err := e.accounts.Sessions.Login(ctx, sess, userID, time.Hour); err != nil {
		e.t.Fatal(err)
	}
	if err := e.accounts.Sessions.Save(ctx, sess, time.Minute); err != nil {
		e.t.Fatal(err)
	}
	return sess.Token
}

// apiSessionLive reports whether a tenant user's session token still works.
func (e *env) apiSessionLive(tn *tenants.Tenant, token string) bool {
	e.t.Helper()
	sess, err := e.accounts.Sessions.Lookup(context.Background(), tn.ID, token, "198.51.100.7", "test-agent/1.0")
	return err == nil && sess.Authenticated()
}

// deliverMail runs the outbox into the dev inbox and returns the tenant's
// mail, newest first.
func (e *env) deliverMail(tn *tenants.Tenant) []mail.DevMail {
	e.t.Helper()
	ctx := context.Background()
	inbox := mail.NewDevInbox(e.pool, slog.New(slog.DiscardHandler))
	if _, err := mail.NewWorker(e.pool, testenv.Sealer(e.t), inbox, slog.New(slog.DiscardHandler)).Drain(ctx); err != nil {
		e.t.Fatal(err)
	}
	ms, err := inbox.List(ctx, tn.ID, 50)
	if err != nil {
		e.t.Fatal(err)
	}
	return ms
}

// user creates a console user; role is "platform" for a platform admin.
func (e *env) user(prefix string, platform bool) *console.User {
	e.t.Helper()
	hash, err := testHasher.Hash(testPassword)
	if err != nil {
		e.t.Fatal(err)
	}
	email := testenv.Slug(prefix) + "@example.com"
	var u *console.User
	if platform {
		u, err = e.con.Users().CreatePlatformAdmin(context.Background(), email, hash, "test")
	} else {
		u, err = e.con.Users().CreateUser(context.Background(), email, hash, "test")
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) tenant(prefix string) *tenants.Tenant {
	e.t.Helper()
	tn, err := e.store.Create(context.Background(), tenants.CreateInput{Slug: testenv.Slug(prefix)}, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return tn
}

func (e *env) grant(tn *tenants.Tenant, u *console.User, role console.Role) {
	e.t.Helper()
	if err := e.con.Users().AddMembership(context.Background(), tn.ID, u.ID, role, "test"); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) reload(slug string) *tenants.Tenant {
	e.t.Helper()
	tn, err := e.store.Get(context.Background(), slug)
	if err != nil {
		e.t.Fatal(err)
	}
	return tn
}

// browser keeps cookies across requests, as a browser does.
type browser struct {
	e       *env
	cookies map[string]string
	csrf    string
	// ip is the client address the browser's requests come from (the
	// env's unless a test changes it).
	ip string
}

func (e *env) browser() *browser { return &browser{e: e, cookies: map[string]string{}, ip: e.ip} }

// session signs u in directly through the session store.
func (e *env) session(u *console.User) *browser {
	e.t.Helper()
	token, sess, err := e.con.Sessions().Create(context.Background(), u.ID, "192.0.2.1", "test")
	if err != nil {
		e.t.Fatal(err)
	}
	b := e.browser()
	b.cookies[console.CookieName] = token
	b.csrf = sess.CSRF
	return b
}

// response is a received response.
type response struct {
	t      *testing.T
	Code   int
	Header http.Header
	Body   string
}

func (r *response) Location() string { return r.Header.Get("Location") }

func (r *response) status(want int) *response {
	r.t.Helper()
	if r.Code != want {
		r.t.Fatalf("status %d, want %d; location %q; body:\n%s", r.Code, want, r.Location(), excerpt(r.Body))
	}
	return r
}

func (r *response) contains(parts ...string) *response {
	r.t.Helper()
	for _, p := range parts {
		if !strings.Contains(r.Body, p) {
			r.t.Fatalf("body lacks %q:\n%s", p, excerpt(r.Body))
		}
	}
	return r
}

func (r *response) lacks(parts ...string) *response {
	r.t.Helper()
	for _, p := range parts {
		if strings.Contains(r.Body, p) {
			r.t.Fatalf("body has %q:\n%s", p, excerpt(r.Body))
		}
	}
	return r
}

func excerpt(s string) string {
	if i := strings.Index(s, `<main`); i >= 0 {
		s = s[i:]
	}
	if len(s) > 3000 {
		s = s[:3000] + "…"
	}
	return s
}

func (b *browser) get(path string) *response {
	return b.do("GET", path, nil, nil)
}

// post sends a form; the session's CSRF token is added unless form has _csrf.
func (b *browser) post(path string, form url.Values) *response {
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["_csrf"]; !ok && b.csrf != "" {
		form.Set("_csrf", b.csrf)
	}
	return b.do("POST", path, form, nil)
}

func (b *browser) do(method, path string, form url.Values, header map[string]string) *response {
	b.e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req := httptest.NewRequest(method, path, body)
	req.Host = "console.test"
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set(fiber.HeaderXForwardedFor, b.ip)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	res, err := b.e.app.Test(req, 20000)
	if err != nil {
		b.e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	for _, c := range res.Cookies() {
		if c.MaxAge < 0 || c.Value == "" || (!c.Expires.IsZero() && c.Expires.Before(time.Now())) {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c.Value
		}
	}
	out := &response{t: b.e.t, Code: res.StatusCode, Header: res.Header, Body: string(raw)}
	if m := csrfRE.FindStringSubmatch(out.Body); m != nil && b.cookies[console.CookieName] != "" {
		b.csrf = m[1]
	}
	return out
}

var csrfRE = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// signIn goes through the sign-in form.
func (b *browser) signIn(email, password string) *response {
	b.e.t.Helper()
	page := b.get("/console/login").status(200)
	m := csrfRE.FindStringSubmatch(page.Body)
	if m == nil {
		b.e.t.Fatalf("no form token on the sign-in page")
	}
	return b.do("POST", "/console/login", url.Values{"email": {email}, "password": {password}, "_csrf": {m[1]}}, nil)
}

// auditActions lists a tenant's audit actions, newest first.
func (e *env) auditActions(tenantID uuid.UUID) []string {
	e.t.Helper()
	rows, err := e.pool.Query(context.Background(), `SELECT action FROM audit_events WHERE tenant_id = $1 ORDER BY at DESC, id DESC`, tenantID)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		_ = rows.Scan(&a)
		out = append(out, a)
	}
	return out
}

// regexpFind returns the first submatch of pattern in s, failing without one.
func regexpFind(t *testing.T, s, pattern string) string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("no match for %s in:\n%s", pattern, excerpt(s))
	}
	return m[1]
}
