package console_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/sessions"
)

// Signing in with a User-Agent Postgres text cannot hold as it is (cut at
// the stored length in the middle of "é", a raw 0xFF byte) is a normal
// sign-in, and what is stored is valid UTF-8. Before the fix each was a 500.
func TestSignInHostileUserAgent(t *testing.T) {
	e := newEnv(t)
	admin := e.user("hostile-ua", true)
	for name, ua := range map[string]string{
		"split rune": strings.Repeat("a", 299) + "é",
		"raw 0xff":   "Agent/1.0 \xff\xfe",
		"long runes": strings.Repeat("é", 1000),
	} {
		b := e.browser()
		page := b.get("/console/login").status(200)
		m := csrfRE.FindStringSubmatch(page.Body)
		res := b.do("POST", "/console/login", url.Values{"email": {admin.Email}, "password": {testPassword}, "_csrf": {m[1]}},
			map[string]string{"User-Agent": ua})
		if res.Code != 303 {
			t.Errorf("%s: sign-in → %d: %s", name, res.Code, excerpt(res.Body))
			continue
		}
		b.get("/console/tenants").status(200)
	}
	rows, err := e.pool.Query(context.Background(), `SELECT user_agent FROM console_sessions WHERE user_id = $1`, admin.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var ua string
		if err := rows.Scan(&ua); err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(ua) || len(ua) > 300 {
			t.Errorf("stored user agent %q", ua)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("%d sessions stored, want 3", n)
	}
}

// A tenant name or a settings document with a NUL (or invalid UTF-8) is
// refused as bad input (422, nothing changed), not a 500 from Postgres.
func TestConsoleFormsRefuseNUL(t *testing.T) {
	e := newEnv(t)
	b := e.session(e.user("forms-nul", true))
	slug := "nul-" + strings.ToLower(strings.ReplaceAll(t.Name(), "Test", ""))[:8]
	b.post("/console/tenants", url.Values{"slug": {slug}, "name": {"Evil\x00Co"}}).status(422)
	b.post("/console/tenants", url.Values{"slug": {slug}, "name": {"Evil\xffCo"}}).status(422)
	tn := e.tenant("forms-nul")
	b.post("/console/t/"+tn.Slug+"/rename", url.Values{"name": {"Re\x00named"}}).status(422)
	if got := e.reload(tn.Slug).Name; strings.Contains(got, "named") {
		t.Fatalf("renamed to %q", got)
	}
	path := "/console/t/" + tn.Slug + "/settings/json"
	for _, doc := range []string{
		`{"SOCIALACCOUNT_PROVIDERS": {"github": {"APP": {"client_id": "gh\u0000", "secret": "s"}}}}`,
		"{\"SOCIALACCOUNT_PROVIDERS\": {\"github\": {\"APP\": {\"client_id\": \"gh\xff\", \"secret\": \"s\"}}}}",
	} {
		for _, action := range []string{"preview", "save"} {
			res := b.post(path, url.Values{"doc": {doc}, "version": {"1"}, "action": {action}})
			if res.Code != 422 {
				t.Errorf("%s %q → %d: %s", action, doc, res.Code, excerpt(res.Body))
			}
		}
	}
	if v := e.reload(tn.Slug).SettingsVersion; v != 1 {
		t.Fatalf("version %d after refused documents", v)
	}
}

// A next path that is not UTF-8 text is not followed (nor stored with a
// pending second-factor sign-in).
func TestSignInNextNotText(t *testing.T) {
	e := newEnv(t)
	admin := e.user("next-text", true)
	for _, next := range []string{"/console/\xff", "/console/a\x00b"} {
		b := e.browser()
		page := b.get("/console/login?next=" + url.QueryEscape(next)).status(200)
		m := csrfRE.FindStringSubmatch(page.Body)
		res := b.do("POST", "/console/login", url.Values{"email": {admin.Email}, "password": {testPassword}, "_csrf": {m[1]}, "next": {next}}, nil)
		if res.Code != 303 || res.Location() != console.Root {
			t.Errorf("next %q: %d to %q", next, res.Code, res.Location())
		}
	}
}

// The dev inbox keeps showing recent mail after the janitor's round, which
// forgets mail older than the sent-mail retention (it holds codes and links
// in clear).
func TestDevInboxAfterRetention(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("inbox-retention")
	b := e.session(e.user("inbox-retention", true))
	u := e.endUser(tn, "inbox-retention", false)
	b.post(fmt.Sprintf("/console/t/%s/users/%d/emails/%d/send-verification", tn.Slug, u.ID, u.EmailID), nil).status(303)
	if ms := e.deliverMail(tn); len(ms) != 1 {
		t.Fatalf("mail delivered: %+v", ms)
	}
	if _, err := e.pool.Exec(context.Background(), `INSERT INTO dev_inbox (tenant_id, id, recipient, subject, text_body, created_at)
		VALUES ($1, $2, 'old@users.example', 'An old code', 'code 111111', now() - interval '8 days')`, tn.ID, uuid.New()); err != nil {
		t.Fatal(err)
	}
	inbox := "/console/t/" + tn.Slug + "/inbox"
	b.get(inbox).status(200).contains(u.Email, "old@users.example")
	if _, err := (&sessions.Janitor{Pool: e.pool}).Round(context.Background()); err != nil {
		t.Fatal(err)
	}
	b.get(inbox).status(200).contains(u.Email).lacks("old@users.example")
}
