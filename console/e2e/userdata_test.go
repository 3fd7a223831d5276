package e2e

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// A platform admin edits a user's profile in the user page's JSON editor
// (a broken document is stopped in the page, with a message beside the
// editor, and nothing is sent), then writes a serializer expression in the
// User data settings and watches the live preview's user object follow the
// draft for a user picked in its search box; a broken expression shows the
// refusal (setting, key, position) instead. Nothing is saved by the
// preview. Each step leaves a screenshot.
func TestConsoleUserData(t *testing.T) {
	p := startPlatform(t, "127.0.0.1")
	artifacts := artifactsDir(t)
	ctx := context.Background()
	pool := testenv.Pool(t)

	email := testenv.Slug("e2e-data-admin") + "@example.com"
	const password = "e2e correct horse battery"
	hash, err := passwords.DefaultHasher().Hash(password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := console.NewUsers(pool).CreatePlatformAdmin(ctx, email, hash, "e2e"); err != nil {
		t.Fatal(err)
	}
	slug := testenv.Slug("e2e-data")
	if _, err := p.store.Create(ctx, tenants.CreateInput{Slug: slug, Name: "User Data Inc."}, "e2e"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.store.UpdateSettings(ctx, slug, []byte(`{"HALLPASS_USER_FIELDS": [
		{"name": "first_name", "type": "string", "max_length": 30, "user_editable": true},
		{"name": "last_name", "type": "string", "max_length": 30, "user_editable": true}]}`), "e2e"); err != nil {
		t.Fatal(err)
	}
	tn, err := p.store.Get(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	const userPassword = "tame-otter-sings-41"
	ada := "ada-" + slug + "@example.com"
	apiPost(t, p.URL+"/t/"+slug+"/_allauth/app/v1/auth/signup", "", `{"email":"`+ada+`","username":"ada","password":"`+userPassword+`"}`, 200)
	apiPost(t, p.URL+"/t/"+slug+"/_allauth/app/v1/auth/signup", "", `{"email":"grace-`+slug+`@example.com","username":"grace","password":"`+userPassword+`"}`, 200)
	var adaID int64
	if err := pool.QueryRow(ctx, `SELECT user_id FROM email_addresses WHERE tenant_id = $1 AND email = $2`, tn.ID, ada).Scan(&adaID); err != nil {
		t.Fatal(err)
	}
	profile := func() string {
		var s string
		if err := pool.QueryRow(ctx, `SELECT profile::text FROM users WHERE tenant_id = $1 AND id = $2`, tn.ID, adaID).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}

	b := startBrowser(t, testenv.Chromium(t), artifacts)
	run, shot := b.run, b.shot
	userPage := p.URL + "/console/t/" + slug + "/users/" + itoa(adaID)
	var clientError, flash string
	run("sign in and open the user",
		chromedp.Navigate(p.URL+"/console/"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-tenant"]`)),
		chromedp.Navigate(userPage),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="data-profile"]`)),
		shot("data-01-user"),
	)
	run("a broken profile is stopped in the page",
		clearField(`[data-testid="data-profile"]`),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="data-profile"]`), `{"first_name": "Ada",`),
		chromedp.Click(chromedp.CSS(`[data-testid="save-profile"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="data-error-profile"]`)),
		textInto(chromedp.CSS(`[data-testid="data-error-profile"]`), &clientError),
		shot("data-02-profile-refused"),
	)
	if !strings.Contains(clientError, "profile: not valid JSON") || !strings.Contains(clientError, "Nothing was sent") {
		t.Fatalf("editor message %q", clientError)
	}
	if got := profile(); got != "{}" {
		t.Fatalf("a broken profile reached the server: %s", got)
	}
	run("save the profile",
		clearField(`[data-testid="data-profile"]`),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="data-profile"]`), `{"first_name": "Ada", "last_name": "Lovelace"}`),
		chromedp.Poll[chromedp.Void](`!document.querySelector('[data-testid="data-profile"]').hasAttribute("aria-invalid")`, chromedp.WithPollingTimeout(5*time.Second)),
		chromedp.Click(chromedp.CSS(`[data-testid="save-profile"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
		textInto(chromedp.CSS(`[data-testid="flash"]`), &flash),
		shot("data-03-profile-saved"),
	)
	if !strings.Contains(flash, "Saved profile of "+ada) {
		t.Fatalf("flash %q", flash)
	}
	if got := profile(); got != `{"last_name": "Lovelace", "first_name": "Ada"}` && got != `{"first_name": "Ada", "last_name": "Lovelace"}` {
		t.Fatalf("stored profile %s", got)
	}

	// The preview starts with the newest user (grace, no profile: the key
	// fails for her and is reported), then follows the user picked.
	const serializer = `{"full_name": "user.profile.first_name + ' ' + user.profile.last_name"}`
	textOf := func(testid string) string {
		return `document.querySelector('[data-testid="` + testid + `"]').textContent`
	}
	poll := func(js string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(10*time.Second))
	}
	var object, token, chosen, refusal string
	run("preview a serializer",
		chromedp.Navigate(p.URL+"/console/t/"+slug+"/settings/user-data"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-preview"]`)),
		poll(textOf("preview-object")+`.includes('"username": "grace"')`),
		clearField(`#s-HALLPASS_USER_SERIALIZER`),
		chromedp.SendKeys(chromedp.CSS(`#s-HALLPASS_USER_SERIALIZER`), serializer),
		poll(textOf("preview-failed")+`.includes('"full_name"')`),
		chromedp.SendKeys(chromedp.CSS(`[data-testid="preview-search"]`), "ada-"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="preview-user"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="preview-user"]`)),
		poll(textOf("preview-object")+`.includes('"full_name": "Ada Lovelace"')`),
		clearField(`#s-HALLPASS_JWT_CLAIMS`),
		chromedp.SendKeys(chromedp.CSS(`#s-HALLPASS_JWT_CLAIMS`), `{"name": "user.profile.first_name"}`),
		poll(textOf("preview-token")+`.includes('"name": "Ada"')`),
		textInto(chromedp.CSS(`[data-testid="preview-object"]`), &object),
		textInto(chromedp.CSS(`[data-testid="preview-token"]`), &token),
		textInto(chromedp.CSS(`[data-testid="preview-chosen"]`), &chosen),
		shot("data-04-preview"),
	)
	if !strings.Contains(chosen, ada) || !strings.Contains(object, `"id": `+itoa(adaID)) || !strings.Contains(token, `"sub": "`+itoa(adaID)+`"`) ||
		!strings.Contains(token, `"token_use": "access"`) {
		t.Fatalf("preview for %q:\n%s\n%s", chosen, object, token)
	}
	run("a broken expression shows the refusal",
		chromedp.SendKeys(chromedp.CSS(`#s-HALLPASS_USER_SERIALIZER`), "\b\b +\"}"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="preview-errors"]`)),
		poll(textOf("preview-errors")+`.includes("line 1, column")`),
		textInto(chromedp.CSS(`[data-testid="preview-errors"]`), &refusal),
		shot("data-05-preview-refused"),
	)
	if !strings.Contains(refusal, `HALLPASS_USER_SERIALIZER: "full_name": line 1, column`) {
		t.Fatalf("refusal %q", refusal)
	}
	after, err := p.store.Get(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	if after.SettingsVersion != tn.SettingsVersion || !after.Settings.UserSerializer.Empty() {
		t.Fatalf("the preview saved settings: version %d, serializer %v", after.SettingsVersion, after.Settings.UserSerializer.Source())
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// clearField empties an input or textarea (as selecting all and deleting
// would; the typing that follows fires the input events).
func clearField(css string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(el => { el.value = ""; return true })(document.querySelector(`+strconv.Quote(css)+`))`)(ctx, tg)
		return err
	})
}
