package faults

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/assembly"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/mail/smtptest"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/tenants"
)

// ---------------------------------------------------------------------------
// Timing: FAULTS_DURATION sets the length of each scenario's load.

type timing struct {
	total, outage time.Duration
	warm, recover time.Duration
}

// scenarioTiming is the short form (CI, `go test ./...`) unless
// FAULTS_DURATION asks for more: `make faults` runs 25 s per scenario.
func scenarioTiming(t *testing.T) timing {
	t.Helper()
	total := 6 * time.Second
	if v := os.Getenv("FAULTS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 5*time.Second {
			t.Fatalf("FAULTS_DURATION=%q: want a duration of at least 5s, e.g. 25s", v)
		}
		total = d
	}
	outage := 3 * time.Second
	if total >= 12*time.Second {
		outage = min(max(outage, total/4), 10*time.Second)
	}
	warm := (total - outage) / 3
	return timing{total: total, outage: outage, warm: warm, recover: total - outage - warm}
}

// ---------------------------------------------------------------------------
// Logs: the server's warnings and errors, kept for the report.

type logSink struct {
	mu        sync.Mutex
	counts    map[string]int
	samples   map[string][]string
	unhandled []string // "unhandled error" and "panic": 500s
}

func newLogSink() *logSink {
	return &logSink{counts: map[string]int{}, samples: map[string][]string{}}
}

type sinkHandler struct {
	s     *logSink
	attrs []slog.Attr
}

func (h sinkHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelWarn }

func (h sinkHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "request" {
		return nil // access log; the recorder has every response
	}
	var b strings.Builder
	b.WriteString(r.Message)
	key := r.Message
	add := func(a slog.Attr) bool {
		switch a.Key {
		case "request_id", "stack":
			return true
		case "path":
			// One sample per path: /t/{slug}/... and the tenant's own path.
			p := a.Value.String()
			if rest, ok := strings.CutPrefix(p, "/t/"); ok {
				_, p, _ = strings.Cut(rest, "/")
			}
			key += " " + p
		}
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	line := b.String()
	h.s.mu.Lock()
	defer h.s.mu.Unlock()
	h.s.counts[key]++
	if len(h.s.samples[key]) < 2 {
		h.s.samples[key] = append(h.s.samples[key], line)
	}
	if r.Message == "unhandled error" || r.Message == "panic" {
		h.s.unhandled = append(h.s.unhandled, line)
	}
	return nil
}

func (h sinkHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return sinkHandler{s: h.s, attrs: append(slices.Clone(h.attrs), as...)}
}

func (h sinkHandler) WithGroup(string) slog.Handler { return h }

func (s *logSink) report() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.counts))
	for k := range s.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %5d × %s\n", s.counts[k], k)
		for _, l := range s.samples[k] {
			fmt.Fprintf(&b, "          e.g. %.300s\n", l)
		}
	}
	return b.String()
}

// ---------------------------------------------------------------------------
// A node: a server assembled as `hallpass serve` assembles one
// (internal/assembly, with serve's pool and Redis client settings), serving
// on a real 127.0.0.1 listener.

// tenantCacheTTL is serve's.
const tenantCacheTTL = assembly.DefaultTenantCacheTTL

type node struct {
	name     string
	url      string // http://127.0.0.1:port
	pool     *pgxpool.Pool
	rdb      *redis.Client
	store    *tenants.Store
	cache    *tenants.Cache
	keys     *tenants.Keys
	accounts *identity.Accounts
	logs     *logSink
}

type nodeConfig struct {
	dbURL     string
	redisAddr string
	sealer    *seal.Sealer
	// smtpURL is where the node's outbox worker sends (every node runs
	// one, as serve does).
	smtpURL string
}

func startNode(t *testing.T, name string, cfg nodeConfig) *node {
	t.Helper()
	logs := newLogSink()
	log := slog.New(sinkHandler{s: logs}).With("node", name)

	pcfg, err := pgxpool.ParseConfig(cfg.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	assembly.TunePool(pcfg, cfg.dbURL)
	pool, err := pgxpool.NewWithConfig(context.Background(), pcfg)
	if err != nil {
		t.Fatal(err)
	}
	opt := &redis.Options{Addr: cfg.redisAddr}
	assembly.TuneRedis(opt)
	rdb := redis.NewClient(opt)
	sender, err := mail.NewSMTPSender(cfg.smtpURL)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := assembly.Build(context.Background(), assembly.Config{
		// As serve, whose public URL names the address it listens on.
		PublicURL:  "http://" + ln.Addr().String(),
		BaseDomain: "localhost",
		MailSender: sender,
		// The one option serve does not share: see faultsHasher.
		PasswordHasher: &faultsHasher,
	}, assembly.Deps{Pool: pool, Redis: rdb, Sealer: cfg.sealer, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.BusReady():
	case <-time.After(3 * time.Second):
		t.Fatalf("%s: tenant bus not subscribed within 3 s", name)
	}
	srv.Start()
	serveCtx, stopServe := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(serveCtx, ln, 5*time.Second) }()

	t.Cleanup(func() {
		stopServe()
		select {
		case err := <-served:
			if err != nil {
				t.Errorf("%s: serve: %v", name, err)
			}
		case <-time.After(15 * time.Second):
			t.Errorf("%s: server did not stop within 15 s", name)
		}
		// serve's order: the server's background work (workers, tenant
		// bus, local session cache), then the connections.
		srv.Close()
		_ = rdb.Close()
		pool.Close()
	})
	return &node{name: name, url: "http://" + ln.Addr().String(), pool: pool, rdb: rdb, store: srv.Store, cache: srv.Cache,
		keys: srv.Keys, accounts: srv.Accounts, logs: logs}
}

func (n *node) limiter() *ratelimit.Limiter {
	l, _ := n.accounts.Limiter.(*ratelimit.Limiter)
	return l
}

// createTenant creates a tenant through the node's store (which publishes
// the change, as the CLI and console do).
func (n *node) createTenant(t *testing.T, prefix string, settings map[string]any) *tenants.Tenant {
	t.Helper()
	raw, err := json.Marshal(settings)
	if err != nil {
		t.Fatal(err)
	}
	tn, err := n.store.Create(context.Background(), tenants.CreateInput{Slug: prefix + "-" + randHex(3), Settings: raw}, "faults")
	if err != nil {
		t.Fatalf("create tenant %s: %v", prefix, err)
	}
	return tn
}

// ---------------------------------------------------------------------------
// Responses: every one is recorded, and checked for the platform's
// invariants (an allauth envelope mirroring the status; a 503 is the
// "unavailable" envelope with Retry-After; never a 500, never HTML).

type result struct {
	op         string
	node       string
	start, end time.Time
	status     int // 0: no HTTP response
	bad        string
	snippet    string
	json       map[string]any
}

func (r result) path(p string) any {
	var cur any = r.json
	for _, part := range strings.Split(p, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

// pending is the id of the pending flow of a 401 (allauth's is_pending).
func (r result) pending() string {
	flows, _ := r.path("data.flows").([]any)
	for _, f := range flows {
		m, _ := f.(map[string]any)
		if m["is_pending"] == true {
			id, _ := m["id"].(string)
			return id
		}
	}
	return ""
}

type recorder struct {
	mu   sync.Mutex
	recs []result
}

func (r *recorder) add(res result) {
	res.json = nil // keep memory flat over long runs
	r.mu.Lock()
	r.recs = append(r.recs, res)
	r.mu.Unlock()
}

func (r *recorder) all() []result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.recs)
}

type hclient struct {
	hc  *http.Client
	rec *recorder
}

func newHClient(t *testing.T) *hclient {
	tr := &http.Transport{MaxIdleConns: 128, MaxIdleConnsPerHost: 64, IdleConnTimeout: 30 * time.Second}
	t.Cleanup(tr.CloseIdleConnections)
	return &hclient{hc: &http.Client{Transport: tr, Timeout: 20 * time.Second}, rec: &recorder{}}
}

// do sends one request and records it under op; headers are name, value pairs.
func (h *hclient) do(op string, n *node, method, path, body string, headers ...string) result {
	res := result{op: op, node: n.name, start: time.Now()}
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, n.url+path, rd)
	if err != nil {
		panic(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		res.end, res.bad = time.Now(), "no response: "+err.Error()
		h.rec.add(res)
		return res
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	res.end, res.status = time.Now(), resp.StatusCode
	if err != nil {
		res.bad = "body: " + err.Error()
	}
	res.snippet = string(b)
	if len(res.snippet) > 300 {
		res.snippet = res.snippet[:300]
	}
	if res.bad == "" {
		res.bad = checkEnvelope(resp, b, &res.json)
	}
	h.rec.add(res)
	return res
}

func checkEnvelope(resp *http.Response, body []byte, out *map[string]any) string {
	ct := resp.Header.Get("Content-Type")
	if !strings.HasPrefix(ct, "application/json") {
		return fmt.Sprintf("Content-Type %q, not JSON", ct)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return "body is not a JSON object: " + err.Error()
	}
	if s, _ := (*out)["status"].(float64); int(s) != resp.StatusCode {
		return fmt.Sprintf("envelope status %v on HTTP %d", (*out)["status"], resp.StatusCode)
	}
	switch {
	case resp.StatusCode == http.StatusServiceUnavailable:
		errs, _ := (*out)["errors"].([]any)
		first, _ := func() (map[string]any, bool) {
			if len(errs) == 0 {
				return nil, false
			}
			m, ok := errs[0].(map[string]any)
			return m, ok
		}()
		if first["code"] != "unavailable" {
			return "503 without the unavailable error code"
		}
		if resp.Header.Get("Retry-After") == "" {
			return "503 without Retry-After"
		}
	case resp.StatusCode >= 500:
		return fmt.Sprintf("HTTP %d", resp.StatusCode)
	}
	return ""
}

// ---------------------------------------------------------------------------
// Load: virtual frontends doing what allauth frontends do.

const password = "correct horse battery staple"

// hashThink paces the actors whose requests hash a password, so that they
// do not starve the rest of the mix.
const hashThink = 150 * time.Millisecond

// faultsHasher is a cheap argon2id (64 KiB, one pass). serve's (19 MiB,
// two passes) costs tens of ms on an idle core but, race-instrumented on a
// machine whose two cores other jobs share, 5–12 s: a signup then spends
// most of its 15 s request deadline hashing and answers 503 for want of
// CPU, whatever the fault, and the verdict would measure the machine.
// What hashing costs is make bench's (c); here it is what faults do.
var faultsHasher = passwords.Hasher{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// loginUser is a logged-in user of the JWT tenant: an app session token,
// an access token, and the head of a refresh-token chain.
type loginUser struct {
	email   string
	token   string
	access  string
	refresh string
	// chainBroken counts refresh chains that ended in a refusal.
	chainBroken int
	// lastRelogin paces logging in again after a refusal (a person types
	// the password again; a client does not hammer).
	lastRelogin time.Time
}

// flow is a signup waiting for its email verification (an anonymous app
// session holding the pending verify_email stage, in Redis).
type flow struct {
	email   string
	token   string
	started time.Time
}

type load struct {
	t     *testing.T
	h     *hclient
	nodes []*node // requests spread over them; [0] is the primary
	open  *tenants.Tenant
	verif *tenants.Tenant
	users []*loginUser

	// signups maps each tenant's slug, then each address a signup was sent
	// for, to the statuses it got.
	mu      sync.Mutex
	signups map[string]map[string][]int
	flows   []flow

	pauseSignups atomic.Bool
	stop         chan struct{}
	wg           sync.WaitGroup
}

func appPath(tn *tenants.Tenant, p string) string { return "/t/" + tn.Slug + "/_allauth/app/v1/" + p }

// randomIP is a client address from 10/8: each virtual frontend is its own
// client for the per-IP rate limits (the tenants trust X-Real-IP).
func randomIP() string {
	return fmt.Sprintf("10.%d.%d.%d", mrand.IntN(256), mrand.IntN(256), 1+mrand.IntN(254))
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func newEmail(prefix string) string { return prefix + "-" + randHex(6) + "@example.com" }

// openSettings: a JWT tenant without verification (signups log in at once).
func openSettings() map[string]any {
	return map[string]any{
		"ACCOUNT_LOGIN_METHODS":            []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":            []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION":       "none",
		"HEADLESS_TOKEN_STRATEGY":          "jwt",
		"HEADLESS_JWT_ALGORITHM":           "EdDSA",
		"ALLAUTH_TRUSTED_CLIENT_IP_HEADER": "X-Real-IP",
	}
}

// verifySettings: mandatory verification by link; a signup leaves a
// pending verify_email stage in an anonymous session.
func verifySettings() map[string]any {
	return map[string]any{
		"ACCOUNT_LOGIN_METHODS":            []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":            []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION":       "mandatory",
		"HEADLESS_FRONTEND_URLS":           map[string]string{"account_confirm_email": "https://app.example.com/verify/{key}"},
		"ALLAUTH_TRUSTED_CLIENT_IP_HEADER": "X-Real-IP",
	}
}

var verifyLink = regexp.MustCompile(`https://app\.example\.com/verify/(\S+)`)

func newLoad(t *testing.T, h *hclient, nodes []*node, open, verif *tenants.Tenant) *load {
	return &load{t: t, h: h, nodes: nodes, open: open, verif: verif, signups: map[string]map[string][]int{}, stop: make(chan struct{})}
}

// prepareUsers signs n users up on the open tenant (before any fault); the
// load uses them.
func (l *load) prepareUsers(n int) {
	l.t.Helper()
	users := make([]*loginUser, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { users[i] = l.newUser() })
	}
	wg.Wait()
	for _, u := range users {
		if u == nil {
			l.t.FailNow() // newUser reported why
		}
	}
	l.users = append(l.users, users...)
}

// newUser signs a user up on the open tenant and returns its tokens (nil,
// with the test marked failed, if the signup did not succeed).
func (l *load) newUser() *loginUser {
	l.t.Helper()
	email := newEmail("user")
	res := l.h.do("setup", l.nodes[0], "POST", appPath(l.open, "auth/signup"),
		`{"email":"`+email+`","password":"`+password+`"}`, "X-Real-IP", randomIP())
	tok, _ := res.path("meta.session_token").(string)
	access, _ := res.path("meta.access_token").(string)
	refresh, _ := res.path("meta.refresh_token").(string)
	if res.status != 200 || tok == "" || access == "" || refresh == "" {
		l.t.Errorf("setup signup: %d %s", res.status, res.snippet)
		return nil
	}
	return &loginUser{email: email, token: tok, access: access, refresh: refresh}
}

func (l *load) node(i int) *node { return l.nodes[i%len(l.nodes)] }

// actor runs f until the load stops, pausing think between calls.
func (l *load) actor(think time.Duration, f func(i int)) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-l.stop:
				return
			default:
			}
			f(i)
			select {
			case <-l.stop:
				return
			case <-time.After(think/2 + time.Duration(mrand.Int64N(int64(think)))):
			}
		}
	}()
}

func (l *load) noteSignup(tn *tenants.Tenant, email string, status int) {
	l.mu.Lock()
	if l.signups[tn.Slug] == nil {
		l.signups[tn.Slug] = map[string][]int{}
	}
	l.signups[tn.Slug][email] = append(l.signups[tn.Slug][email], status)
	l.mu.Unlock()
}

func (l *load) signupsOf(tn *tenants.Tenant) map[string][]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][]int{}
	for k, v := range l.signups[tn.Slug] {
		out[k] = slices.Clone(v)
	}
	return out
}

// start runs the standard mix: session checks (session token and JWT),
// logins, signups, verification flows, refresh chains, config reads.
func (l *load) start() {
	users := l.users
	// Authenticated session checks: the bulk of real traffic.
	for w := range 3 {
		l.actor(10*time.Millisecond, func(i int) {
			u := users[(i*3+w)%len(users)]
			l.h.do("session", l.node(i+w), "GET", appPath(l.open, "auth/session"), "", "X-Session-Token", u.token)
		})
	}
	l.actor(10*time.Millisecond, func(i int) {
		u := users[i%len(users)]
		l.mu.Lock()
		access := u.access
		l.mu.Unlock()
		l.h.do("session_jwt", l.node(i), "GET", appPath(l.open, "auth/session"), "", "Authorization", "Bearer "+access)
	})
	// Password logins (each makes a new durable session).
	l.actor(hashThink, func(i int) {
		u := users[(i*7)%len(users)]
		l.h.do("login", l.node(i), "POST", appPath(l.open, "auth/login"),
			`{"email":"`+u.email+`","password":"`+password+`"}`, "X-Real-IP", randomIP())
	})
	// Signups that log in at once.
	l.actor(hashThink, func(i int) {
		if l.pauseSignups.Load() {
			return
		}
		email := newEmail("signup")
		res := l.h.do("signup", l.node(i), "POST", appPath(l.open, "auth/signup"),
			`{"email":"`+email+`","password":"`+password+`"}`, "X-Real-IP", randomIP())
		l.noteSignup(l.open, email, res.status)
	})
	// Signups with mandatory verification: a flow left in progress, and a
	// look at it the way a frontend polls auth/session.
	l.actor(hashThink, func(i int) { l.startFlow(i) })
	// Refresh-token chains (rotation: each refresh spends the token).
	for w := range 2 {
		l.actor(20*time.Millisecond, func(i int) {
			u := users[w%len(users)]
			l.refreshOnce(l.node(i), u)
		})
	}
	// Tenant config reads: the tenant cache.
	l.actor(20*time.Millisecond, func(i int) {
		l.h.do("config", l.node(i), "GET", appPath(l.open, "config"), "")
	})
}

// startFlow signs up on the verification tenant and looks at the pending
// flow; it reports whether the signup was answered 401 (flow in progress).
func (l *load) startFlow(i int) bool {
	if l.pauseSignups.Load() {
		return false
	}
	email := newEmail("flow")
	res := l.h.do("flow_signup", l.node(i), "POST", appPath(l.verif, "auth/signup"),
		`{"email":"`+email+`","password":"`+password+`"}`, "X-Real-IP", randomIP())
	l.noteSignup(l.verif, email, res.status)
	if res.status != 401 {
		return false
	}
	if p := res.pending(); p != "verify_email" {
		l.t.Errorf("flow signup: pending %q, want verify_email: %s", p, res.snippet)
	}
	tok, _ := res.path("meta.session_token").(string)
	if tok == "" {
		l.t.Errorf("flow signup without a session token: %s", res.snippet)
		return true
	}
	l.mu.Lock()
	l.flows = append(l.flows, flow{email: email, token: tok, started: res.start})
	l.mu.Unlock()
	l.h.do("flow_session", l.node(i+1), "GET", appPath(l.verif, "auth/session"), "", "X-Session-Token", tok)
	return true
}

// burst runs verification signups on workers goroutines for d, and on until
// at least atLeast of them were answered (at most 60 s more); it returns how
// many were.
func (l *load) burst(d time.Duration, atLeast, workers int) int {
	var n atomic.Int64
	deadline, limit := time.Now().Add(d), time.Now().Add(d+60*time.Second)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := 0; ; i++ {
				now := time.Now()
				if now.After(limit) || (now.After(deadline) && n.Load() >= int64(atLeast)) {
					return
				}
				if l.startFlow(1_000_000 + w*100_000 + i) {
					n.Add(1)
				}
			}
		})
	}
	wg.Wait()
	return int(n.Load())
}

// refreshOnce advances u's chain: 200 moves to the new refresh token; a 503
// keeps the old one to try again (nothing was spent if the server said so);
// a 400 means the chain was refused: counted, and a new one started by a login.
func (l *load) refreshOnce(n *node, u *loginUser) {
	l.mu.Lock()
	tok := u.refresh
	l.mu.Unlock()
	res := (l.h.do("refresh", n, "POST", appPath(l.open, "tokens/refresh"), `{"refresh_token":"`+tok+`"}`))
	switch res.status {
	case 200:
		next, _ := res.path("data.refresh_token").(string)
		access, _ := res.path("data.access_token").(string)
		if next == "" || access == "" {
			l.t.Errorf("refresh 200 without tokens: %s", res.snippet)
			return
		}
		l.mu.Lock()
		u.refresh, u.access = next, access
		l.mu.Unlock()
	case 400:
		l.mu.Lock()
		u.chainBroken++
		again := time.Since(u.lastRelogin) > time.Second
		if again {
			u.lastRelogin = time.Now()
		}
		l.mu.Unlock()
		if !again {
			return
		}
		relog := (l.h.do("relogin", n, "POST", appPath(l.open, "auth/login"),
			`{"email":"`+u.email+`","password":"`+password+`"}`, "X-Real-IP", randomIP()))
		if r, _ := relog.path("meta.refresh_token").(string); relog.status == 200 && r != "" {
			a, _ := relog.path("meta.access_token").(string)
			l.mu.Lock()
			u.refresh, u.access = r, a
			l.mu.Unlock()
		}
	}
}

func (l *load) finish() {
	close(l.stop)
	l.wg.Wait()
}

func (l *load) flowsBefore(t time.Time) []flow {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []flow
	for _, f := range l.flows {
		if f.started.Before(t) {
			out = append(out, f)
		}
	}
	return out
}

// ---------------------------------------------------------------------------
// Checks after a run.

// window is a time interval of a fault.
type window struct{ from, to time.Time }

func (w window) contains(r result) bool { return !r.end.Before(w.from) && !r.start.After(w.to) }

// expected is the status each load operation gets when nothing is wrong.
var expected = map[string]int{
	"setup": 200, "final_session": 200, "pubsub_config": 200, "flow_login": 200, "session": 200, "session_jwt": 200, "login": 200, "relogin": 200, "signup": 200,
	"flow_signup": 401, "flow_session": 401, "refresh": 200, "config": 200,
	// Postgres scenario probes (see TestPostgresRestartedUnderLoad).
	"kb_refresh": 503, "kb_bearer": 503, "kb_login_outage": 503, "kb_login_after": 200, "kb_refresh_after": 200,
}

type summary struct {
	requests  int
	byStatus  map[int]int
	byOp      map[string]map[int]int
	latency   map[string][]time.Duration
	bad       []result // broken invariants (500, HTML, malformed 503, no response)
	fiveXX    []result
	unexpects []result // statuses the scenario does not allow
}

func summarize(recs []result, allow func(r result) bool) summary {
	s := summary{byStatus: map[int]int{}, byOp: map[string]map[int]int{}, latency: map[string][]time.Duration{}}
	for _, r := range recs {
		s.requests++
		s.byStatus[r.status]++
		if s.byOp[r.op] == nil {
			s.byOp[r.op] = map[int]int{}
		}
		s.byOp[r.op][r.status]++
		s.latency[r.op] = append(s.latency[r.op], r.end.Sub(r.start))
		if r.bad != "" {
			s.bad = append(s.bad, r)
			continue
		}
		if r.status >= 500 {
			s.fiveXX = append(s.fiveXX, r)
		}
		if r.status != expected[r.op] && !allow(r) {
			s.unexpects = append(s.unexpects, r)
		}
	}
	return s
}

func fmtStatuses(m map[int]int) string {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		name := fmt.Sprint(k)
		if k == 0 {
			name = "none"
		}
		parts[i] = fmt.Sprintf("%s=%d", name, m[k])
	}
	return strings.Join(parts, " ")
}

func (s summary) perOp() string {
	ops := make([]string, 0, len(s.byOp))
	for op := range s.byOp {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	var b strings.Builder
	for _, op := range ops {
		lat := s.latency[op]
		slices.Sort(lat)
		q := func(f float64) time.Duration { return lat[int(f*float64(len(lat)-1))].Round(time.Millisecond) }
		fmt.Fprintf(&b, "  %-17s %-34s p50 %-6v p99 %-7v max %v\n", op, fmtStatuses(s.byOp[op]), q(0.5), q(0.99), q(1))
	}
	return b.String()
}

// span5xx is the time from the start of the first to the end of the last
// 5xx answer among recs for which in is true (0 with none).
func span5xx(recs []result, in func(r result) bool) (time.Duration, int) {
	var first, last time.Time
	n := 0
	for _, r := range recs {
		if r.status < 500 || !in(r) {
			continue
		}
		n++
		if first.IsZero() || r.start.Before(first) {
			first = r.start
		}
		if r.end.After(last) {
			last = r.end
		}
	}
	if n == 0 {
		return 0, 0
	}
	return last.Sub(first), n
}

// reportBad fails the test for broken invariants and unexpected statuses,
// with a few examples each.
func reportBad(t *testing.T, s summary, nodes ...*node) {
	t.Helper()
	show := func(title string, rs []result) {
		if len(rs) == 0 {
			return
		}
		var b strings.Builder
		for i, r := range rs {
			if i == 8 {
				fmt.Fprintf(&b, "  ... and %d more\n", len(rs)-i)
				break
			}
			fmt.Fprintf(&b, "  %s %s@%s +%v: %d %s %.200s\n", r.op, r.node, r.start.Format("15:04:05.000"),
				r.end.Sub(r.start).Round(time.Millisecond), r.status, r.bad, r.snippet)
		}
		t.Errorf("%s: %d\n%s", title, len(rs), b.String())
	}
	show("responses breaking the platform's invariants (500, not JSON, bad 503, no response)", s.bad)
	show("statuses this scenario does not allow", s.unexpects)
	if t.Failed() {
		for _, n := range nodes {
			t.Logf("%s server warnings/errors:\n%s", n.name, n.logs.report())
		}
	}
}

// checkAccounts verifies in SQL that no account is half-created and none
// acknowledged is missing: every user has its email address; every signup
// answered 200 (logged in) or 401 (pending verification) exists. It returns
// the number of acknowledged signups missing, and how many signups answered
// 503 were committed anyway (whole).
func checkAccounts(t *testing.T, pool *pgxpool.Pool, tn *tenants.Tenant, signups map[string][]int, withMail bool) (lost, committed503 int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var partial int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM users u WHERE u.tenant_id = $1 AND NOT EXISTS
		(SELECT 1 FROM email_addresses e WHERE e.tenant_id = u.tenant_id AND e.user_id = u.id)`, tn.ID).Scan(&partial); err != nil {
		t.Fatalf("check accounts: %v", err)
	}
	if partial != 0 {
		t.Errorf("%s: %d users without their email address (half-created accounts)", tn.Slug, partial)
	}
	rows, err := pool.Query(ctx, `SELECT e.email_folded, (SELECT count(*) FROM outbox o WHERE o.tenant_id = e.tenant_id
		AND o.recipient_hash = encode(sha256(convert_to(e.email_folded, 'UTF8')), 'hex') AND o.kind = 'email_confirmation')
		FROM email_addresses e WHERE e.tenant_id = $1`, tn.ID)
	if err != nil {
		t.Fatalf("check accounts: %v", err)
	}
	exists, mails := map[string]bool{}, map[string]int{}
	for rows.Next() {
		var email string
		var n int
		if err := rows.Scan(&email, &n); err != nil {
			t.Fatal(err)
		}
		exists[email], mails[email] = true, n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for email, statuses := range signups {
		ok := slices.ContainsFunc(statuses, func(s int) bool { return s == 200 || s == 401 })
		switch {
		case ok && !exists[email]:
			lost++
			t.Errorf("%s: signup of %s was answered %v but the account does not exist", tn.Slug, email, statuses)
		case !ok && exists[email]:
			committed503++
		}
		if withMail && exists[email] && mails[email] != 1 {
			lost++
			t.Errorf("%s: %s exists with %d verification mails queued, want 1 (queued in the signup's transaction)", tn.Slug, email, mails[email])
		}
	}
	return lost, committed503
}

// checkSessionsAlive asserts every prepared user is still logged in: the
// session token answers 200 and the refresh chain still refreshes. It
// returns how many are not (refusals during the run are judged by each
// scenario from the recorded responses).
func checkSessionsAlive(t *testing.T, l *load) (lost int) {
	t.Helper()
	for _, u := range l.users {
		res := l.h.do("final_session", l.nodes[0], "GET", appPath(l.open, "auth/session"), "", "X-Session-Token", u.token)
		if res.status != 200 {
			lost++
			t.Errorf("user %s logged out by the fault: auth/session %d %s", u.email, res.status, res.snippet)
		}
		before := u.chainBroken
		l.refreshOnce(l.nodes[0], u)
		if u.chainBroken != before {
			lost++
			t.Errorf("user %s: refresh chain refused after recovery", u.email)
		}
	}
	return lost
}

// refusedChains counts the users whose refresh token was refused at some
// point: an allauth client drops its tokens on that 400, so each is a user
// logged out.
func refusedChains(l *load) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, u := range l.users {
		if u.chainBroken > 0 {
			n++
		}
	}
	return n
}

// knownBug is a failure whose cause lies outside this package and the files
// its fixes may touch; docs/RELIABILITY.md ("Open issues") describes each.
// A run counts and prints it, and seeing it fails the test (short and long
// form alike: the known bugs are fixed, so a match is a regression).
// FAULTS_LENIENT=1 only logs it, for local investigation.
type knownBug struct {
	id, issue string
	match     func(r result) bool
	recs      []result
}

func (k *knownBug) take(r result) bool {
	if !k.match(r) {
		return false
	}
	k.recs = append(k.recs, r)
	return true
}

func (k *knownBug) String() string {
	if len(k.recs) == 0 {
		return k.id + ": not seen"
	}
	byOp := map[string]int{}
	for _, r := range k.recs {
		byOp[fmt.Sprintf("%s %d", r.op, r.status)]++
	}
	keys := make([]string, 0, len(byOp))
	for op := range byOp {
		keys = append(keys, op)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, op := range keys {
		parts[i] = fmt.Sprintf("%s ×%d", op, byOp[op])
	}
	return k.id + ": " + strings.Join(parts, ", ")
}

func (k *knownBug) settle(t *testing.T) {
	t.Helper()
	if len(k.recs) == 0 {
		return
	}
	r := k.recs[0]
	msg := fmt.Sprintf("KNOWN BUG %s — %s\n    %s; e.g. %s → %d %.160s", k.id, k.issue, k, r.op, r.status, r.snippet)
	if os.Getenv("FAULTS_LENIENT") != "" {
		t.Log(msg + "\n    (not failing: FAULTS_LENIENT is set)")
		return
	}
	t.Error(msg)
}

// goroutineGuard fails the test if, once everything the test started has
// been torn down, more goroutines run than before it began. Not counted:
// fasthttp's process-wide Date header ticker (starts on first use, never
// stops) and a stopped server's worker-pool cleaner, which exits when its
// current sleep (MaxIdleWorkerDuration, 10 s) ends; a server that was not
// shut down still shows its accept loop.
func goroutineGuard(t *testing.T) {
	before := len(goroutines())
	t.Cleanup(func() { // registered first: runs after every other cleanup
		start := time.Now()
		deadline := start.Add(10 * time.Second)
		for {
			now := goroutines()
			if len(now) <= before {
				t.Logf("goroutines: %d before, %d after teardown (settled in %v)", before, len(now), time.Since(start).Round(time.Millisecond))
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("goroutine leak: %d before the scenario, %d after teardown:\n%s", before, len(now), strings.Join(now, "\n\n"))
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// goroutines returns the stacks of the running goroutines, but for
// process-wide singletons.
func goroutines() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "fasthttp.updateServerDate") || strings.Contains(g, "fasthttp.(*workerPool).Start.func2") {
			continue
		}
		out = append(out, g)
	}
	return out
}

// sampleGoroutines records the peak goroutine count until stop is closed.
func sampleGoroutines(stop <-chan struct{}) *atomic.Int64 {
	var peak atomic.Int64
	go func() {
		for {
			if n := int64(runtime.NumGoroutine()); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return &peak
}

// newSealer is the deployment's master key.
func newSealer(t *testing.T) *seal.Sealer {
	t.Helper()
	k := make([]byte, 32)
	_, _ = rand.Read(k)
	s, err := seal.New(k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func startSMTP(t *testing.T) *smtptest.Server { return smtptest.Start(t) }

type smtpMsg = smtptest.Received

// rateLimitProbe sends signups from one fresh client address to a tenant
// limiting "signup" to 5 a minute per IP, and returns the statuses. The
// address is invalid: a request the limiter lets through is refused with 400
// right after it, without hashing a password or touching the database, so
// the probe is quick and tests the limiter alone.
func rateLimitProbe(h *hclient, n *node, tn *tenants.Tenant, count int) []int {
	ip := fmt.Sprintf("192.0.2.%d", 1+probeIPs.Add(1)%250)
	var out []int
	for range count {
		res := h.do("probe", n, "POST", appPath(tn, "auth/signup"),
			`{"email":"not-an-address","password":"`+password+`"}`, "X-Real-IP", ip)
		out = append(out, res.status)
	}
	return out
}

var probeIPs atomic.Int64

func limitSettings() map[string]any {
	return map[string]any{
		"ACCOUNT_LOGIN_METHODS":            []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":            []string{"email*", "password1*"},
		"ACCOUNT_RATE_LIMITS":              map[string]any{"signup": "5/m/ip"},
		"ALLAUTH_TRUSTED_CLIENT_IP_HEADER": "X-Real-IP",
	}
}

// probeWithRedisUp probes n's limits while Redis is up, up to three times
// with a fresh address: on a machine busy with other jobs one Redis answer
// can take longer than the limiter's 400 ms, and that call then counts in
// the node's memory (the documented fallback), letting a sixth request
// through. What the check proves — that limits are counted and enforced
// with Redis up — needs one clean probe; three failures are a real fault.
func probeWithRedisUp(h *hclient, n *node, tn *tenants.Tenant) ([]int, bool) {
	var st []int
	for range 3 {
		if st = rateLimitProbe(h, n, tn, 7); wantProbe(st) {
			return st, true
		}
	}
	return st, false
}

// wantProbe checks a probe: the first five allowed (400: invalid address),
// the rest refused with 429.
func wantProbe(statuses []int) bool {
	for i, s := range statuses {
		if (i < 5 && s != 400) || (i >= 5 && s != 429) {
			return false
		}
	}
	return true
}
