package account_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/testenv"
)

// GET auth/session answers from the user summary cached with the session
// (no Postgres read of the user); every change to what it shows through the
// API is visible on the very next GET. Tests that bypass the API (plain SQL)
// prove the cache is used at all: a change made behind its back stays
// invisible until something tells the cache.

// sessionEmail is the user's email as GET auth/session shows it.
func sessionEmail(t *testing.T, fe *apitest.Client) any {
	t.Helper()
	return fe.Do("GET", "auth/session", "").Status(200).Path("data.user.email")
}

// userID is the id GET auth/session shows.
func userID(t *testing.T, fe *apitest.Client) int64 {
	t.Helper()
	id, _ := fe.Do("GET", "auth/session", "").Status(200).Path("data.user.id").(float64)
	if id == 0 {
		t.Fatal("no user id in auth/session")
	}
	return int64(id)
}

// lapseHold removes the markers by which a user change keeps the user's
// sessions out of the cache for a few seconds, as if that time had passed:
// the next GET caches again, so the change after it is tested against a
// warm cache.
func lapseHold(t *testing.T, env *apitest.Env) {
	t.Helper()
	rdb := testenv.Redis(t)
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "hp:{"+env.Tenant.ID.String()+"}:uchg:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) > 0 {
		if err := rdb.Del(ctx, keys...).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// sqlExec changes the database behind the API's back.
func sqlExec(t *testing.T, env *apitest.Env, sql string, args ...any) {
	t.Helper()
	if _, err := env.Accounts.Store.Pool().Exec(context.Background(), sql, args...); err != nil {
		t.Fatal(err)
	}
}

func TestSessionUserCacheEmail(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, noVerification)
			fe := loggedIn(t, env, client, "cal@example.com")
			other := env.Client("app")
			other.Do("POST", "auth/login", `{"email":"cal@example.com","password":"`+pw+`"}`).Status(200)
			lapseHold(t, env)
			if got := sessionEmail(t, fe); got != "cal@example.com" {
				t.Fatalf("email %v", got)
			}
			sessionEmail(t, other)
			// Behind the cache's back: the GET still shows the cached address,
			// so it did not read the user from Postgres.
			sqlExec(t, env, `UPDATE email_addresses SET email = 'behind@example.com' WHERE tenant_id = $1 AND email = 'cal@example.com'`, env.Tenant.ID)
			if got := sessionEmail(t, fe); got != "cal@example.com" {
				t.Fatalf("GET auth/session read Postgres: email %v", got)
			}
			// Through the API: a new primary address shows at once, in both
			// sessions of the user.
			fe.Do("POST", "account/email", `{"email":"cal2@example.com"}`).Status(200)
			lapseHold(t, env)
			sessionEmail(t, fe)
			sessionEmail(t, other)
			fe.Do("PATCH", "account/email", `{"email":"cal2@example.com","primary":true}`).Status(200)
			for _, c := range []*apitest.Client{fe, other} {
				if got := sessionEmail(t, c); got != "cal2@example.com" {
					t.Fatalf("after the primary change auth/session shows %v", got)
				}
			}
		})
	}
}

// An address verified under ACCOUNT_CHANGE_EMAIL replaces the primary one:
// the verification is the change.
func TestSessionUserCacheChangeEmailVerified(t *testing.T) {
	env := apitest.New(t, with(emailOnly, apitest.Settings{
		"ACCOUNT_EMAIL_VERIFICATION": "optional",
		"ACCOUNT_CHANGE_EMAIL":       true,
		"HEADLESS_FRONTEND_URLS":     map[string]string{"account_confirm_email": "https://app.example.com/verify/{key}"},
	}))
	fe := loggedIn(t, env, "app", "dee@example.com")
	other := env.Client("browser")
	other.Do("POST", "auth/login", `{"email":"dee@example.com","password":"`+pw+`"}`).Status(200)
	fe.Do("POST", "account/email", `{"email":"dee.new@example.com"}`).Status(200)
	key := linkKey.FindStringSubmatch(env.WaitMailTo(t, "dee.new@example.com", 1).Text)[1]
	lapseHold(t, env)
	for _, c := range []*apitest.Client{fe, other} {
		if got := sessionEmail(t, c); got != "dee@example.com" {
			t.Fatalf("before verification: %v", got)
		}
	}
	fe.Do("POST", "auth/email/verify", `{"key":"`+key+`"}`).Status(200)
	for _, c := range []*apitest.Client{fe, other} {
		if got := sessionEmail(t, c); got != "dee.new@example.com" {
			t.Fatalf("after verification: %v", got)
		}
	}
}

func TestSessionUserCachePassword(t *testing.T) {
	env := apitest.New(t, with(noVerification, apitest.Settings{"ACCOUNT_SIGNUP_FIELDS": []string{"email*"}}))
	fe := env.Client("app")
	fe.Do("POST", "auth/signup", `{"email":"eve@example.com"}`).Status(200)
	usable := func(c *apitest.Client) any {
		return c.Do("GET", "auth/session", "").Status(200).Path("data.user.has_usable_password")
	}
	if got := usable(fe); got != false {
		t.Fatalf("has_usable_password %v", got)
	}
	uid := userID(t, fe)
	// Behind the cache's back: invisible.
	sqlExec(t, env, `UPDATE users SET password_hash = 'argon2$behind' WHERE tenant_id = $1 AND id = $2`, env.Tenant.ID, uid)
	if got := usable(fe); got != false {
		t.Fatalf("GET auth/session read Postgres: has_usable_password %v", got)
	}
	sqlExec(t, env, `UPDATE users SET password_hash = '!' WHERE tenant_id = $1 AND id = $2`, env.Tenant.ID, uid)
	// Setting a password through the API: the session that set it (which
	// stays logged in) shows it on its next GET.
	fe.Do("POST", "account/password/change", `{"new_password":"brand new horse"}`).Status(200)
	if got := usable(fe); got != true {
		t.Fatalf("after setting a password: has_usable_password %v", got)
	}
	// The store's own writers tell the cache too (the rehash on login uses
	// SetPasswordHash): an unusable hash shows at once.
	other := env.Client("browser")
	other.Do("POST", "auth/login", `{"email":"eve@example.com","password":"brand new horse"}`).Status(200)
	lapseHold(t, env)
	usable(fe)
	usable(other)
	if err := env.Accounts.Store.SetPasswordHash(context.Background(), env.Tenant.ID, uid, "!unusable"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*apitest.Client{fe, other} {
		if got := usable(c); got != false {
			t.Fatalf("after SetPasswordHash: has_usable_password %v", got)
		}
	}
}

func TestSessionUserCacheDeactivation(t *testing.T) {
	env := apitest.New(t, noVerification)
	fe := loggedIn(t, env, "app", "fay@example.com")
	other := env.Client("browser")
	other.Do("POST", "auth/login", `{"email":"fay@example.com","password":"`+pw+`"}`).Status(200)
	uid := userID(t, fe)
	userID(t, other)
	// Behind the cache's back: the cached summary still says active.
	sqlExec(t, env, `UPDATE users SET is_active = false WHERE tenant_id = $1 AND id = $2`, env.Tenant.ID, uid)
	userID(t, fe)
	sqlExec(t, env, `UPDATE users SET is_active = true WHERE tenant_id = $1 AND id = $2`, env.Tenant.ID, uid)
	// Deactivated: the next request of each session ends it (allauth's
	// answer for an inactive user), as the console's disable does.
	if err := env.Accounts.Store.SetActive(context.Background(), env.Tenant.ID, uid, false); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*apitest.Client{fe, other} {
		res := c.Do("GET", "auth/session", "").Status(401)
		if res.Path("meta.is_authenticated") != false || res.Path("data.user") != nil {
			t.Fatalf("a deactivated user's session still authenticates: %s", res.Body)
		}
	}
	fe.Do("GET", "auth/session", "").Status(410)
}

// The console deletes a user by ending the user's sessions, then deleting
// the row: the next GET of a cached session is 410.
func TestSessionUserCacheDeletion(t *testing.T) {
	for _, client := range apitest.Clients {
		t.Run(client, func(t *testing.T) {
			env := apitest.New(t, noVerification)
			fe := loggedIn(t, env, client, "gil@example.com")
			uid := userID(t, fe)
			ctx := context.Background()
			if err := env.Accounts.Sessions.EndUserSessions(ctx, env.Tenant.ID, uid, nil); err != nil {
				t.Fatal(err)
			}
			sqlExec(t, env, `DELETE FROM users WHERE tenant_id = $1 AND id = $2`, env.Tenant.ID, uid)
			want := 410
			if client == "browser" {
				want = 401 // a browser's dead cookie starts a fresh session
			}
			res := fe.Do("GET", "auth/session", "").Status(want)
			if res.Path("data.user") != nil {
				t.Fatalf("deleted user still shown: %s", res.Body)
			}
		})
	}
}

// A session read from Postgres (its Redis entry gone: evicted, or Redis
// restarted) is cached again with its user, and answers the same.
func TestSessionUserCacheRefill(t *testing.T) {
	env := apitest.New(t, noVerification)
	fe := loggedIn(t, env, "app", "hal@example.com")
	lapseHold(t, env)
	before := string(fe.Do("GET", "auth/session", "").Status(200).Body)
	rdb := testenv.Redis(t)
	ctx := context.Background()
	keys, err := rdb.Keys(ctx, "hp:{"+env.Tenant.ID.String()+"}:sess:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("session entries %v %v", keys, err)
	}
	if err := rdb.Del(ctx, keys...).Err(); err != nil {
		t.Fatal(err)
	}
	// Gone from this server's memory as well (as when Redis restarts).
	env.Accounts.Sessions.FlushLocal()
	if got := string(fe.Do("GET", "auth/session", "").Status(200).Body); got != before {
		t.Fatalf("from Postgres:\n%s\nfrom the cache:\n%s", got, before)
	}
	raw, err := rdb.Get(ctx, keys[0]).Result()
	if err != nil {
		t.Fatalf("the miss did not cache the session again: %v", err)
	}
	uid := userID(t, fe)
	if want := fmt.Sprintf(`"u":{"i":%s,`, strconv.FormatInt(uid, 10)); !strings.Contains(raw, want) {
		t.Fatalf("cached entry without the user (%s): %s", want, raw)
	}
	if got := string(fe.Do("GET", "auth/session", "").Status(200).Body); got != before {
		t.Fatalf("from the refilled cache:\n%s\nbefore:\n%s", got, before)
	}
}
