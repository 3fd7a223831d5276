package console_test

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// inviteLink sends the invitation mail through the outbox and returns the
// link it carries for to.
func (e *env) inviteLink(tn *tenants.Tenant, to string) string {
	e.t.Helper()
	for _, m := range e.deliverMail(tn) {
		if m.To == to && m.Kind == mail.KindConsoleInvitation {
			return regexpFind(e.t, m.Text, `(http://console\.test/console/invite/[A-Za-z0-9_-]{43})`)
		}
	}
	e.t.Fatalf("no invitation mail to %s", to)
	return ""
}

// An owner invites a new address; the mail's link lets the invitee set a
// password, which creates their console account with the role and signs
// them in. The link then stops working. Everything is audited.
func TestInviteNewUser(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("invite")
	owner := e.user("invite-owner", false)
	e.grant(tn, owner, console.RoleOwner)
	b := e.session(owner)
	members := "/console/t/" + tn.Slug + "/members"

	b.get(members).status(200).contains(`data-testid="send-invitation"`, owner.Email+` <span class="muted small">(you)`)
	invitee := testenv.Slug("Invitee") + "@Example.com"
	res := b.post(members+"/invite", url.Values{"email": {invitee}, "role": {"admin"}}).status(303)
	if res.Location() != members {
		t.Fatalf("went to %q", res.Location())
	}
	b.get(members).status(200).contains("Invitation sent to "+invitee+" as admin", `data-testid="invitations-table"`, invitee, owner.Email)
	link := e.inviteLink(tn, invitee)
	path := strings.TrimPrefix(link, "http://console.test")
	// The dev inbox shows the link to owners only: it grants its role to
	// whoever follows it.
	b.get("/console/t/" + tn.Slug + "/inbox").status(200).contains(path)
	viewer := e.user("invite-viewer", false)
	e.grant(tn, viewer, console.RoleViewer)
	e.session(viewer).get("/console/t/"+tn.Slug+"/inbox").status(200).lacks(path, "Invited")

	var stored []byte
	if err := e.pool.QueryRow(context.Background(), `SELECT token_hash FROM console_invitations WHERE tenant_id = $1`, tn.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), path[len("/console/invite/"):]) {
		t.Fatal("the token is stored in clear")
	}

	anon := e.browser()
	anon.get(path).status(200).contains("Join "+tn.Name, invitee, "admin", owner.Email, `name="password2"`)
	// The form's token guards the post.
	anon.do("POST", path, url.Values{"password": {"long enough passphrase"}, "password2": {"long enough passphrase"}, "_csrf": {"forged"}}, nil).
		status(403).contains("form expired")
	csrf := regexpFind(t, anon.get(path).Body, `name="_csrf" value="([^"]+)"`)
	anon.do("POST", path, url.Values{"password": {"short"}, "password2": {"short"}, "_csrf": {csrf}}, nil).
		status(422).contains(`data-testid="password-error"`, "too short")
	anon.do("POST", path, url.Values{"password": {"long enough passphrase"}, "password2": {"long enough passphrase!"}, "_csrf": {csrf}}, nil).
		status(422).contains(`data-testid="password2-error"`)
	res = anon.do("POST", path, url.Values{"password": {"long enough passphrase"}, "password2": {"long enough passphrase"}, "_csrf": {csrf}}, nil).status(303)
	if res.Location() != "/console/t/"+tn.Slug {
		t.Fatalf("went to %q", res.Location())
	}
	anon.get(res.Location()).status(200).contains("Welcome!", "joined "+tn.Name+" as admin")
	anon.get("/console/t/" + tn.Slug + "/settings/codes").status(200).contains(`data-testid="save-settings"`)

	// The new account signs in with the password it chose.
	fresh := e.browser()
	fresh.signIn(invitee, "long enough passphrase").status(303)
	fresh.get("/console/tenants").status(200).contains(tn.Slug, "admin")

	// Used up.
	e.browser().get(path).status(404).contains("Invitation not valid")
	b.get(members).status(200).lacks(`data-testid="invitations-table"`).contains(invitee, "admin")
	actions := e.auditActions(tn.ID)
	for _, want := range []string{"console.invitation.create", "console.invitation.accept"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit lacks %s: %v", want, actions)
		}
	}
}

// A signed-in console user accepts with their account; an address that
// has an account must sign in first; accepting never demotes.
func TestInviteExistingUser(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("invite-existing")
	owner, existing := e.user("ie-owner", false), e.user("ie-existing", false)
	e.grant(tn, owner, console.RoleOwner)
	b := e.session(owner)
	members := "/console/t/" + tn.Slug + "/members"

	b.post(members+"/invite", url.Values{"email": {existing.Email}, "role": {"viewer"}}).status(303)
	path := strings.TrimPrefix(e.inviteLink(tn, existing.Email), "http://console.test")

	anon := e.browser()
	anon.get(path).status(200).contains(`data-testid="sign-in-to-accept"`).lacks(`name="password2"`)
	// The page set the sign-in form's token cookie; a password post is refused.
	csrf := anon.cookies["hp_console_login"]
	anon.do("POST", path, url.Values{"password": {"long enough passphrase"}, "password2": {"long enough passphrase"}, "_csrf": {csrf}}, nil).
		status(409).contains("sign in to accept")

	// Sign-in comes back to the invitation.
	page := anon.get("/console/login?next=" + url.QueryEscape(path)).status(200)
	token := regexpFind(t, page.Body, `name="_csrf" value="([^"]+)"`)
	res := anon.do("POST", "/console/login", url.Values{"email": {existing.Email}, "password": {testPassword}, "_csrf": {token}, "next": {path}}, nil).status(303)
	if res.Location() != path {
		t.Fatalf("sign-in went to %q", res.Location())
	}
	anon.get(path).status(200).contains("Accept as " + existing.Email).lacks("not to the account")
	anon.post(path, url.Values{"_csrf": {"forged"}}).status(403)
	anon.post(path, nil).status(303)
	if role, _ := e.con.Users().Role(context.Background(), tn.ID, existing.ID); role != console.RoleViewer {
		t.Fatalf("role %q", role)
	}

	// Another owner invited as viewer stays owner.
	second := e.user("ie-second", false)
	e.grant(tn, second, console.RoleOwner)
	b.post(members+"/invite", url.Values{"email": {second.Email}, "role": {"viewer"}}).status(422).contains("already holds a role")
	other := e.tenant("invite-other")
	e.grant(other, owner, console.RoleOwner)
	b.post("/console/t/"+other.Slug+"/members/invite", url.Values{"email": {"someone@example.com"}, "role": {"viewer"}}).status(303)
	path = strings.TrimPrefix(e.inviteLink(other, "someone@example.com"), "http://console.test")
	sb := e.session(second)
	sb.get(path).status(200).contains("not to the account you are signed in with")
	e.grant(other, second, console.RoleOwner)
	sb.post(path, nil).status(303)
	if role, _ := e.con.Users().Role(context.Background(), other.ID, second.ID); role != console.RoleOwner {
		t.Fatalf("accepting demoted an owner to %q", role)
	}
}

// Invitation mistakes are inline errors; a new invitation of an address
// replaces its pending one; revoked and expired links stop working.
func TestInvitationRules(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("invite-rules")
	owner := e.user("ir-owner", false)
	e.grant(tn, owner, console.RoleOwner)
	b := e.session(owner)
	members := "/console/t/" + tn.Slug + "/members"

	b.post(members+"/invite", url.Values{"email": {"not an address"}, "role": {"viewer"}}).status(422).contains(`data-testid="invite-error"`, "one email address")
	b.post(members+"/invite", url.Values{"email": {"ok@example.com"}, "role": {"superuser"}}).status(422).contains("Choose a role")
	b.post(members+"/invite", url.Values{"email": {owner.Email}, "role": {"viewer"}}).status(422).contains("already holds a role")

	b.post(members+"/invite", url.Values{"email": {"twice@example.com"}, "role": {"viewer"}}).status(303)
	firstLink := strings.TrimPrefix(e.inviteLink(tn, "twice@example.com"), "http://console.test")
	b.post(members+"/invite", url.Values{"email": {"TWICE@example.com"}, "role": {"admin"}}).status(303)
	secondLink := strings.TrimPrefix(e.inviteLink(tn, "TWICE@example.com"), "http://console.test")
	e.browser().get(firstLink).status(404)
	e.browser().get(secondLink).status(200).contains("admin")
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM console_invitations WHERE tenant_id = $1`, tn.ID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("%d invitations, %v", n, err)
	}

	invs, err := e.con.Users().Invitations(context.Background(), tn.ID)
	if err != nil || len(invs) != 1 {
		t.Fatalf("invitations %v, %v", invs, err)
	}
	b.post("/console/t/"+tn.Slug+"/invitations/"+invs[0].ID.String()+"/revoke", nil).status(303)
	e.browser().get(secondLink).status(404)
	b.post("/console/t/"+tn.Slug+"/invitations/"+invs[0].ID.String()+"/revoke", nil).status(404)

	b.post(members+"/invite", url.Values{"email": {"late@example.com"}, "role": {"viewer"}}).status(303)
	late := strings.TrimPrefix(e.inviteLink(tn, "late@example.com"), "http://console.test")
	e.clock.Advance(7*24*time.Hour + time.Minute)
	e.browser().get(late).status(404).contains("expired")
	b = e.session(owner) // the old session has idled out
	b.get(members).status(200).contains("late@example.com", "expired")
	if !slices.Contains(e.auditActions(tn.ID), "console.invitation.revoke") {
		t.Error("revoke not audited")
	}
}

// Owners change roles and remove members; the last owner can neither be
// demoted nor removed, and an owner who leaves goes back to the tenant list.
func TestMemberRoles(t *testing.T) {
	e := newEnv(t)
	tn := e.tenant("roles")
	owner, member := e.user("roles-owner", false), e.user("roles-member", false)
	e.grant(tn, owner, console.RoleOwner)
	e.grant(tn, member, console.RoleViewer)
	b := e.session(owner)
	members := "/console/t/" + tn.Slug + "/members"
	role := func(u *console.User) console.Role {
		r, err := e.con.Users().Role(context.Background(), tn.ID, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	b.post(members+"/"+member.ID.String()+"/role", url.Values{"role": {"admin"}}).status(303)
	b.get(members).status(200).contains(member.Email + " is now admin")
	if role(member) != console.RoleAdmin {
		t.Fatal("role unchanged")
	}
	b.post(members+"/"+member.ID.String()+"/role", url.Values{"role": {"root"}}).status(422).contains("choose owner, admin or viewer")
	b.post(members+"/"+owner.ID.String()+"/role", url.Values{"role": {"viewer"}}).status(422).contains(`data-testid="member-problem"`, "at least one owner")
	b.post(members+"/"+owner.ID.String()+"/remove", nil).status(422).contains("at least one owner")
	if role(owner) != console.RoleOwner {
		t.Fatal("the last owner changed")
	}
	outsider := e.user("roles-outsider", false)
	b.post(members+"/"+outsider.ID.String()+"/remove", nil).status(404)
	b.post(members+"/not-a-uuid/remove", nil).status(404)

	// With a second owner, the first may leave.
	b.post(members+"/"+member.ID.String()+"/role", url.Values{"role": {"owner"}}).status(303)
	res := b.post(members+"/"+owner.ID.String()+"/remove", nil).status(303)
	if res.Location() != "/console/tenants" {
		t.Fatalf("leaving went to %q", res.Location())
	}
	b.get("/console/tenants").status(200).contains("You left")
	b.get(members).status(404)

	mb := e.session(member)
	mb.post(members+"/"+member.ID.String()+"/remove", nil).status(422)
	actions := e.auditActions(tn.ID)
	for _, want := range []string{"console.member.role", "console.member.remove"} {
		if !slices.Contains(actions, want) {
			t.Errorf("audit lacks %s: %v", want, actions)
		}
	}
}
