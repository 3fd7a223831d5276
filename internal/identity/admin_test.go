package identity_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/internal/testenv"
	"github.com/hallpass/hallpass/tenants"
)

// adminFixture is a tenant served by node, a server process whose local
// session cache is running, and admin, an operator's UserAdmin on another
// process of the same cluster (the console's).
type adminFixture struct {
	t      *testing.T
	ctx    context.Context
	pool   *pgxpool.Pool
	rdb    *redis.Client
	tenant *tenants.Tenant
	node   *identity.Accounts
	admin  *identity.UserAdmin
	// writer is the operator's process's account services (admin's).
	writer *identity.Accounts
	by     audit.Actor
}

func newAdminFixture(t *testing.T) *adminFixture {
	t.Helper()
	ctx := context.Background()
	pool, rdb := testenv.Pool(t), testenv.Redis(t)
	tn, err := tenants.NewStore(pool, testenv.Sealer(t), nil).Create(ctx, tenants.CreateInput{Slug: testenv.Slug("admin")}, "test")
	if err != nil {
		t.Fatal(err)
	}
	ns := "admintest-" + uuid.NewString()
	node := identity.NewAccounts(pool, rdb, testenv.Sealer(t), "no-reply@hallpass.test")
	runCtx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	t.Cleanup(node.Sessions.StartLocalCache(runCtx, sessions.LocalCacheConfig{Namespace: ns}))
	writer := identity.NewAccounts(pool, rdb, testenv.Sealer(t), "no-reply@hallpass.test")
	writer.Sessions.SetLocalNamespace(ns)
	return &adminFixture{t: t, ctx: ctx, pool: pool, rdb: rdb, tenant: tn, node: node, writer: writer,
		admin: identity.NewUserAdmin(writer, mfa.RemoveAll), by: audit.Actor{Name: "console:test-operator", IP: "192.0.2.9"}}
}

// user makes a tenant user with one primary address and returns its id.
func (f *adminFixture) user(email string) int64 {
	f.t.Helper()
	var id int64
	if err := f.pool.QueryRow(f.ctx, `INSERT INTO users (tenant_id, id, username, username_folded, password_hash)
		VALUES ($1, next_user_id($1), NULL, NULL, '!') RETURNING id`, f.tenant.ID).Scan(&id); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.pool.Exec(f.ctx, `INSERT INTO email_addresses (tenant_id, user_id, email, email_folded, verified, is_primary)
		VALUES ($1, $2, $3, $3, true, true)`, f.tenant.ID, id, email); err != nil {
		f.t.Fatal(err)
	}
	return id
}

// login opens a session of the user on node and returns its token.
func (f *adminFixture) login(userID int64) string {
	f.t.Helper()
	sess := f.node.Sessions.New(f.tenant.ID, "app", "198.51.100.7", "test-agent/1.0")
	if err := f.node.Sessions.Login(f.ctx, sess, userID, time.Hour); err != nil {
		f.t.Fatal(err)
	}
	if err := f.node.Sessions.Save(f.ctx, sess, time.Minute); err != nil {
		f.t.Fatal(err)
	}
	return sess.Token
}

// live reports whether node still takes token for the user's.
func (f *adminFixture) live(token string) bool {
	f.t.Helper()
	sess, err := f.node.Sessions.Lookup(f.ctx, f.tenant.ID, token, "198.51.100.7", "test-agent/1.0")
	if err != nil && !errors.Is(err, sessions.ErrNotFound) {
		f.t.Fatal(err)
	}
	return err == nil && sess.Authenticated()
}

// warm makes node hold the session in memory, and proves it: with its
// Redis entry gone and the user's address changed in Postgres behind the
// caches' back, node still shows the old address. A lapsed lease (a busy
// machine) sends node to Postgres; then it tries again.
func (f *adminFixture) warm(token string, userID int64) {
	f.t.Helper()
	sess, err := f.node.Sessions.Lookup(f.ctx, f.tenant.ID, token, "", "")
	if err != nil {
		f.t.Fatal(err)
	}
	key := fmt.Sprintf("hp:{%s}:sess:%x", f.tenant.ID, sess.ID()) // identity's Redis entry
	for try := range 20 {
		for range 2 {
			if !f.live(token) {
				f.t.Fatal("session not live")
			}
		}
		had := sess.User().PrimaryEmail
		if _, err := f.pool.Exec(f.ctx, `UPDATE email_addresses SET email = $3 WHERE tenant_id = $1 AND user_id = $2 AND is_primary`,
			f.tenant.ID, userID, fmt.Sprintf("moved%d-%s", try, had)); err != nil {
			f.t.Fatal(err)
		}
		if err := f.rdb.Del(f.ctx, key).Err(); err != nil {
			f.t.Fatal(err)
		}
		if sess, err = f.node.Sessions.Lookup(f.ctx, f.tenant.ID, token, "", ""); err != nil {
			f.t.Fatal(err)
		}
		if sess.User().PrimaryEmail == had {
			return
		}
	}
	f.t.Fatal("node never answered from its local cache")
}

// event returns the newest event of action in the tenant's trail.
func (f *adminFixture) event(action string) *audit.Event {
	f.t.Helper()
	events, err := audit.List(f.ctx, f.pool, f.tenant.ID, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, e := range events {
		if e.Action == action {
			return &e
		}
	}
	return nil
}

func (f *adminFixture) count(action string) int {
	f.t.Helper()
	events, err := audit.List(f.ctx, f.pool, f.tenant.ID, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	n := 0
	for _, e := range events {
		if e.Action == action {
			n++
		}
	}
	return n
}

// An operator's action on another process ends the user's sessions on a
// node that holds them in memory, before the action returns; each is
// audited with the operator as actor, their address, the user as target.
func TestUserAdminEndsSessionsOnEveryNode(t *testing.T) {
	for _, c := range []struct {
		name, event string
		do          func(f *adminFixture, userID int64) error
	}{
		{"disable", "user.disable", func(f *adminFixture, id int64) error {
			changed, err := f.admin.Disable(f.ctx, f.by, f.tenant.ID, id)
			if err == nil && !changed {
				err = errors.New("not changed")
			}
			return err
		}},
		{"end sessions", "user.sessions.end", func(f *adminFixture, id int64) error {
			n, err := f.admin.EndSessions(f.ctx, f.by, f.tenant.ID, id)
			if err == nil && n != 1 {
				err = fmt.Errorf("ended %d", n)
			}
			return err
		}},
		{"end session", "user.session.end", func(f *adminFixture, id int64) error {
			list, err := f.admin.Sessions(f.ctx, f.tenant.ID, id)
			if err != nil || len(list) != 1 {
				return fmt.Errorf("sessions %+v: %v", list, err)
			}
			return f.admin.EndSession(f.ctx, f.by, f.tenant.ID, id, list[0].ID)
		}},
		{"reset mfa", "user.mfa.reset", func(f *adminFixture, id int64) error {
			_, err := f.admin.ResetMFA(f.ctx, f.by, f.tenant.ID, id)
			return err
		}},
		{"delete", "user.delete", func(f *adminFixture, id int64) error { return f.admin.Delete(f.ctx, f.by, f.tenant.ID, id) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newAdminFixture(t)
			email := testenv.Slug("ends") + "@users.example"
			id := f.user(email)
			token := f.login(id)
			f.warm(token, id)
			if err := c.do(f, id); err != nil {
				t.Fatal(err)
			}
			if f.live(token) {
				t.Fatal("the node still takes the session")
			}
			ev := f.event(c.event)
			if ev == nil {
				t.Fatalf("no %s event", c.event)
			}
			var label string
			if err := f.pool.QueryRow(f.ctx, `SELECT coalesce((SELECT email FROM email_addresses WHERE tenant_id = $1 AND user_id = $2), $3)`,
				f.tenant.ID, id, "").Scan(&label); err != nil {
				t.Fatal(err)
			}
			if ev.Actor != f.by.Name || ev.IP != f.by.IP || ev.Details["user_id"] != float64(id) || (label != "" && ev.Target != label) || ev.Target == "" {
				t.Errorf("event %+v", ev)
			}
		})
	}
}

// Ending one session leaves the user's others; a session of another user,
// or of another tenant, is not found.
func TestUserAdminEndSessionKeepsOthers(t *testing.T) {
	f := newAdminFixture(t)
	id, other := f.user(testenv.Slug("one")+"@users.example"), f.user(testenv.Slug("other")+"@users.example")
	first, second, theirs := f.login(id), f.login(id), f.login(other)
	f.warm(second, id)
	list, err := f.admin.Sessions(f.ctx, f.tenant.ID, id)
	if err != nil || len(list) != 2 {
		t.Fatalf("sessions %+v: %v", list, err)
	}
	theirList, err := f.admin.Sessions(f.ctx, f.tenant.ID, other)
	if err != nil || len(theirList) != 1 {
		t.Fatalf("sessions %+v: %v", theirList, err)
	}
	if err := f.admin.EndSession(f.ctx, f.by, f.tenant.ID, id, theirList[0].ID); !errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("another user's session: %v", err)
	}
	stranger := newAdminFixture(t)
	if err := stranger.admin.EndSession(f.ctx, f.by, stranger.tenant.ID, id, list[0].ID); !errors.Is(err, identity.ErrUserNotFound) &&
		!errors.Is(err, sessions.ErrNotFound) {
		t.Fatalf("another tenant: %v", err)
	}
	sess, err := f.node.Sessions.Lookup(f.ctx, f.tenant.ID, second, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.admin.EndSession(f.ctx, f.by, f.tenant.ID, id, sess.PublicID); err != nil {
		t.Fatal(err)
	}
	if f.live(second) || !f.live(first) || !f.live(theirs) {
		t.Fatalf("live: second %v, first %v, theirs %v", f.live(second), f.live(first), f.live(theirs))
	}
}

// Disabling twice audits once (a retry still ends sessions); enabling is
// audited; a reset counts the authenticators it removed; the verification
// mail is audited with the address as target; another tenant's user id is
// not found, and nothing is audited for it.
func TestUserAdminAudit(t *testing.T) {
	f := newAdminFixture(t)
	email := testenv.Slug("audit") + "@users.example"
	id := f.user(email)
	for range 2 {
		if _, err := f.admin.Disable(f.ctx, f.by, f.tenant.ID, id); err != nil {
			t.Fatal(err)
		}
	}
	token := f.login(id) // a session that slipped in: the retry ends it
	if changed, err := f.admin.Disable(f.ctx, f.by, f.tenant.ID, id); err != nil || changed {
		t.Fatalf("changed %v, %v", changed, err)
	}
	if f.live(token) {
		t.Fatal("a repeated disable left a session")
	}
	if n := f.count("user.disable"); n != 1 {
		t.Fatalf("%d user.disable events", n)
	}
	if changed, err := f.admin.Enable(f.ctx, f.by, f.tenant.ID, id); err != nil || !changed {
		t.Fatalf("enable: %v, %v", changed, err)
	}
	if u, err := f.admin.User(f.ctx, f.tenant.ID, id); err != nil || !u.IsActive {
		t.Fatalf("enabled: %+v, %v", u, err)
	}
	if ev := f.event("user.enable"); ev == nil || ev.Target != email || ev.Actor != f.by.Name {
		t.Fatalf("enable event %+v", ev)
	}

	if _, err := f.pool.Exec(f.ctx, `INSERT INTO authenticators (tenant_id, user_id, type, data) VALUES ($1, $2, 'totp', 'sealed'), ($1, $2, 'recovery_codes', 'sealed')`,
		f.tenant.ID, id); err != nil {
		t.Fatal(err)
	}
	if n, err := f.admin.ResetMFA(f.ctx, f.by, f.tenant.ID, id); err != nil || n != 2 {
		t.Fatalf("reset: %d, %v", n, err)
	}
	if ev := f.event("user.mfa.reset"); ev == nil || ev.Details["authenticators_removed"] != float64(2) {
		t.Fatalf("reset event %+v", ev)
	}
	if n, err := f.admin.ResetMFA(f.ctx, f.by, f.tenant.ID, id); err != nil || n != 0 {
		t.Fatalf("second reset: %d, %v", n, err)
	}

	var second int64
	if err := f.pool.QueryRow(f.ctx, `INSERT INTO email_addresses (tenant_id, user_id, email, email_folded) VALUES ($1, $2, $3, $3) RETURNING id`,
		f.tenant.ID, id, "second-"+email).Scan(&second); err != nil {
		t.Fatal(err)
	}
	if err := f.admin.SendVerification(f.ctx, f.by, f.tenant, id, second, "http://api.example"); err != nil {
		t.Fatal(err)
	}
	if ev := f.event("user.email.verification_sent"); ev == nil || ev.Target != "second-"+email || ev.Details["email_id"] != float64(second) ||
		ev.Details["user_id"] != float64(id) {
		t.Fatalf("verification event %+v", ev)
	}

	before := len(must(audit.List(f.ctx, f.pool, f.tenant.ID, 100)))
	stranger := newAdminFixture(t)
	for name, err := range map[string]error{
		"disable": errOf(stranger.admin.Disable(f.ctx, f.by, stranger.tenant.ID, id+1000)),
		"delete":  stranger.admin.Delete(f.ctx, f.by, stranger.tenant.ID, id+1000),
		"reset":   errOf(stranger.admin.ResetMFA(f.ctx, f.by, stranger.tenant.ID, id+1000)),
		"end":     errOf(stranger.admin.EndSessions(f.ctx, f.by, stranger.tenant.ID, id+1000)),
	} {
		if !errors.Is(err, identity.ErrUserNotFound) {
			t.Errorf("%s of an unknown user: %v", name, err)
		}
	}
	if after := len(must(audit.List(f.ctx, f.pool, f.tenant.ID, 100))); after != before {
		t.Errorf("%d events recorded for unknown users", after-before)
	}
	if err := f.admin.Delete(f.ctx, f.by, f.tenant.ID, id); err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin.User(f.ctx, f.tenant.ID, id); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("deleted user: %v", err)
	}
	if err := f.admin.Delete(f.ctx, f.by, f.tenant.ID, id); !errors.Is(err, identity.ErrUserNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

// must is v, or a panic.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// errOf is the error of a call's two results.
func errOf[T any](_ T, err error) error { return err }
