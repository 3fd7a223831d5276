package console_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/internal/webhooks"
	"github.com/hallpass/hallpass/tenants"
)

// fixture is one tenant with a member of each role, a customer of another
// tenant, a platform admin, and a signing key.
type fixture struct {
	t, other *tenants.Tenant
	kid      string
	// user is a tenant user with an unverified address.
	user endUser
	// domain is a pending custom domain of t.
	domain string
	// extra is a viewer of t that owners may change or remove.
	extra *console.User
	// invitation is a pending invitation to t.
	invitation uuid.UUID
	// apiKey is an API key of t; platformKey a platform key.
	apiKey, platformKey uuid.UUID
	// webhook is a webhook endpoint of t.
	webhook uuid.UUID
}

// routeCase says how to call one route, and what success looks like.
type routeCase struct {
	path func(f fixture) string
	form func(f fixture) url.Values // nil for GET
	ok   int
	// okLocation is where a successful 303 goes (a prefix).
	okLocation func(f fixture) string
}

func get(path func(f fixture) string) routeCase { return routeCase{path: path, ok: 200} }

func post(path func(f fixture) string, form func(f fixture) url.Values, loc func(f fixture) string) routeCase {
	return routeCase{path: path, form: form, ok: 303, okLocation: loc}
}

func tpath(rest string) func(f fixture) string {
	return func(f fixture) string {
		p := "/console/t/" + f.t.Slug
		if rest != "" {
			p += "/" + rest
		}
		return p
	}
}

func fixed(p string) func(fixture) string { return func(fixture) string { return p } }

// upath is a path under the fixture user's page.
func upath(rest string) func(f fixture) string {
	return func(f fixture) string {
		p := fmt.Sprintf("/console/t/%s/users/%d", f.t.Slug, f.user.ID)
		if rest != "" {
			p += "/" + rest
		}
		return p
	}
}

// mpath is a path under the fixture's extra member.
func mpath(rest string) func(f fixture) string {
	return func(f fixture) string {
		return "/console/t/" + f.t.Slug + "/members/" + f.extra.ID.String() + "/" + rest
	}
}

func domainForm(f fixture) url.Values { return url.Values{"domain": {f.domain}} }

// routeCases has one entry per console route (Method + " " + Path); the
// test fails when a route is added without one.
var routeCases = map[string]routeCase{
	"GET ":                   {path: fixed("/console/"), ok: 303, okLocation: fixed("/console/tenants")},
	"GET tenants":            get(fixed("/console/tenants")),
	"GET tenants/new":        get(fixed("/console/tenants/new")),
	"GET tenants/check-slug": get(fixed("/console/tenants/check-slug?slug=free-slug")),
	"POST tenants": post(fixed("/console/tenants"), func(fixture) url.Values {
		return url.Values{"slug": {testenv.Slug("made")}, "name": {"Made"}}
	}, fixed("/console/t/")),
	"GET account":          get(fixed("/console/account")),
	"GET account/security": get(fixed("/console/account/security")),
	"POST account/security/reauth": post(fixed("/console/account/security/reauth"), func(fixture) url.Values {
		return url.Values{"password": {testPassword}}
	}, fixed("/console/account/security")),
	// Without a recent password, security changes go back to the Security
	// page (the JSON endpoint of the passkey script answers 403).
	"GET account/security/totp":                 {path: fixed("/console/account/security/totp"), ok: 303, okLocation: fixed("/console/account/security")},
	"POST account/security/totp":                post(fixed("/console/account/security/totp"), none, fixed("/console/account/security")),
	"POST account/security/totp/disable":        post(fixed("/console/account/security/totp/disable"), none, fixed("/console/account/security")),
	"POST account/security/recovery-codes":      post(fixed("/console/account/security/recovery-codes"), none, fixed("/console/account/security")),
	"POST account/security/passkeys/options":    {path: fixed("/console/account/security/passkeys/options"), form: none, ok: 403},
	"POST account/security/passkeys":            post(fixed("/console/account/security/passkeys"), none, fixed("/console/account/security")),
	"POST account/security/passkeys/:id/rename": post(fixed("/console/account/security/passkeys/1/rename"), none, fixed("/console/account/security")),
	"POST account/security/passkeys/:id/remove": post(fixed("/console/account/security/passkeys/1/remove"), none, fixed("/console/account/security")),
	"POST logout":                 post(fixed("/console/logout"), none, fixed("/console/login?signed_out=1")),
	"POST logout-everywhere":      post(fixed("/console/logout-everywhere"), none, fixed("/console/login?signed_out=all")),
	"GET t/:slug":                 get(tpath("")),
	"GET t/:slug/settings":        {path: tpath("settings"), ok: 303, okLocation: tpath("settings/headless")},
	"GET t/:slug/settings/json":   get(tpath("settings/json")),
	"GET t/:slug/settings/:group": get(tpath("settings/codes")),
	"GET t/:slug/quickstart":      get(tpath("quickstart")),
	"GET t/:slug/keys":            get(tpath("keys")),
	"GET t/:slug/members":         get(tpath("members")),
	"GET t/:slug/inbox":           get(tpath("inbox")),
	"GET t/:slug/audit":           get(tpath("audit")),
	"POST t/:slug/rename":         post(tpath("rename"), func(fixture) url.Values { return url.Values{"name": {"Renamed"}} }, tpath("")),
	"POST t/:slug/settings/json": {path: tpath("settings/json"), ok: 200, form: func(f fixture) url.Values {
		return url.Values{"action": {"preview"}, "version": {fmt.Sprint(f.t.SettingsVersion)}, "doc": {`{"ACCOUNT_LOGIN_BY_CODE_ENABLED": true}`}}
	}},
	"POST t/:slug/settings/:group": post(tpath("settings/codes"), func(f fixture) url.Values {
		return url.Values{"version": {fmt.Sprint(f.t.SettingsVersion)}, "s:ACCOUNT_LOGIN_BY_CODE_ENABLED": {"false", "true"}}
	}, tpath("settings/codes")),
	"POST t/:slug/keys/rotate":      post(tpath("keys/rotate"), func(fixture) url.Values { return url.Values{"alg": {"ES256"}, "delay": {"0"}} }, tpath("keys")),
	"POST t/:slug/keys/:kid/retire": {path: func(f fixture) string { return tpath("keys/" + f.kid + "/retire")(f) }, form: none, ok: 303, okLocation: tpath("keys")},
	"POST t/:slug/delete":           post(tpath("delete"), func(f fixture) url.Values { return url.Values{"confirm": {f.t.Slug}} }, fixed("/console/tenants")),

	"GET t/:slug/settings/history": get(tpath("settings/history")),
	"GET t/:slug/users":            get(tpath("users?q=matrix")),
	"GET t/:slug/users/:id":        get(upath("")),
	"GET t/:slug/domains":          get(tpath("domains")),
	"GET t/:slug/audit/export":     get(tpath("audit/export")),
	"POST t/:slug/keys/import": post(tpath("keys/import"), func(fixture) url.Values {
		return url.Values{"alg": {"HS256"}, "key": {"a-shared-secret-of-at-least-32-bytes!"}}
	}, tpath("keys")),
	"POST t/:slug/keys/import/clear":                       post(tpath("keys/import/clear"), none, tpath("keys")),
	"POST t/:slug/users/:id/disable":                       post(upath("disable"), none, upath("")),
	"POST t/:slug/users/:id/enable":                        post(upath("enable"), none, upath("")),
	"POST t/:slug/users/:id/end-sessions":                  post(upath("end-sessions"), none, upath("")),
	"POST t/:slug/users/:id/reset-mfa":                     post(upath("reset-mfa"), none, upath("")),
	"POST t/:slug/users/:id/emails/:eid/send-verification": {path: func(f fixture) string { return upath(fmt.Sprintf("emails/%d/send-verification", f.user.EmailID))(f) }, form: none, ok: 303, okLocation: upath("")},
	"POST t/:slug/users/:id/data": post(upath("data"), func(fixture) url.Values {
		return url.Values{"doc": {"public_metadata"}, "value": {`{"plan": "pro"}`}}
	}, upath("")),
	"GET t/:slug/settings/preview/users":    get(tpath("settings/preview/users?q=matrix")),
	"GET t/:slug/settings/branding":         get(tpath("settings/branding")),
	"GET t/:slug/settings/branding/preview": get(tpath("settings/branding/preview")),
	"POST t/:slug/settings/branding/preview": {path: tpath("settings/branding/preview"), ok: 200, form: func(fixture) url.Values {
		return url.Values{"primary_color": {"#123456"}}
	}},
	"POST t/:slug/settings/branding": post(tpath("settings/branding"), func(f fixture) url.Values {
		return url.Values{"version": {fmt.Sprint(f.t.SettingsVersion)}, "product_name": {"Matrix"}}
	}, tpath("settings/branding")),
	"POST t/:slug/settings/preview": {path: tpath("settings/preview"), ok: 200, form: func(f fixture) url.Values {
		return url.Values{"user": {fmt.Sprint(f.user.ID)}, "s:HALLPASS_USER_SERIALIZER": {`{"n": "user.id"}`}}
	}},
	"POST t/:slug/users/:id/delete": post(upath("delete"), func(f fixture) url.Values { return url.Values{"confirm": {f.user.Email}} }, tpath("users")),
	"POST t/:slug/domains": post(tpath("domains"), func(fixture) url.Values {
		return url.Values{"domain": {testenv.Slug("new") + ".example.org"}}
	}, tpath("domains")),
	"POST t/:slug/domains/verify": post(tpath("domains/verify"), domainForm, tpath("domains")),
	"POST t/:slug/domains/remove": post(tpath("domains/remove"), domainForm, tpath("domains")),
	"POST t/:slug/members/invite": post(tpath("members/invite"), func(fixture) url.Values {
		return url.Values{"email": {testenv.Slug("invitee") + "@example.com"}, "role": {"viewer"}}
	}, tpath("members")),
	"POST t/:slug/members/:uid/role":   post(mpath("role"), func(fixture) url.Values { return url.Values{"role": {"admin"}} }, tpath("members")),
	"POST t/:slug/members/:uid/remove": post(mpath("remove"), none, tpath("members")),
	"POST t/:slug/invitations/:iid/revoke": {path: func(f fixture) string {
		return "/console/t/" + f.t.Slug + "/invitations/" + f.invitation.String() + "/revoke"
	}, form: none, ok: 303, okLocation: tpath("members")},

	"GET t/:slug/api-keys":  get(tpath("api-keys")),
	"POST t/:slug/api-keys": {path: tpath("api-keys"), form: newAPIKeyForm, ok: 200},
	"POST t/:slug/api-keys/:id/revoke": post(func(f fixture) string { return tpath("api-keys/" + f.apiKey.String() + "/revoke")(f) },
		none, tpath("api-keys")),
	"GET t/:slug/webhooks":     get(tpath("webhooks")),
	"GET t/:slug/webhooks/:id": get(whpath("")),
	"POST t/:slug/webhooks": {path: tpath("webhooks"), form: func(fixture) url.Values {
		return url.Values{"url": {"https://93.184.216.34/matrix"}, "event": {"user.created"}}
	}, ok: 200},
	"POST t/:slug/webhooks/:id/rotate": {path: whpath("rotate"), form: none, ok: 200},
	"POST t/:slug/webhooks/:id/test":   post(whpath("test"), none, whpath("")),
	"POST t/:slug/webhooks/:id/redeliver": post(whpath("redeliver"), func(fixture) url.Values {
		return url.Values{"since_hours": {"24"}}
	}, whpath("")),
	"POST t/:slug/webhooks/:id/enable":  post(whpath("enable"), none, whpath("")),
	"POST t/:slug/webhooks/:id/disable": post(whpath("disable"), none, whpath("")),
	"POST t/:slug/webhooks/:id/delete":  post(whpath("delete"), none, tpath("webhooks")),
	"GET platform/api-keys":             get(fixed("/console/platform/api-keys")),
	"POST platform/api-keys":            {path: fixed("/console/platform/api-keys"), form: newAPIKeyForm, ok: 200},
	"POST platform/api-keys/:id/revoke": post(func(f fixture) string { return "/console/platform/api-keys/" + f.platformKey.String() + "/revoke" },
		none, fixed("/console/platform/api-keys")),
}

// whpath is a path under the fixture's webhook endpoint.
func whpath(rest string) func(f fixture) string {
	return func(f fixture) string {
		p := "/console/t/" + f.t.Slug + "/webhooks/" + f.webhook.String()
		if rest != "" {
			p += "/" + rest
		}
		return p
	}
}

func none(fixture) url.Values { return url.Values{} }

func newAPIKeyForm(fixture) url.Values {
	return url.Values{"name": {"matrix"}, "scope": {"users:read"}, "expires": {"90d"}}
}

// Who asks.
const (
	asPlatform  = "platform admin"
	asOwner     = "owner"
	asAdmin     = "admin"
	asViewer    = "viewer"
	asOutsider  = "member of another tenant"
	asAnonymous = "anonymous"
)

// Outcomes other than success.
const (
	ok        = 0
	toSignIn  = -1
	forbidden = 403
	notFound  = 404
)

// expect is the access matrix: what each kind of user gets on each level.
func expect(need console.Need, who string) int {
	if who == asAnonymous {
		return toSignIn
	}
	if need == console.PlatformOnly {
		if who == asPlatform {
			return ok
		}
		return notFound
	}
	if need == console.SignedIn || who == asPlatform {
		return ok
	}
	if who == asOutsider {
		return notFound
	}
	rank := map[string]int{asViewer: 1, asAdmin: 2, asOwner: 3}[who]
	want := map[console.Need]int{console.ViewTenant: 1, console.EditTenant: 2, console.OwnTenant: 3}[need]
	if rank < want {
		return forbidden
	}
	return ok
}

// Every route, for every kind of user: the server enforces the role matrix
// (a viewer changes nothing, a customer never reaches another customer's
// tenant, anonymous requests go to sign-in), and a refused request leaves
// the tenant as it was.
func TestRoleMatrix(t *testing.T) {
	e := newEnv(t)
	users := map[string]*console.User{
		asPlatform: e.user("matrix-platform", true),
		asOwner:    e.user("matrix-owner", false),
		asAdmin:    e.user("matrix-admin", false),
		asViewer:   e.user("matrix-viewer", false),
		asOutsider: e.user("matrix-outsider", false),
	}
	for _, rt := range console.Routes() {
		if rt.Need == console.Public {
			continue
		}
		key := rt.Method + " " + rt.Path
		rc, found := routeCases[key]
		if !found {
			t.Errorf("route %s has no case in routeCases", key)
			continue
		}
		for _, who := range []string{asPlatform, asOwner, asAdmin, asViewer, asOutsider, asAnonymous} {
			t.Run(key+"/"+who, func(t *testing.T) {
				e := *e
				e.t = t
				f := newFixture(&e, users)
				b := e.browser()
				if u := users[who]; u != nil {
					b = e.session(u)
				}
				before := snapshot(&e, f)
				var res *response
				if rc.form == nil {
					res = b.get(rc.path(f))
				} else {
					res = b.post(rc.path(f), rc.form(f))
				}
				want := expect(rt.Need, who)
				switch want {
				case ok:
					res.status(rc.ok)
					if rc.ok == 303 && !strings.HasPrefix(res.Location(), rc.okLocation(f)) {
						t.Fatalf("went to %q, want %q", res.Location(), rc.okLocation(f))
					}
				case toSignIn:
					res.status(303)
					if !strings.HasPrefix(res.Location(), "/console/login") {
						t.Fatalf("anonymous went to %q", res.Location())
					}
				default:
					res.status(want)
				}
				if want != ok {
					if after := snapshot(&e, f); after != before {
						t.Fatalf("a refused request changed the tenant:\nbefore %s\nafter  %s", before, after)
					}
					res.lacks(f.t.Name + " settings") // nothing of the tenant leaks
				}
			})
		}
	}
	for key := range routeCases {
		if !routeExists(key) {
			t.Errorf("routeCases has %q, which is no route", key)
		}
	}
}

func routeExists(key string) bool {
	for _, rt := range console.Routes() {
		if rt.Method+" "+rt.Path == key {
			return true
		}
	}
	return false
}

func newFixture(e *env, users map[string]*console.User) fixture {
	ctx := context.Background()
	f := fixture{t: e.tenant("matrix"), other: e.tenant("matrix-other")}
	e.grant(f.t, users[asOwner], console.RoleOwner)
	e.grant(f.t, users[asAdmin], console.RoleAdmin)
	e.grant(f.t, users[asViewer], console.RoleViewer)
	e.grant(f.other, users[asOutsider], console.RoleOwner)
	key, err := e.keys.Rotate(ctx, f.t, "ES256", 0, "test") // cheaper than RSA; waits as next
	if err != nil {
		e.t.Fatal(err)
	}
	f.kid = key.Kid
	f.user = e.endUser(f.t, "matrix-user", false)
	e.loginEndUser(f.t, f.user.ID)
	f.domain = testenv.Slug("matrix") + ".example.net"
	if _, err := e.store.AddDomain(ctx, f.t.Slug, f.domain, "test"); err != nil {
		e.t.Fatal(err)
	}
	f.extra = e.user("matrix-extra", false)
	e.grant(f.t, f.extra, console.RoleViewer)
	inv, err := e.con.Users().Invite(ctx, f.t.ID, testenv.Slug("matrix-invited")+"@example.com", console.RoleAdmin, users[asOwner], "", time.Now(),
		func(pgx.Tx, *console.Invitation, string) error { return nil })
	if err != nil {
		e.t.Fatal(err)
	}
	f.invitation = inv.ID
	for _, tenant := range []uuid.UUID{f.t.ID, uuid.Nil} {
		k, _, err := e.srv.APIKeys.Create(ctx, audit.Actor{Name: "test"}, apikeys.NewKey{TenantID: tenant, Scopes: []string{"users:read"}})
		if err != nil {
			e.t.Fatal(err)
		}
		if tenant == uuid.Nil {
			f.platformKey = k.ID
		} else {
			f.apiKey = k.ID
		}
	}
	hook := "https://93.184.216.34/matrix"
	wh, _, err := e.srv.Webhooks.Create(ctx, f.t.ID, webhooks.EndpointInput{URL: &hook}, audit.Actor{Name: "test"})
	if err != nil {
		e.t.Fatal(err)
	}
	f.webhook = wh.ID
	f.t = e.reload(f.t.Slug)
	return f
}

// snapshot is what a refused request must not change.
func snapshot(e *env, f fixture) string {
	ctx := context.Background()
	t, err := e.store.Get(ctx, f.t.Slug)
	if errors.Is(err, tenants.ErrNotFound) {
		return "deleted"
	}
	if err != nil {
		e.t.Fatal(err)
	}
	keys, err := e.keys.List(ctx, t)
	if err != nil {
		e.t.Fatal(err)
	}
	var ks []string
	for _, k := range keys {
		ks = append(ks, k.Kid[:8]+":"+k.State)
	}
	var domains []string
	for _, d := range t.Domains {
		domains = append(domains, fmt.Sprintf("%s:%v", d.Domain, d.Verified()))
	}
	members, err := e.con.Users().Members(ctx, t.ID)
	if err != nil {
		e.t.Fatal(err)
	}
	var ms []string
	for _, m := range members {
		ms = append(ms, m.Email+":"+string(m.Role))
	}
	var users, sessions, invitations, outbox, apiKeys, platformKeys, hooks, hookMessages int
	var active bool
	if err := e.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM users WHERE tenant_id = $1),
		coalesce((SELECT is_active FROM users WHERE tenant_id = $1 AND id = $2), false),
		(SELECT count(*) FROM sessions WHERE tenant_id = $1),
		(SELECT count(*) FROM console_invitations WHERE tenant_id = $1 AND accepted_at IS NULL),
		(SELECT count(*) FROM outbox WHERE tenant_id = $1),
		(SELECT count(*) FROM api_keys WHERE tenant_id = $1 AND revoked_at IS NULL),
		(SELECT count(*) FROM api_keys WHERE tenant_id IS NULL AND revoked_at IS NULL),
		(SELECT count(*) FROM webhook_endpoints WHERE tenant_id = $1 AND enabled AND previous_secret IS NULL),
		(SELECT count(*) FROM webhook_messages WHERE tenant_id = $1)`, t.ID, f.user.ID).Scan(&users, &active, &sessions, &invitations, &outbox,
		&apiKeys, &platformKeys, &hooks, &hookMessages); err != nil {
		e.t.Fatal(err)
	}
	return fmt.Sprintf("name=%q version=%d keys=%v domains=%v members=%v users=%d active=%v sessions=%d invitations=%d outbox=%d api keys=%d platform keys=%d webhooks=%d webhook messages=%d",
		t.Name, t.SettingsVersion, ks, domains, ms, users, active, sessions, invitations, outbox, apiKeys, platformKeys, hooks, hookMessages)
}

// A kid of another tenant, in a URL of a tenant the user administers, is
// not found, and the other tenant's key stays active.
func TestOtherTenantsKidRefused(t *testing.T) {
	e := newEnv(t)
	admin := e.user("kid-admin", false)
	mine, theirs := e.tenant("kid-mine"), e.tenant("kid-theirs")
	e.grant(mine, admin, console.RoleAdmin)
	key, err := e.keys.Rotate(context.Background(), theirs, "", 0, "test")
	if err != nil {
		t.Fatal(err)
	}
	b := e.session(admin)
	b.post("/console/t/"+mine.Slug+"/keys/"+key.Kid+"/retire", nil).status(404)
	b.post("/console/t/"+theirs.Slug+"/keys/"+key.Kid+"/retire", nil).status(404)
	keys, _ := e.keys.List(context.Background(), theirs)
	if len(keys) != 1 || keys[0].State != tenants.KeyActive {
		t.Fatalf("their key changed: %+v", keys)
	}
}

// Unknown console paths answer an HTML 404, signed in or not.
func TestUnknownPath(t *testing.T) {
	e := newEnv(t)
	b := e.session(e.user("unknown", true))
	b.get("/console/nope").status(404).contains("Not found")
	b.get("/console/t/no-such-tenant").status(404)
	b.get("/console/t/" + e.tenant("unknown").Slug + "/settings/nope").status(404)
	e.browser().get("/console/nope").status(404)
	if res := b.get("/console").status(301); res.Location() != "/console/" {
		t.Fatalf("/console went to %q", res.Location())
	}
}
