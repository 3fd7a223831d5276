package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/assembly"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// platform is the whole server, assembled as `hallpass serve` assembles it
// (but for a cheaper password hash), on a real loopback listener reached
// as localhost (WebAuthn needs a domain name); mail stays in the dev
// inbox, as serve keeps it without HALLPASS_SMTP_URL.
type platform struct {
	// URL is the public URL, "http://localhost:PORT".
	URL   string
	store *tenants.Store
	inbox *mail.DevInbox
}

func startPlatform(t *testing.T) *platform {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	publicURL := "http://localhost:" + port
	srv, err := assembly.Build(context.Background(), assembly.Config{PublicURL: publicURL, BaseDomain: "localhost", PasswordHasher: &cheapHasher},
		assembly.Deps{Pool: testenv.Pool(t), Redis: testenv.Redis(t), Sealer: testenv.Sealer(t), Log: slog.New(slog.DiscardHandler)})
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
	return &platform{URL: publicURL, store: srv.Store, inbox: srv.Inbox}
}

// cheapHasher is an argon2id of 64 KiB and one pass (api/apitest's): the
// flow hashes a password five times, each a second or more under -race
// with the default cost.
var cheapHasher = passwords.Hasher{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

var accountLink = regexp.MustCompile(`https?://[^\s"<>]+/accounts/[^\s"<>]+`)

// mailedLink waits (up to ten seconds) for the mail worker to deliver a
// mail of kind to `to` into the dev inbox, and returns its link to the
// pages.
func (p *platform) mailedLink(t *testing.T, tenantID uuid.UUID, to, kind string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ms, err := p.inbox.List(context.Background(), tenantID, 50)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.To == to && m.Kind == kind {
				link := accountLink.FindString(m.Text)
				if link == "" {
					t.Fatalf("no link to the pages in the %s mail:\n%s", kind, m.Text)
				}
				return link
			}
		}
	}
	t.Fatalf("no %s mail to %s", kind, to)
	return ""
}

// artifactsDir is where the screenshots go: pages/ under the artifacts
// directory (testenv.Artifacts); screenshots of an earlier run are removed
// first.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := testenv.Artifacts(t, "pages")
	old, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	for _, f := range old {
		_ = os.Remove(f)
	}
	return dir
}

// browser is a headless Chromium tab that screenshots each step and
// records every request the page makes, every response's CSP header and
// every console message.
type browser struct {
	t         *testing.T
	ctx       context.Context
	artifacts string
	shots     []string

	mu        sync.Mutex
	requests  []string // URLs of every request, in order
	documents []document
	console   []string // console and browser-log messages
}

// document is a page (main frame or not) the browser received.
type document struct {
	url, csp string
	status   int64
}

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
	if err := chromedp.Do(browserCtx); err != nil { // starts the browser and the tab
		t.Fatalf("starting %s: %v", exe, err)
	}
	ctx, cancelTimeout := context.WithTimeout(browserCtx, 3*time.Minute)
	t.Cleanup(cancelTimeout)
	b := &browser{t: t, ctx: ctx, artifacts: artifacts}
	// chromedp enables the Network, Log and Runtime domains on the tab.
	if err := chromedp.Listen(ctx, b.event); err != nil {
		t.Fatal(err)
	}
	return b
}

// event records one CDP event; it runs in the tab's read loop, so it only
// appends under the lock.
func (b *browser) event(ev any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		if e.Request != nil {
			b.requests = append(b.requests, e.Request.URL)
		}
	case *network.EventResponseReceived:
		if e.Response != nil && e.Type == network.ResourceTypeDocument {
			csp := ""
			for k, v := range e.Response.Headers {
				if strings.EqualFold(k, "Content-Security-Policy") {
					csp = fmt.Sprint(v)
				}
			}
			b.documents = append(b.documents, document{url: e.Response.URL, csp: csp, status: e.Response.Status})
		}
	case *log.EventEntryAdded:
		if e.Entry != nil {
			b.console = append(b.console, string(e.Entry.Source)+"/"+string(e.Entry.Level)+": "+e.Entry.Text)
		}
	case *runtime.EventConsoleAPICalled:
		var parts []string
		for _, a := range e.Args {
			if a != nil {
				parts = append(parts, strings.Trim(string(a.Value), `"`)+a.Description)
			}
		}
		b.console = append(b.console, "console."+string(e.Type)+": "+strings.Join(parts, " "))
	case *runtime.EventExceptionThrown:
		if e.ExceptionDetails != nil {
			b.console = append(b.console, "exception: "+e.ExceptionDetails.Text)
		}
	}
}

// recorded returns copies of what the listener recorded so far.
func (b *browser) recorded() (requests []string, documents []document, console []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requests...), append([]document(nil), b.documents...), append([]string(nil), b.console...)
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

// stepTimeout bounds one step: a missing page fails in seconds, not at
// the test's deadline.
const stepTimeout = 30 * time.Second

// run performs one step, failing the test (with a screenshot and the
// page's text) if it fails.
func (b *browser) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	start := time.Now()
	defer func() { b.t.Logf("step %q: %s", step, time.Since(start).Round(time.Millisecond)) }()
	if err := chromedp.Do(ctx, actions...); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		text, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		_ = chromedp.Do(b.ctx, b.shot("failed-"+strings.ReplaceAll(step, " ", "-")))
		b.t.Fatalf("%s (at %s): %v\npage text:\n%s", step, loc, err, text)
	}
}

// at waits until the tab has loaded a page whose path ends in suffix
// (after a click that navigates, the old page must not be mistaken for
// the new one).
func at(suffix string) chromedp.Action[chromedp.Void] {
	return waitPath(fmt.Sprintf(`location.pathname.endsWith(%q)`, suffix), "a page at …"+suffix)
}

// leaves waits until the tab has loaded a page whose path no longer ends
// in suffix.
func leaves(suffix string) chromedp.Action[chromedp.Void] {
	return waitPath(fmt.Sprintf(`!location.pathname.endsWith(%q)`, suffix), "leaving …"+suffix)
}

// waitPath evaluates cond (with the document loaded) every 50 ms for up to
// fifteen seconds until it holds; an evaluation cut short by a navigation
// is tried again.
func waitPath(cond, what string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		expr := `document.readyState === "complete" && ` + cond
		deadline := time.Now().Add(15 * time.Second)
		for {
			ok, err := chromedp.Evaluate[bool](expr)(ctx, tg)
			if err == nil && ok {
				return nil
			}
			if ctx.Err() != nil || time.Now().After(deadline) {
				loc, _ := chromedp.Location()(ctx, tg)
				return fmt.Errorf("waiting for %s (at %s): %v", what, loc, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// textInto reads an element's visible text into *dst.
func textInto(sel chromedp.CSS, dst *string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		v, err := chromedp.Text(sel)(ctx, tg)
		*dst = v
		return err
	})
}

// evalInto evaluates expr in the page into *dst.
func evalInto[T any](expr string, dst *T) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		v, err := chromedp.Evaluate[T](expr)(ctx, tg)
		*dst = v
		return err
	})
}

// submitButton is the submit button of the page's main form (the one
// holding the field with the given id, or the first in the card).
func submitButton(fieldID string) chromedp.CSS {
	if fieldID == "" {
		return chromedp.CSS(`main form button[type="submit"]`)
	}
	return chromedp.CSS(`main form:has(#` + fieldID + `) button[type="submit"]`)
}

// sameHost reports whether raw is an http(s) URL on host (host:port).
func sameHost(raw, host string) bool {
	u, err := url.Parse(raw)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host == host
}
