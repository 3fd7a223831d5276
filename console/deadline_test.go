package console_test

import (
	"context"
	"testing"
	"time"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/assembly"
)

// On the platform app, as served, a console request past its deadline is
// answered 503 at the deadline and its Postgres query is cancelled: no
// backend goes on waiting for the lock after the request ended.
func TestConsoleRequestDeadlineCancelsItsQuery(t *testing.T) {
	const deadline = 3 * time.Second
	e := newEnvOn(t, assembly.Config{RequestTimeout: deadline})
	// The console as served: the one the server mounted on its platform app.
	e.app = e.srv.HTTP.Platform

	tn := e.tenant("deadline")
	owner := e.user("deadline", false)
	e.grant(tn, owner, console.RoleAdmin)
	b := e.session(owner)
	page := b.get("/console/t/" + tn.Slug + "/settings/codes").status(200)
	form := formOf(t, page.Body)
	form.Set("s:ACCOUNT_LOGIN_BY_CODE_TIMEOUT", "240")

	ctx := context.Background()
	// Another transaction holds the tenant's row: saving its settings waits.
	tx, err := e.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM tenants WHERE id = $1 FOR UPDATE`, tn.ID); err != nil {
		t.Fatal(err)
	}
	waiting := func() int {
		t.Helper()
		var n int
		if err := e.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}

	type answer struct {
		res  *response
		took time.Duration
	}
	done := make(chan answer, 1)
	start := time.Now()
	go func() {
		var res *response
		// do fails the test when the app does not answer within its 20 s;
		// the answer is then nil.
		defer func() { done <- answer{res, time.Since(start)} }()
		res = b.post("/console/t/"+tn.Slug+"/settings/codes", form)
	}()
	for waiting() == 0 {
		select {
		case a := <-done:
			if a.res == nil {
				t.Fatalf("no answer after %v", a.took)
			}
			t.Fatalf("answered %d after %v without waiting on the lock: %s", a.res.Code, a.took, excerpt(a.res.Body))
		case <-time.After(20 * time.Millisecond):
		}
	}
	a := <-done
	if a.res == nil {
		t.Fatalf("the blocked save got no answer within %v (deadline %v)", a.took, deadline)
	}
	t.Logf("blocked save answered %d after %v (deadline %v)", a.res.Code, a.took, deadline)
	a.res.status(503).contains("Temporarily unavailable")
	if a.took > deadline+5*time.Second {
		t.Fatalf("answered after %v, deadline %v", a.took, deadline)
	}
	gone := time.Now().Add(5 * time.Second)
	for waiting() > 0 {
		if time.Now().After(gone) {
			t.Fatal("a backend still waits on the lock 5 s after the request ended")
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Logf("query gone from pg_stat_activity %v after the answer", time.Since(start)-a.took)
}
