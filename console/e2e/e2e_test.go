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
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/assembly"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// platform is the whole server on a real 127.0.0.1 listener.
type platform struct {
	URL   string
	keys  *tenants.Keys
	store *tenants.Store
	inbox *mail.DevInbox
}

// startPlatform assembles the server as `hallpass serve` does
// (internal/assembly: the headless API with MFA, social login and the JWT
// strategy, the console, the workers) and serves it. Its URL names host
// ("127.0.0.1", or "localhost" where WebAuthn needs a domain name) and a
// 127.0.0.1 port; mail stays in the dev inbox, as serve keeps it without
// HALLPASS_SMTP_URL.
func startPlatform(t *testing.T, host string) *platform {
	t.Helper()
	rdb := testenv.Redis(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	publicURL := "http://" + host + ":" + strconvPort(ln.Addr())
	srv, err := assembly.Build(context.Background(), assembly.Config{PublicURL: publicURL, BaseDomain: "localhost"},
		assembly.Deps{Pool: testenv.Pool(t), Redis: rdb, Sealer: testenv.Sealer(t), Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	<-srv.BusReady()
	srv.Start()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln, time.Second) }()
	t.Cleanup(func() { cancel(); <-done })
	return &platform{URL: publicURL, keys: srv.Keys, store: srv.Store, inbox: srv.Inbox}
}

// artifactsDir is where screenshots go: console-e2e/ under the artifacts
// directory (testenv.Artifacts).
func artifactsDir(t *testing.T) string { return testenv.Artifacts(t, "console-e2e") }

// A platform admin signs in, creates a tenant, turns on login by code,
// rotates a signing key, and sees both through the tenant's own API: the
// config endpoint and the JWKS. Then a user who signed up through the API
// is found in the console and disabled, and the API refuses their login.
// Each step leaves a screenshot.
func TestConsoleEndToEnd(t *testing.T) {
	p := startPlatform(t, "127.0.0.1")
	artifacts := artifactsDir(t)

	email := testenv.Slug("e2e-admin") + "@example.com"
	const password = "e2e correct horse battery"
	hash, err := passwords.DefaultHasher().Hash(password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := console.NewUsers(testenv.Pool(t)).CreatePlatformAdmin(context.Background(), email, hash, "e2e"); err != nil {
		t.Fatal(err)
	}

	b := startBrowser(t, testenv.Chromium(t), artifacts)
	run, shot := b.run, b.shot

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
	tn, err := p.store.Get(context.Background(), slug)
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

	// A user signs up through the tenant's API; an admin finds them in the
	// console and disables them; the API then refuses their password and
	// their session.
	userEmail := "ada-" + slug + "@example.com"
	const userPassword = "tame-otter-sings-41"
	signup := apiPost(t, p.URL+"/t/"+slug+"/_allauth/app/v1/auth/signup", "",
		`{"email":"`+userEmail+`","username":"ada","password":"`+userPassword+`"}`, 200)
	sessionToken, _ := signup["meta"].(map[string]any)["session_token"].(string)
	if sessionToken == "" {
		t.Fatalf("signup gave no session token: %v", signup)
	}
	apiPost(t, p.URL+"/t/"+slug+"/_allauth/app/v1/auth/login", "", `{"username":"ada","password":"`+userPassword+`"}`, 200)
	apiPost(t, p.URL+"/t/"+slug+"/_allauth/app/v1/auth/signup", "",
		`{"email":"grace-`+slug+`@example.com","username":"grace","password":"`+userPassword+`"}`, 200)
	var status, userFlash string
	run("find and disable a user",
		chromedp.Navigate(p.URL+"/console/t/"+slug+"/users"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="users-table"]`)),
		// htmx searches as the address is typed.
		chromedp.SendKeys(chromedp.CSS(`[data-testid="user-search"]`), "ADA-"+strings.ToUpper(slug[:6])),
		chromedp.Poll[chromedp.Void](`location.search.includes("q=") && document.querySelectorAll('#users-results [data-testid="user-link"]').length === 1`,
			chromedp.WithPollingTimeout(10*time.Second)),
		shot("07-users-search"),
		chromedp.Click(chromedp.CSS(`[data-testid="user-link"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-sessions"]`)),
		shot("08-user-detail"),
		chromedp.Click(chromedp.CSS(`[data-testid="disable-user"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="enable-user"]`)),
		textInto(chromedp.CSS(`[data-testid="user-status"]`), &status),
		textInto(chromedp.CSS(`[data-testid="flash"]`), &userFlash),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="no-sessions"]`)),
		shot("09-user-disabled"),
	)
	if status != "disabled" || !strings.Contains(userFlash, userEmail+" is disabled") {
		t.Fatalf("after disabling: status %q, flash %q", status, userFlash)
	}
	apiPost(t, p.URL+"/t/"+slug+"/_allauth/app/v1/auth/login", "", `{"username":"ada","password":"`+userPassword+`"}`, 401)
	apiDo(t, "GET", p.URL+"/t/"+slug+"/_allauth/app/v1/auth/session", sessionToken, "", 410)

	// A custom domain shows the TXT record to publish (verifying would ask
	// real DNS, which a test has none of); an invitation goes through the
	// outbox and its link opens the acceptance page.
	domain := slug + ".example.org"
	invitee := "grace-" + slug + "@example.com"
	var txt string
	run("add a domain and invite someone",
		chromedp.Navigate(p.URL+"/console/t/"+slug+"/domains"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="empty-domains"]`)),
		chromedp.SendKeys(chromedp.CSS(`#domain`), domain),
		chromedp.Click(chromedp.CSS(`[data-testid="add-domain"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="txt-record"]`)),
		textInto(chromedp.CSS(`[data-testid="txt-record"]`), &txt),
		shot("10-domains"),
		chromedp.Navigate(p.URL+"/console/t/"+slug+"/members"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="send-invitation"]`)),
		chromedp.SendKeys(chromedp.CSS(`#invite-email`), invitee),
		chromedp.SetValue(chromedp.CSS(`#invite-role`), "admin"),
		chromedp.Click(chromedp.CSS(`[data-testid="send-invitation"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="invitations-table"]`)),
		shot("11-members-invited"),
	)
	if !strings.Contains(txt, "_hallpass-challenge."+domain) || !strings.Contains(txt, "hallpass-verify=") {
		t.Fatalf("TXT record shown: %q", txt)
	}
	link := p.invitationLink(t, slug, invitee)
	var invitation string
	run("open the invitation",
		chromedp.Navigate(link),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="accept-invitation"]`)),
		textInto(chromedp.CSS(`[data-testid="invitation"]`), &invitation),
		shot("12-invitation"),
	)
	if !strings.Contains(invitation, invitee) || !strings.Contains(invitation, "admin") {
		t.Fatalf("invitation page: %q", invitation)
	}

	run("look around",
		chromedp.Navigate(p.URL+"/console/t/"+slug+"/settings/history"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="history"]`)),
		shot("13-settings-history"),
		chromedp.Navigate(p.URL+"/console/t/"+slug+"/settings/json"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="json-doc"]`)),
		shot("14-settings-json"),
		chromedp.Navigate(p.URL+"/console/t/"+slug+"/audit"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit-table"]`)),
		shot("15-audit-log"),
		chromedp.Navigate(p.URL+"/console/t/"+slug+"/quickstart"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="api-base"]`)),
		shot("16-quickstart"),
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(p.URL+"/console/t/"+slug+"/users"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="users-table"]`)),
		shot("17-mobile-users"),
		chromedp.Navigate(p.URL+"/console/t/"+slug+"/settings/codes"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="settings-form"]`)),
		shot("18-mobile-settings"),
	)

	for _, s := range b.shots {
		info, err := os.Stat(s)
		if err != nil || info.Size() < 1000 {
			t.Errorf("screenshot %s missing or empty: %v", s, err)
		}
	}
	t.Logf("screenshots in %s", artifacts)
}

// browser is a headless Chromium tab with helpers that screenshot each step.
type browser struct {
	t         *testing.T
	ctx       context.Context
	artifacts string
	shots     []string
}

// startBrowser starts Chromium for one test; it stops with the test.
func startBrowser(t *testing.T, exe, artifacts string) *browser {
	t.Helper()
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
	t.Cleanup(cancelAlloc)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(func(f string, a ...any) { t.Logf("chromedp: "+f, a...) }))
	t.Cleanup(cancelBrowser)
	if err := chromedp.Do(browserCtx); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", exe, err)
	}
	ctx, cancelTimeout := context.WithTimeout(browserCtx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	return &browser{t: t, ctx: ctx, artifacts: artifacts}
}

// shot saves a full-page screenshot as name.png.
func (b *browser) shot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		buf, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		path := filepath.Join(b.artifacts, name+".png")
		b.shots = append(b.shots, path)
		return os.WriteFile(path, buf, 0o644)
	})
}

// run performs one step, failing the test (with a screenshot) if it fails.
func (b *browser) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		_ = chromedp.Do(b.ctx, b.shot("failed-"+strings.ReplaceAll(step, " ", "-")))
		b.t.Fatalf("%s (at %s): %v", step, loc, err)
	}
}

func strconvPort(a net.Addr) string {
	_, port, _ := net.SplitHostPort(a.String())
	return port
}

// invitationLink waits (up to ten seconds) for the server's mail worker to
// deliver the invitation mailed to to into the dev inbox, and returns its
// console link.
func (p *platform) invitationLink(t *testing.T, slug, to string) string {
	t.Helper()
	ctx := context.Background()
	tn, err := p.store.Get(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ms, err := p.inbox.List(ctx, tn.ID, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.To == to && m.Kind == mail.KindConsoleInvitation {
				for _, line := range strings.Split(m.Text, "\n") {
					if strings.Contains(line, "/console/invite/") {
						return strings.TrimSpace(line)
					}
				}
			}
		}
	}
	t.Fatalf("no invitation mail to %s", to)
	return ""
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

// apiPost sends a JSON body to the tenant API, with an app session token
// when one is given, checks the status and returns the decoded answer.
func apiPost(t *testing.T, url, token, body string, want int) map[string]any {
	t.Helper()
	return apiDo(t, "POST", url, token, body, want)
}

func apiDo(t *testing.T, method, url, token, body string, want int) map[string]any {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Session-Token", token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, url, res.StatusCode, want, b)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("%s %s: %v: %s", method, url, err, b)
	}
	return out
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
