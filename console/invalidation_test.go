package console_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/testenv"
)

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
			api := apitest.New(t, apitest.Settings{"ACCOUNT_LOGIN_METHODS": []string{"email"}, "ACCOUNT_SIGNUP_FIELDS": []string{"email*", "password1*"}})
			fe := api.Client("app")
			email := testenv.Slug("warm-"+c.action) + "@users.example"
			res := fe.Do("POST", "auth/signup", `{"email":"`+email+`","password":"correct horse battery"}`).Status(200)
			id, ok := res.Path("data.user.id").(float64)
			if !ok || fe.Token == "" {
				t.Fatalf("signup: %s", res.Body)
			}
			uid := int64(id)
			email = warmLocal(t, api, fe, uid, email)

			e := newEnv(t, func(cfg *console.Config) { cfg.Accounts = api.Accounts })
			admin := e.user("warm-admin", false)
			e.grant(api.Tenant, admin, console.RoleAdmin)
			b := e.session(admin)
			var form url.Values
			if c.form != nil {
				form = c.form(email)
			}
			b.post(fmt.Sprintf("/console/t/%s/users/%d/%s", api.Tenant.Slug, uid, c.action), form).status(303)
			fe.Do("GET", "auth/session", "").Status(410)

			events, err := audit.List(context.Background(), e.pool, api.Tenant.ID, 20)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, ev := range events {
				if ev.Action != c.event {
					continue
				}
				found = true
				if ev.Actor != "console:"+admin.ID.String() || ev.IP != e.ip || ev.Target != email || ev.Details["user_id"] != float64(uid) {
					t.Errorf("event %+v: want actor console:%s, ip %s, target %s, user_id %d", ev, admin.ID, e.ip, email, uid)
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
