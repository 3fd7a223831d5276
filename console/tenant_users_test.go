package console_test

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/tenants"
)

// The users list pages newest first, searches email and username as
// case-insensitive substrings (LIKE wildcards taken literally), and never
// shows another tenant's users.
func TestUsersListSearchAndPaging(t *testing.T) {
	e := newEnv(t)
	tn, other := e.tenant("ulist"), e.tenant("ulist-other")
	viewer := e.user("ulist-viewer", false)
	e.grant(tn, viewer, console.RoleViewer)
	b := e.session(viewer)
	base := "/console/t/" + tn.Slug + "/users"

	b.get(base).status(200).contains(`data-testid="empty-users"`, "No users yet", "0 users in all")
	var made []endUser
	for i := range 27 {
		made = append(made, e.endUser(tn, fmt.Sprintf("ulist-%02d", i), i%2 == 0))
	}
	special := made[13]
	stranger := e.endUser(other, "ulist-stranger", true)

	first := b.get(base).status(200).contains("27 users in all", made[26].Email, made[2].Email, `data-testid="next-page"`)
	first.lacks(made[1].Email+"<", made[0].Email+"<", stranger.Email)
	next := regexpFind(t, first.Body, `href="(/console/t/[^"]+/users\?before=\d+)" data-testid="next-page"`)
	b.get(strings.ReplaceAll(next, "&amp;", "&")).status(200).contains(made[1].Email, made[0].Email, "← Newest").lacks(made[2].Email+"<", `data-testid="next-page"`)

	// Email substring, upper-cased; username prefix.
	local := strings.TrimSuffix(special.Email, "@users.example")
	b.get(base + "?q=" + url.QueryEscape(strings.ToUpper(local[3:]))).status(200).contains(special.Email).lacks(made[12].Email)
	username := strings.ReplaceAll(local, "-", "_")
	b.get(base + "?q=" + url.QueryEscape(username[:len(username)-3])).status(200).contains(special.Email)
	b.get(base+"?q=%25").status(200).contains(`data-testid="no-user-match"`, "No match")
	b.get(base+"?q=_").status(200).contains(made[26].Email, `data-testid="next-page"`) // usernames hold underscores
	b.get(base + "?q=" + url.QueryEscape(stranger.Email)).status(200).contains("No match")

	// A user id names a user of this tenant only: each tenant numbers its
	// users from 1, so the stranger's id is one of this tenant's users.
	if stranger.ID != made[0].ID {
		t.Fatalf("tenants number users from 1: %d, %d", stranger.ID, made[0].ID)
	}
	b.get(fmt.Sprintf("%s/%d", base, stranger.ID)).status(200).contains(made[0].Email).lacks(stranger.Email)
	b.get(fmt.Sprintf("%s/%d", base, 28)).status(404)
	b.get(base + "/nope").status(404)
	b.get(fmt.Sprintf("%s/%d", base, special.ID)).status(200).contains(special.Email, "unverified")
}

// A user's page shows addresses, sessions and, where the tables exist,
// authenticators and connected accounts; admins disable (ending every
// session, so the API refuses them), enable, end sessions, resend
// verification and delete with typed confirmation, all audited. Viewers
// see no actions.
func TestUserDetailAndActions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tn := e.tenant("udetail")
	admin, viewer := e.user("udetail-admin", false), e.user("udetail-viewer", false)
	e.grant(tn, admin, console.RoleAdmin)
	e.grant(tn, viewer, console.RoleViewer)
	u := e.endUser(tn, "udetail", true)
	var second int64
	if err := e.pool.QueryRow(ctx, `INSERT INTO email_addresses (tenant_id, user_id, email, email_folded) VALUES ($1, $2, 'second@users.example', 'second@users.example') RETURNING id`,
		tn.ID, u.ID).Scan(&second); err != nil {
		t.Fatal(err)
	}
	token := e.loginEndUser(tn, u.ID)
	var hasMFA, hasSocial bool
	if err := e.pool.QueryRow(ctx, `SELECT to_regclass('authenticators') IS NOT NULL, to_regclass('social_accounts') IS NOT NULL`).Scan(&hasMFA, &hasSocial); err != nil {
		t.Fatal(err)
	}
	if hasMFA {
		if _, err := e.pool.Exec(ctx, `INSERT INTO authenticators (tenant_id, user_id, type, data) VALUES ($1, $2, 'totp', 'sealed')`, tn.ID, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	if hasSocial {
		if _, err := e.pool.Exec(ctx, `INSERT INTO social_accounts (tenant_id, user_id, provider, uid) VALUES ($1, $2, 'github', 'gh-4242')`, tn.ID, u.ID); err != nil {
			t.Fatal(err)
		}
	}
	page := fmt.Sprintf("/console/t/%s/users/%d", tn.Slug, u.ID)

	vb := e.session(viewer)
	res := vb.get(page).status(200).contains(u.Email, "second@users.example", "primary", "verified", "unverified",
		"198.51.100.7", "test-agent/1.0", "view-only").lacks(`data-testid="disable-user"`, `data-testid="delete-user"`, `data-testid="send-verification"`, `data-testid="end-sessions"`)
	if hasMFA {
		res.contains("Authenticator app (TOTP)").lacks("sealed")
	}
	if hasSocial {
		res.contains("github", "gh-4242")
	}

	b := e.session(admin)
	b.get(page).status(200).contains(`data-testid="disable-user"`, `data-testid="delete-user"`, `data-testid="send-verification"`, `data-testid="end-sessions"`)

	// Disable: sessions end, and the user stays out.
	res = b.post(page+"/disable", nil).status(303)
	if res.Location() != page {
		t.Fatalf("went to %q", res.Location())
	}
	if e.apiSessionLive(tn, token) {
		t.Fatal("the API session survived disabling")
	}
	if !e.isActive(tn, u.ID, false) {
		t.Fatal("not disabled")
	}
	b.get(page).status(200).contains("is disabled", `data-testid="enable-user"`, `data-testid="no-sessions"`)
	b.post(page+"/disable", nil).status(303)
	b.get(page).status(200).contains("was already disabled")
	b.post(page+"/enable", nil).status(303)
	if !e.isActive(tn, u.ID, true) {
		t.Fatal("not enabled")
	}
	b.get(page).status(200).contains("can sign in again")

	// End sessions.
	token = e.loginEndUser(tn, u.ID)
	e.loginEndUser(tn, u.ID)
	b.post(page+"/end-sessions", nil).status(303)
	b.get(page).status(200).contains("Ended 2 sessions")
	if e.apiSessionLive(tn, token) {
		t.Fatal("session survived")
	}

	// Reset MFA: the authenticators go, and so do the sessions.
	if hasMFA {
		b.get(page).status(200).contains(`data-testid="reset-mfa"`)
		vb.get(page).status(200).lacks(`data-testid="reset-mfa"`)
		token = e.loginEndUser(tn, u.ID)
		b.post(page+"/reset-mfa", nil).status(303)
		b.get(page).status(200).contains("1 authenticator removed and every session ended").lacks(`data-testid="reset-mfa"`)
		var left int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM authenticators WHERE tenant_id = $1 AND user_id = $2`, tn.ID, u.ID).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 0 || e.apiSessionLive(tn, token) {
			t.Fatalf("%d authenticators left, session live %v", left, e.apiSessionLive(tn, token))
		}
	}

	// Resend verification: a link through the outbox, once per cooldown.
	send := fmt.Sprintf("%s/emails/%d/send-verification", page, second)
	b.post(send, nil).status(303)
	b.get(page).status(200).contains("A new verification link is on its way to second@users.example")
	mails := e.deliverMail(tn)
	if len(mails) == 0 || mails[0].To != "second@users.example" || mails[0].Kind != "email_confirmation" || !strings.Contains(mails[0].Text, "http") {
		t.Fatalf("verification mail: %+v", mails)
	}
	b.post(send, nil).status(303)
	b.get(page).status(200).contains("moments ago")
	b.post(fmt.Sprintf("%s/emails/%d/send-verification", page, u.EmailID), nil).status(303)
	b.get(page).status(200).contains("already verified")
	// An address of another user is not found under this user.
	other := e.endUser(tn, "udetail-other", false)
	b.post(fmt.Sprintf("%s/emails/%d/send-verification", page, other.EmailID), nil).status(404)

	// A tenant verifying by code: no button, and a refusal that says why.
	if _, err := e.store.UpdateSettings(ctx, tn.Slug, []byte(`{"ACCOUNT_SIGNUP_FIELDS": ["email*", "password1*"], "ACCOUNT_EMAIL_VERIFICATION": "mandatory", "ACCOUNT_EMAIL_VERIFICATION_BY_CODE_ENABLED": true}`), "test"); err != nil {
		t.Fatal(err)
	}
	b.get(page).status(200).contains("verifies addresses by code").lacks(`data-testid="send-verification"`)
	b.post(send, nil).status(303)
	b.get(page).status(200).contains("No mail was sent", "code")

	// Delete, confirmed by the address.
	b.post(page+"/delete", url.Values{"confirm": {"yes"}}).status(422).contains(`data-testid="delete-error"`, "Nothing was deleted")
	res = b.post(page+"/delete", url.Values{"confirm": {u.Email}}).status(303)
	if res.Location() != "/console/t/"+tn.Slug+"/users" {
		t.Fatalf("went to %q", res.Location())
	}
	b.get(res.Location()).status(200).contains("was deleted").lacks(u.Email + "<")
	b.get(page).status(404)
	var left int
	if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM email_addresses WHERE tenant_id = $1 AND user_id = $2`, tn.ID, u.ID).Scan(&left); err != nil || left != 0 {
		t.Fatalf("addresses left: %d, %v", left, err)
	}
	actions := e.auditActions(tn.ID)
	for _, want := range []string{"user.disable", "user.enable", "user.sessions.end", "user.email.verification_sent", "user.delete"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit lacks %s: %v", want, actions)
		}
	}
	if n := countOf(actions, "user.disable"); n != 1 {
		t.Errorf("a repeated disable was audited again: %d", n)
	}
}

func (e *env) isActive(tn *tenants.Tenant, id int64, want bool) bool {
	e.t.Helper()
	var active bool
	if err := e.pool.QueryRow(context.Background(), `SELECT is_active FROM users WHERE tenant_id = $1 AND id = $2`, tn.ID, id).Scan(&active); err != nil {
		e.t.Fatal(err)
	}
	return active == want
}

func countOf(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

// Without Accounts (a console wired with no Redis) the users pages are
// hidden; without an Outbox, inviting is.
func TestOptionalPages(t *testing.T) {
	e := newEnv(t, func(c *console.Config) { c.Accounts, c.Outbox = nil, nil })
	tn := e.tenant("optional")
	owner := e.user("optional-owner", false)
	e.grant(tn, owner, console.RoleOwner)
	b := e.session(owner)
	b.get("/console/t/" + tn.Slug).status(200).lacks(`href="/console/t/` + tn.Slug + `/users"`).contains(`href="/console/t/` + tn.Slug + `/domains"`)
	b.get("/console/t/" + tn.Slug + "/users").status(404)
	b.get("/console/t/" + tn.Slug + "/users/1").status(404)
	b.get("/console/t/" + tn.Slug + "/members").status(200).lacks(`data-testid="send-invitation"`)
	b.post("/console/t/"+tn.Slug+"/members/invite", url.Values{"email": {"a@example.com"}, "role": {"viewer"}}).status(404)
}

// The search compares as address keys do (issue 16): case-insensitively,
// but STRAßE finds straße and not strasse, Sam finds sam and not ſam; an
// A-label finds its Unicode address.
func TestUsersSearchLookAlikes(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tn := e.tenant("usearch")
	viewer := e.user("usearch-viewer", false)
	e.grant(tn, viewer, console.RoleViewer)
	b := e.session(viewer)
	base := "/console/t/" + tn.Slug + "/users"
	for _, u := range []struct{ username, key, email, emailKey string }{
		{"sam", "sam", "victim@strasse.de", "victim@strasse.de"},
		{"ſam", "ſam", "victim@straße.de", "victim@xn--strae-oqa.de"},
	} {
		var id int64
		if err := e.pool.QueryRow(ctx, `INSERT INTO users (tenant_id, username, username_folded) VALUES ($1, $2, $3) RETURNING id`,
			tn.ID, u.username, u.key).Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := e.pool.Exec(ctx, `INSERT INTO email_addresses (tenant_id, user_id, email, email_folded, is_primary) VALUES ($1, $2, $3, $4, true)`,
			tn.ID, id, u.email, u.emailKey); err != nil {
			t.Fatal(err)
		}
	}
	b.get(base + "?q=" + url.QueryEscape("STRAßE")).status(200).contains("victim@straße.de").lacks("victim@strasse.de")
	b.get(base + "?q=" + url.QueryEscape("Strasse")).status(200).contains("victim@strasse.de").lacks("victim@straße.de")
	b.get(base + "?q=" + url.QueryEscape("XN--STRAE")).status(200).contains("victim@straße.de").lacks("victim@strasse.de")
	b.get(base + "?q=" + url.QueryEscape("ſ")).status(200).contains("victim@straße.de").lacks("victim@strasse.de")
}
