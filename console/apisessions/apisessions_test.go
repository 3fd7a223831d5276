// Package apisessions_test proves, through HTTP, that what the console does
// to a tenant user reaches the API's sessions at once. It is a test binary
// of its own: apitest's outbox worker would otherwise deliver the console
// tests' mail before they read it from the dev inbox.
package apisessions_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// operator is a console admin of api's tenant, signed in to the console
// api's server mounts (assembled as serve assembles it: one Accounts for
// the API and the console).
type operator struct {
	t     *testing.T
	app   *fiber.App
	id    string
	token string
	csrf  string
	ip    string
}

func newOperator(t *testing.T, api *apitest.Env) *operator {
	t.Helper()
	ctx := context.Background()
	con := api.Assembly.Console
	hash, err := passwords.Hasher{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}.Hash("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	u, err := con.Users().CreateUser(ctx, testenv.Slug("operator")+"@example.com", hash, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := con.Users().AddMembership(ctx, api.Tenant.ID, u.ID, console.RoleAdmin, "test"); err != nil {
		t.Fatal(err)
	}
	token, sess, err := con.Sessions().Create(ctx, u.ID, "192.0.2.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	return &operator{t: t, app: api.Server.Platform, id: u.ID.String(), token: token, csrf: sess.CSRF, ip: "203.0.113.77"}
}

// post sends a console form with the session's CSRF token and returns the
// status.
func (o *operator) post(path string, form url.Values) int {
	o.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("_csrf", o.csrf)
	req := httptest.NewRequest("POST", path, strings.NewReader(form.Encode()))
	req.Host = apitest.PlatformHost
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(fiber.HeaderXForwardedFor, o.ip)
	req.AddCookie(&http.Cookie{Name: console.CookieName, Value: o.token})
	res, err := o.app.Test(req, 20000)
	if err != nil {
		o.t.Fatal(err)
	}
	_ = res.Body.Close()
	return res.StatusCode
}

// What the console does to a tenant user ends the user's API session at
// once on a server whose local session cache holds it (apitest's server
// runs one, as serve does), the way a frontend sees it: its next GET
// auth/session is 410. And each action is in the tenant's audit trail with
// the console user as actor and their address.
func TestConsoleActionsEndWarmAPISessions(t *testing.T) {
	for _, c := range []struct {
		action, event string
		form          func(label string) url.Values
	}{
		{"disable", "user.disable", nil},
		{"end-sessions", "user.sessions.end", nil},
		{"reset-mfa", "user.mfa.reset", nil},
		{"delete", "user.delete", func(label string) url.Values { return url.Values{"confirm": {label}} }},
	} {
		t.Run(c.action, func(t *testing.T) {
			// Behind a proxy, so that the console records the operator's
			// address from X-Forwarded-For.
			api := apitest.NewBehindProxy(t, apitest.Settings{"ACCOUNT_LOGIN_METHODS": []string{"email"}, "ACCOUNT_SIGNUP_FIELDS": []string{"email*", "password1*"}})
			fe := api.Client("app")
			email := testenv.Slug("warm-"+c.action) + "@users.example"
			res := fe.Do("POST", "auth/signup", `{"email":"`+email+`","password":"correct horse battery"}`).Status(200)
			id, ok := res.Path("data.user.id").(float64)
			if !ok || fe.Token == "" {
				t.Fatalf("signup: %s", res.Body)
			}
			uid := int64(id)
			email = warmLocal(t, api, fe, uid, email)

			op := newOperator(t, api)
			var form url.Values
			if c.form != nil {
				form = c.form(email)
			}
			if code := op.post(fmt.Sprintf("/console/t/%s/users/%d/%s", api.Tenant.Slug, uid, c.action), form); code != http.StatusSeeOther {
				t.Fatalf("console %s: status %d", c.action, code)
			}
			fe.Do("GET", "auth/session", "").Status(410)

			events, err := audit.List(context.Background(), testenv.Pool(t), api.Tenant.ID, 20)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, ev := range events {
				if ev.Action != c.event {
					continue
				}
				found = true
				if ev.Actor != "console:"+op.id || ev.IP != op.ip || ev.Target != email || ev.Details["user_id"] != float64(uid) {
					t.Errorf("event %+v: want actor console:%s, ip %s, target %s, user_id %d", ev, op.id, op.ip, email, uid)
				}
			}
			if !found {
				t.Errorf("no %s event in %+v", c.event, events)
			}
		})
	}
}

// warmLocal makes the API server's local session cache hold fe's session
// and proves it does: with the session's Redis entry deleted and the
// user's address changed in Postgres behind the caches' back, the server
// still answers with the address it had, which only its memory holds. It
// returns the address Postgres now holds. A node whose lease lapsed (a
// busy machine) reads Postgres instead; then it tries again.
func warmLocal(t *testing.T, api *apitest.Env, fe *apitest.Client, uid int64, email string) string {
	t.Helper()
	ctx := context.Background()
	pool, rdb := testenv.Pool(t), testenv.Redis(t)
	sum := sha256.Sum256([]byte(fe.Token))
	key := "hp:{" + api.Tenant.ID.String() + "}:sess:" + hex.EncodeToString(sum[:]) // identity's session entry
	for try := range 20 {
		fe.Do("GET", "auth/session", "").Status(200) // into Redis, then into memory
		fe.Do("GET", "auth/session", "").Status(200)
		next := fmt.Sprintf("moved%d-%s", try, email)
		if _, err := pool.Exec(ctx, `UPDATE email_addresses SET email = $3 WHERE tenant_id = $1 AND user_id = $2 AND is_primary`,
			api.Tenant.ID, uid, next); err != nil {
			t.Fatal(err)
		}
		if err := rdb.Del(ctx, key).Err(); err != nil {
			t.Fatal(err)
		}
		shown := fe.Do("GET", "auth/session", "").Status(200).Path("data.user.email")
		if shown == email {
			return next
		}
		email = next
	}
	t.Fatal("the server never answered from its local cache")
	return ""
}
