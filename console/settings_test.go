package console_test

import (
	"context"
	"html"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/tenants"
)

// Saving a settings form writes only what changed, as a new version, shows
// the diff once on the next page, and is audited with before and after.
func TestSettingsFormSave(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("form-save")
	owner := e.user("form-save", false)
	e.grant(tn, owner, console.RoleAdmin)
	b := e.session(owner)

	page := b.get("/console/t/" + tn.Slug + "/settings/codes").status(200)
	page.contains("ACCOUNT_LOGIN_BY_CODE_ENABLED", "Login by code enabled", "default <code>false</code>", `name="version" value="1"`)

	form := formOf(t, page.Body)
	form["s:ACCOUNT_LOGIN_BY_CODE_ENABLED"] = []string{"false", "true"}
	form.Set("s:ACCOUNT_LOGIN_BY_CODE_TIMEOUT", "240")
	res := b.post("/console/t/"+tn.Slug+"/settings/codes", form).status(303)
	if res.Location() != "/console/t/"+tn.Slug+"/settings/codes" {
		t.Fatalf("went to %q", res.Location())
	}
	after := e.reload(tn.Slug)
	if !after.Settings.LoginByCodeEnabled || after.Settings.LoginByCodeTimeout != 240 || after.SettingsVersion != 2 {
		t.Fatalf("not saved: %+v v%d", after.Overrides, after.SettingsVersion)
	}
	if keys := slices.Sorted(mapsKeys(after.Overrides)); !slices.Equal(keys, []string{"ACCOUNT_LOGIN_BY_CODE_ENABLED", "ACCOUNT_LOGIN_BY_CODE_TIMEOUT"}) {
		t.Fatalf("the form pinned more than it changed: %v", keys)
	}
	shown := b.get(res.Location()).status(200).contains(`data-testid="diff"`, "Saved as settings version 2", "ACCOUNT_LOGIN_BY_CODE_TIMEOUT", "240")
	if !strings.Contains(shown.Body, `<div class="diff-before">180</div>`) {
		t.Errorf("diff lacks the old value:\n%s", excerpt(shown.Body))
	}
	b.get(res.Location()).status(200).lacks(`data-testid="diff"`) // shown once
	if !slices.Contains(e.auditActions(tn.ID), "tenant.settings.update") {
		t.Fatal("not audited")
	}
	b.get("/console/t/"+tn.Slug+"/audit").status(200).contains("tenant.settings.update", owner.Email, "ACCOUNT_LOGIN_BY_CODE_ENABLED")

	// Resetting a key removes the override.
	form = formOf(t, b.get("/console/t/"+tn.Slug+"/settings/codes").Body)
	form.Set("reset:ACCOUNT_LOGIN_BY_CODE_TIMEOUT", "1")
	b.post("/console/t/"+tn.Slug+"/settings/codes", form).status(303)
	if _, set := e.reload(tn.Slug).Overrides["ACCOUNT_LOGIN_BY_CODE_TIMEOUT"]; set {
		t.Fatal("reset kept the override")
	}
}

// Invalid values are refused with the key named next to its field, the
// submitted values kept, and nothing written.
func TestSettingsFormInvalid(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("form-invalid")
	b := e.session(e.user("form-invalid", true))
	path := "/console/t/" + tn.Slug + "/settings/accounts"
	form := formOf(t, b.get(path).Body)
	form.Set("s:ACCOUNT_PASSWORD_MIN_LENGTH", "0")
	form.Set("s:ACCOUNT_USERNAME_MIN_LENGTH", "three")
	res := b.post(path, form).status(422)
	res.contains(`data-testid="error-ACCOUNT_USERNAME_MIN_LENGTH"`, "ACCOUNT_USERNAME_MIN_LENGTH: must be a whole number", `value="three"`)

	form.Set("s:ACCOUNT_USERNAME_MIN_LENGTH", "1")
	res = b.post(path, form).status(422)
	res.contains(`data-testid="error-ACCOUNT_PASSWORD_MIN_LENGTH"`, "ACCOUNT_PASSWORD_MIN_LENGTH: must be at least 8", "Nothing was saved")
	if v := e.reload(tn.Slug).SettingsVersion; v != 1 {
		t.Fatalf("version %d after refused saves", v)
	}

	// A JSON field with malformed JSON.
	path = "/console/t/" + tn.Slug + "/settings/headless"
	form = formOf(t, b.get(path).Body)
	form.Set("s:HEADLESS_FRONTEND_URLS", `{"account_signup": `)
	b.post(path, form).status(422).contains("HEADLESS_FRONTEND_URLS: is not valid JSON")
	if v := e.reload(tn.Slug).SettingsVersion; v != 1 {
		t.Fatalf("version %d after refused saves", v)
	}
}

// A form opened before someone else's save is refused (409) rather than
// silently overwriting their change; so is a replay of an old form.
func TestSettingsFormStale(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("form-stale")
	b := e.session(e.user("form-stale", true))
	path := "/console/t/" + tn.Slug + "/settings/codes"
	form := formOf(t, b.get(path).Body)
	if _, err := e.store.UpdateSettings(context.Background(), tn.Slug, []byte(`{"ACCOUNT_LOGIN_BY_CODE_TIMEOUT": 60}`), "someone"); err != nil {
		t.Fatal(err)
	}
	form["s:ACCOUNT_LOGIN_BY_CODE_ENABLED"] = []string{"false", "true"}
	b.post(path, form).status(409).contains("changed by someone else", "now version 2")
	if e.reload(tn.Slug).Settings.LoginByCodeEnabled {
		t.Fatal("a stale form was saved")
	}
}

// Every group renders every one of its settings, and secrets are never
// shown.
func TestSettingsGroupsRender(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("groups")
	const pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIOp0"
	if _, err := e.store.UpdateSettings(context.Background(), tn.Slug, []byte(`{"SOCIALACCOUNT_PROVIDERS": {"github": {"APP": {"client_id": "gh-1", "secret": "gh-very-secret"}}}}`), "test"); err != nil {
		t.Fatal(err)
	}
	b := e.session(e.user("groups", true))
	seen := map[string]bool{}
	for _, g := range []string{"headless", "accounts", "email", "codes", "mfa", "social", "rate-limits", "sessions", "user-data", "branding"} {
		body := b.get("/console/t/"+tn.Slug+"/settings/"+g).status(200).lacks("gh-very-secret", pem).Body
		for _, k := range tenants.SettingKeys() {
			if strings.Contains(body, `id="setting-`+k+`"`) {
				if seen[k] {
					t.Errorf("%s is in two groups", k)
				}
				seen[k] = true
			}
		}
	}
	doc := tenants.DefaultSettings().Document()
	for k := range doc {
		if !seen[k] && !strings.Contains(b.get("/console/t/"+tn.Slug+"/settings/other").Body, `id="setting-`+k+`"`) {
			t.Errorf("setting %s has no field", k)
		}
	}
	b.get("/console/t/"+tn.Slug+"/settings/json").status(200).lacks("gh-very-secret").contains("&lt;redacted&gt;", "gh-1")
}

// A pasted document with an unknown key, or an invalid value, is refused
// with the key named; nothing changes.
func TestSettingsJSONRefused(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("json-bad")
	b := e.session(e.user("json-bad", true))
	path := "/console/t/" + tn.Slug + "/settings/json"
	for doc, want := range map[string]string{
		`{"ACCOUNT_LOGIN_BY_KODE_ENABLED": true}`:                    "ACCOUNT_LOGIN_BY_KODE_ENABLED",
		`{"ACCOUNT_EMAIL_VERIFICATION": "sometimes"}`:                "ACCOUNT_EMAIL_VERIFICATION",
		`{"HEADLESS_CLIENTS": []}`:                                   "HEADLESS_CLIENTS",
		`{"ACCOUNT_LOGIN_METHODS": ["email"]`:                        "not valid JSON",
		`{"ACCOUNT_LOGIN_METHODS": [], "ACCOUNT_LOGIN_METHODS": []}`: "duplicate key",
		`[1, 2]`: "must be a JSON object",
	} {
		for _, action := range []string{"preview", "save"} {
			res := b.post(path, url.Values{"doc": {doc}, "version": {"1"}, "action": {action}}).status(422)
			res.contains(`data-testid="json-errors"`, want, "nothing was changed")
		}
	}
	if v := e.reload(tn.Slug).SettingsVersion; v != 1 {
		t.Fatalf("version %d after refused documents", v)
	}
}

// A valid document is previewed as a diff, then saved; secrets left as
// <redacted> keep their values; a replayed or stale save is refused.
func TestSettingsJSONPreviewAndSave(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("json-ok")
	if _, err := e.store.UpdateSettings(context.Background(), tn.Slug, []byte(`{"SOCIALACCOUNT_PROVIDERS": {"github": {"APP": {"client_id": "gh-1", "secret": "gh-secret"}}}}`), "test"); err != nil {
		t.Fatal(err)
	}
	b := e.session(e.user("json-ok", true))
	path := "/console/t/" + tn.Slug + "/settings/json"
	doc := `{"ACCOUNT_LOGIN_METHODS": ["email"], "ACCOUNT_SIGNUP_FIELDS": ["email*", "password1*"],
		"SOCIALACCOUNT_PROVIDERS": {"github": {"APP": {"client_id": "gh-1", "secret": "<redacted>"}}}}`
	prev := b.post(path, url.Values{"doc": {doc}, "version": {"2"}, "action": {"preview"}}).status(200)
	prev.contains(`data-testid="preview"`, "ACCOUNT_LOGIN_METHODS", "Save as version 3").lacks("gh-secret")
	if v := e.reload(tn.Slug).SettingsVersion; v != 2 {
		t.Fatal("preview saved")
	}
	save := url.Values{"doc": {doc}, "version": {"2"}, "action": {"save"}}
	b.post(path, save).status(303)
	after := e.reload(tn.Slug)
	if after.SettingsVersion != 3 || !slices.Equal(after.Settings.LoginMethods, []string{"email"}) {
		t.Fatalf("not saved: v%d %v", after.SettingsVersion, after.Settings.LoginMethods)
	}
	if got := after.Settings.SocialAccountProviders["github"].Apps[0].Secret; got != "gh-secret" {
		t.Fatalf("secret became %q", got)
	}
	b.get(path).status(200).contains("Settings document saved as version 3", `data-testid="diff"`)
	// The same post again: its version is stale.
	b.post(path, save).status(409).contains("changed by someone else")
	if v := e.reload(tn.Slug).SettingsVersion; v != 3 {
		t.Fatalf("replay saved: v%d", v)
	}
}

// A viewer sees settings read-only, and posting anyway is refused.
func TestSettingsViewerReadOnly(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("viewer")
	viewer := e.user("viewer", false)
	e.grant(tn, viewer, console.RoleViewer)
	b := e.session(viewer)
	page := b.get("/console/t/"+tn.Slug+"/settings/codes").status(200).contains("view-only access", "<fieldset disabled").lacks(`data-testid="save-settings"`)
	form := formOf(t, page.Body)
	form["s:ACCOUNT_LOGIN_BY_CODE_ENABLED"] = []string{"false", "true"}
	b.post("/console/t/"+tn.Slug+"/settings/codes", form).status(403).contains("viewer")
	b.get("/console/t/"+tn.Slug).status(200).lacks(`action="/console/t/`+tn.Slug+`/delete"`, `action="/console/t/`+tn.Slug+`/rename"`)
	if e.reload(tn.Slug).SettingsVersion != 1 {
		t.Fatal("viewer changed settings")
	}
}

// formOf reads the settings form's fields from a page, as a browser would
// submit it untouched.
func formOf(t *testing.T, body string) url.Values {
	t.Helper()
	start := strings.Index(body, `data-testid="settings-form"`)
	if start < 0 {
		t.Fatalf("no settings form:\n%s", excerpt(body))
	}
	form := url.Values{}
	for _, m := range inputRE.FindAllStringSubmatch(body[start:], -1) {
		tag := m[0]
		name := htmlUnescape(attr(tag, "name"))
		if name == "" {
			continue
		}
		typ := attr(tag, "type")
		if (typ == "checkbox") && !strings.Contains(tag, " checked") {
			continue
		}
		form.Add(name, htmlUnescape(attr(tag, "value")))
	}
	for _, m := range textareaRE.FindAllStringSubmatch(body[start:], -1) {
		form.Add(htmlUnescape(m[1]), htmlUnescape(m[2]))
	}
	for _, m := range selectRE.FindAllStringSubmatch(body[start:], -1) {
		if sel := selectedRE.FindStringSubmatch(m[2]); sel != nil {
			form.Add(htmlUnescape(m[1]), htmlUnescape(sel[1]))
		}
	}
	return form
}

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

var (
	inputRE    = regexp.MustCompile(`<input[^>]*>`)
	textareaRE = regexp.MustCompile(`(?s)<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>`)
	selectRE   = regexp.MustCompile(`(?s)<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>`)
	selectedRE = regexp.MustCompile(`<option value="([^"]*)" selected`)
)

// attr returns the value of an attribute of one HTML tag.
func attr(tag, name string) string {
	m := regexp.MustCompile(`\s` + name + `="([^"]*)"`).FindStringSubmatch(tag)
	if m == nil {
		return ""
	}
	return m[1]
}

func htmlUnescape(s string) string { return html.UnescapeString(s) }
