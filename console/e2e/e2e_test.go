// Package e2e drives the whole platform (headless API and console on one
// listener) with a real headless Chromium, as a platform admin would use it.
package e2e

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/api/server"
	"github.com/hallpass/hallpass/api/tokens"
	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// platform is the whole server on a real 127.0.0.1 listener.
type platform struct {
	URL  string
	keys *tenants.Keys
}

// startPlatform wires the server as `hallpass serve` does: tenant cache and
// its Redis bus, the headless API with the JWT strategy, and the console
// mounted before the catch-all.
func startPlatform(t *testing.T) *platform {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	rdb := testenv.Redis(t)
	t.Cleanup(cancel)
	log := slog.New(slog.DiscardHandler)
	pool, sealer := testenv.Pool(t), testenv.Sealer(t)
	bus := tenants.NewBus(rdb, "", log)
	store := tenants.NewStore(pool, sealer, bus)
	cache := tenants.NewCache(store, time.Minute)
	ready := make(chan struct{})
	go bus.Run(ctx, cache, ready)
	<-ready

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	publicURL := "http://" + ln.Addr().String()
	accounts := identity.NewAccounts(pool, rdb, sealer, "no-reply@hallpass.test")
	keys := tenants.NewKeys(pool, sealer, bus)
	strategy := &tokens.Strategy{Keys: keys, Sealer: sealer, Sessions: accounts.Sessions}
	headless := &api.Headless{Accounts: accounts, Tokens: strategy}
	srv := server.New(server.Config{Resolver: tenants.NewResolver(cache, "localhost", "127.0.0.1"), Log: log,
		Headless: headless, Tokens: &tokens.Handlers{Strategy: strategy, Headless: headless}})
	con, err := console.New(console.Config{Pool: pool, Store: store, Keys: tenants.NewKeys(pool, sealer, bus),
		Inbox: mail.NewDevInbox(pool, log), PublicURL: publicURL, BaseDomain: "localhost", Log: log})
	if err != nil {
		t.Fatal(err)
	}
	con.Mount(srv.Platform)
	srv.Finish()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	return &platform{URL: publicURL, keys: keys}
}

// chromiumPath finds Debian's chromium; its absence fails the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	t.Fatal("chromium not found (/usr/bin/chromium or on PATH): the console end-to-end test needs Debian's chromium; " +
		"run `bash scripts/chromium.sh` (make test does) or `apt-get install chromium`")
	return ""
}

// artifactsDir is where screenshots go: $HALLPASS_ARTIFACTS, or
// .data/artifacts/ at the module root.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("HALLPASS_ARTIFACTS")
	if dir == "" {
		root, err := filepath.Abs(".")
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(root)
			if parent == root {
				t.Fatal("go.mod not found above the test directory")
			}
			root = parent
		}
		dir = filepath.Join(root, ".data", "artifacts")
	}
	dir = filepath.Join(dir, "console-e2e")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A platform admin signs in, creates a tenant, turns on login by code,
// rotates a signing key, and sees both through the tenant's own API: the
// config endpoint and the JWKS. Each step leaves a screenshot.
func TestConsoleEndToEnd(t *testing.T) {
	exe := chromiumPath(t)
	p := startPlatform(t)
	artifacts := artifactsDir(t)

	email := testenv.Slug("e2e-admin") + "@example.com"
	const password = "e2e correct horse battery"
	hash, err := identity.DefaultPasswordHasher().Hash(password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := console.NewUsers(testenv.Pool(t)).CreatePlatformAdmin(context.Background(), email, hash, "e2e"); err != nil {
		t.Fatal(err)
	}

	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", "new"),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(func(f string, a ...any) { t.Logf("chromedp: "+f, a...) }))
	defer cancelBrowser()
	if err := chromedp.Do(browserCtx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", exe, err)
	}
	ctx, cancelTimeout := context.WithTimeout(browserCtx, 3*time.Minute)
	defer cancelTimeout()

	var shots []string
	shot := func(name string) chromedp.Action[chromedp.Void] {
		return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			buf, err := chromedp.FullScreenshot(100)(ctx, tg)
			if err != nil {
				return err
			}
			path := filepath.Join(artifacts, name+".png")
			shots = append(shots, path)
			return os.WriteFile(path, buf, 0o644)
		})
	}
	run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			_ = chromedp.Do(ctx, shot("failed-"+strings.ReplaceAll(step, " ", "-")))
			t.Fatalf("%s (at %s): %v", step, loc, err)
		}
	}

	slug := testenv.Slug("e2e")
	run("sign in",
		chromedp.Navigate(p.URL+"/console/"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		shot("01-sign-in"),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="empty-tenants"]`)),
		shot("02-tenants-empty"),
	)
	var slugCheck string
	run("create tenant",
		chromedp.Click(chromedp.CSS(`[data-testid="new-tenant"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#slug`)),
		chromedp.SendKeys(chromedp.CSS(`#slug`), slug),
		chromedp.SendKeys(chromedp.CSS(`#name`), "End to End Inc."),
		// htmx checks the slug inline as it is typed.
		chromedp.WaitVisible(chromedp.CSS(`#slug-check .ok-text`)),
		textInto(chromedp.CSS(`#slug-check`), &slugCheck),
		shot("03-new-tenant"),
		chromedp.Click(chromedp.CSS(`[data-testid="create-tenant"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
		shot("04-tenant-overview"),
	)
	if !strings.Contains(slugCheck, "is available") {
		t.Fatalf("inline slug check said %q", slugCheck)
	}

	before := apiGet(t, p.URL+"/t/"+slug+"/_allauth/app/v1/config")
	if enabled(t, before, "login_by_code_enabled") {
		t.Fatal("login by code already enabled")
	}
	var flash string
	run("change a setting",
		chromedp.Navigate(p.URL+"/console/t/"+slug+"/settings/codes"),
		chromedp.WaitVisible(chromedp.CSS(`#s-ACCOUNT_LOGIN_BY_CODE_ENABLED`)),
		chromedp.Click(chromedp.CSS(`#s-ACCOUNT_LOGIN_BY_CODE_ENABLED`)),
		chromedp.Click(chromedp.CSS(`[data-testid="save-settings"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="diff"]`)),
		textInto(chromedp.CSS(`[data-testid="flash"]`), &flash),
		shot("05-settings-saved"),
	)
	if !strings.Contains(flash, "ACCOUNT_LOGIN_BY_CODE_ENABLED") || !strings.Contains(flash, "version 2") {
		t.Fatalf("flash after save: %q", flash)
	}
	// Nodes hear of the change over Redis pub/sub: allow it a moment.
	after := eventually(t, func() ([]byte, bool) {
		b := apiGet(t, p.URL+"/t/"+slug+"/_allauth/app/v1/config")
		return b, enabled(t, b, "login_by_code_enabled")
	})
	t.Logf("config after the change: %s", after)

	var keyFlash string
	run("rotate a key",
		chromedp.Navigate(p.URL+"/console/t/"+slug+"/keys"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="rotate-key"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="rotate-key"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="keys-table"]`)),
		textInto(chromedp.CSS(`[data-testid="flash"]`), &keyFlash),
		shot("06-keys-rotated"),
	)
	tn, err := tenants.NewStore(testenv.Pool(t), testenv.Sealer(t), nil).Get(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := p.keys.List(context.Background(), tn)
	if err != nil || len(keys) == 0 {
		t.Fatalf("no keys after rotation: %v", err)
	}
	if !strings.Contains(keyFlash, keys[0].Kid) {
		t.Fatalf("flash %q does not name the new key %s", keyFlash, keys[0].Kid)
	}
	jwks := eventually(t, func() ([]byte, bool) {
		b := apiGet(t, p.URL+"/t/"+slug+"/.well-known/jwks.json")
		return b, strings.Contains(string(b), `"kid":"`+keys[0].Kid+`"`)
	})
	t.Logf("JWKS after the rotation: %s", jwks)

	run("look around",
		chromedp.Navigate(p.URL+"/console/t/"+slug+"/settings/json"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="json-doc"]`)),
		shot("07-settings-json"),
		chromedp.Navigate(p.URL+"/console/t/"+slug+"/audit"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-table"]`)),
		shot("08-audit-log"),
		chromedp.Navigate(p.URL+"/console/t/"+slug+"/quickstart"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="api-base"]`)),
		shot("09-quickstart"),
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(p.URL+"/console/t/"+slug+"/settings/codes"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="settings-form"]`)),
		shot("10-mobile-settings"),
	)

	for _, s := range shots {
		info, err := os.Stat(s)
		if err != nil || info.Size() < 1000 {
			t.Errorf("screenshot %s missing or empty: %v", s, err)
		}
	}
	t.Logf("screenshots in %s", artifacts)
}

// eventually retries check for up to five seconds and fails with its last
// result.
func eventually(t *testing.T, check func() ([]byte, bool)) []byte {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, ok := check()
		if ok {
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tenant's API still answers %s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// textInto reads an element's text into *dst.
func textInto(sel chromedp.CSS, dst *string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		v, err := chromedp.Text(sel)(ctx, tg)
		*dst = v
		return err
	})
}

func apiGet(t *testing.T, url string) []byte {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, b)
	}
	return b
}

func enabled(t *testing.T, config []byte, field string) bool {
	t.Helper()
	var doc struct {
		Data struct {
			Account map[string]any `json:"account"`
		} `json:"data"`
	}
	if err := json.Unmarshal(config, &doc); err != nil {
		t.Fatal(err)
	}
	v, ok := doc.Data.Account[field].(bool)
	if !ok {
		t.Fatalf("config has no account.%s: %s", field, config)
	}
	return v
}
