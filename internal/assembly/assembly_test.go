package assembly_test

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/assembly"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func assemble(t *testing.T, cfg assembly.Config) *assembly.Server {
	t.Helper()
	srv, err := assembly.Build(context.Background(), cfg, assembly.Deps{Pool: testenv.Pool(t), Redis: testenv.Redis(t),
		Sealer: testenv.Sealer(t), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// Build wires one Accounts with everything production's has — second
// factors, connected providers, the breach check, the shared limiter — and
// hands that same Accounts, Keys and Store to the API and the console.
func TestBuildWiresOneGraph(t *testing.T) {
	srv := assemble(t, assembly.Config{PublicURL: "http://hallpass.test", BaseDomain: "hallpass.test", HIBPURL: "http://hibp.test/"})
	a := srv.Accounts
	if a == nil || srv.MFA == nil || a.MFA != identity.MFAState(srv.MFA) {
		t.Errorf("Accounts.MFA is %v, want the server's MFA store %p", a.MFA, srv.MFA)
	}
	if a.Social == nil {
		t.Error("Accounts has no connected provider accounts (social)")
	}
	if a.Breach == nil || a.Breach.BaseURL != "http://hibp.test" {
		t.Errorf("Accounts.Breach = %+v, want a checker of http://hibp.test", a.Breach)
	}
	if a.Limiter != identity.RateLimiter(srv.Limiter) || srv.Limiter == nil {
		t.Error("Accounts does not count with the server's limiter")
	}
	if srv.Tokens.Keys != srv.Keys || srv.Tokens.Sessions != a.Sessions || srv.Tokens.BaseDomain != "hallpass.test" {
		t.Error("the token strategy is not on the server's Keys and Accounts' sessions")
	}
	if srv.Social == nil || srv.Social.Headless == nil || srv.Social.Headless.Accounts != a || srv.Social.States == nil {
		t.Error("the provider handlers are not on the server's Accounts")
	}
	con := srv.ConsoleConfig()
	if con.Accounts != a || con.MFA != srv.MFA || con.Keys != srv.Keys || con.Store != srv.Store || con.Limiter != srv.Limiter || con.Pool == nil {
		t.Error("the console is not on the server's Accounts, MFA store, Keys, Store and limiter")
	}
	if srv.Users == nil || con.Users != srv.Users {
		t.Error("the console's operations on tenant users are not the server's (the management API's) instance")
	}
	if con.Inbox == nil || con.Inbox != srv.Inbox || con.PublicURL != "http://hallpass.test" || con.MailFrom != "no-reply@hallpass.test" {
		t.Errorf("console: inbox %v (server's %v), public URL %q, mail from %q", con.Inbox, srv.Inbox, con.PublicURL, con.MailFrom)
	}
	for _, r := range []struct{ method, path string }{
		{"POST", "/auth/login"},
		{"POST", "/auth/2fa/authenticate"},
		{"GET", "/account/authenticators"},
		{"POST", "/auth/webauthn/login"},
		{"POST", "/auth/provider/redirect"},
		{"GET", "/account/providers"},
		{"POST", "/tokens/refresh"},
	} {
		if route, ok := srv.HTTP.Catalog.Lookup(r.method, r.path); !ok || route.Handler == nil {
			t.Errorf("%s %s has no handler on the assembled server", r.method, r.path)
		}
	}
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/static/hallpass.css": 200, "/console/": 303, "/nowhere": 404} {
		req := httptest.NewRequest("GET", path, nil)
		req.Host = "hallpass.test"
		res, err := srv.HTTP.Platform.Test(req, 10000)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s: %d, want %d", path, res.StatusCode, want)
		}
	}
}

// Zero options are production's defaults.
func TestBuildDefaults(t *testing.T) {
	srv := assemble(t, assembly.Config{PublicURL: "http://127.0.0.1:8000", MailSender: discardSender{}})
	if srv.Accounts.Breach == nil || srv.Accounts.Breach.BaseURL != passwords.DefaultBreachURL {
		t.Errorf("breach checker %+v, want %s", srv.Accounts.Breach, passwords.DefaultBreachURL)
	}
	if srv.Accounts.Hasher != passwords.DefaultHasher() {
		t.Errorf("hasher %+v, want the default", srv.Accounts.Hasher)
	}
	if srv.Inbox != nil || srv.ConsoleConfig().Inbox != nil {
		t.Error("a dev inbox with a mail sender configured")
	}
	if srv.Social.AllowPrivateNetworks || srv.Social.Endpoints != nil {
		t.Error("providers may reach private networks, or are pointed elsewhere, by default")
	}
	if srv.ConsoleConfig().BaseDomain != "localhost" || srv.Tokens.BaseDomain != "localhost" || srv.ConsoleConfig().TenantsPerUser != 0 {
		t.Error("base domain or tenants per user not production's default")
	}
	if srv.Janitor.AuditRetention != 0 || srv.Mail.PollInterval != 0 {
		t.Error("janitor or mail worker tuned by default")
	}
}

// Close stops every goroutine Build and Start began.
func TestCloseStopsTheBackground(t *testing.T) {
	deps := assembly.Deps{Pool: testenv.Pool(t), Redis: testenv.Redis(t), Sealer: testenv.Sealer(t), Log: slog.New(slog.DiscardHandler)}
	if err := deps.Pool.Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	srv, err := assembly.Build(context.Background(), assembly.Config{PublicURL: "http://hallpass.test", BaseDomain: "hallpass.test",
		SessionCacheNamespace: "assembly-close-" + strings.ReplaceAll(t.Name(), "/", "-")}, deps)
	if err != nil {
		t.Fatal(err)
	}
	<-srv.BusReady()
	srv.Start()
	time.Sleep(200 * time.Millisecond) // the workers are running
	if n := runtime.NumGoroutine(); n < before+4 {
		t.Fatalf("%d goroutines after Build and Start, %d before: the background is not running", n, before)
	}
	srv.Close()
	srv.Close() // a second Close is harmless
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after Close, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Build refuses missing connections and a bad public URL.
func TestBuildRefusesBadInput(t *testing.T) {
	if _, err := assembly.Build(context.Background(), assembly.Config{PublicURL: "http://x.test"}, assembly.Deps{}); err == nil {
		t.Error("built without a pool, Redis and a sealer")
	}
	_, err := assembly.Build(context.Background(), assembly.Config{PublicURL: "x.test/path"},
		assembly.Deps{Pool: testenv.Pool(t), Redis: testenv.Redis(t), Sealer: testenv.Sealer(t)})
	if err == nil || !strings.Contains(err.Error(), "public URL") {
		t.Errorf("a public URL with no scheme: %v", err)
	}
}

// discardSender stands for an SMTP server.
type discardSender struct{}

func (discardSender) Send(context.Context, uuid.UUID, mail.Message) error { return nil }
