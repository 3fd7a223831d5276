package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/hallpass/hallpass/api/apitest"
	"github.com/hallpass/hallpass/internal/testenv"
)

// A request past its deadline is answered 503 at the deadline, and the
// Postgres query it was waiting on is cancelled in Postgres too: the
// backend does not go on waiting (holding a connection, queued for the
// lock) after the request has ended.
func TestRequestDeadlineCancelsItsQuery(t *testing.T) {
	// Generous for a busy machine: before the lock the login verifies a
	// (cheap, see NewWithRequestTimeout) password and reads the user.
	const deadline = 3 * time.Second
	env := apitest.NewWithRequestTimeout(t, apitest.Settings{
		"ACCOUNT_LOGIN_METHODS":      []string{"email"},
		"ACCOUNT_SIGNUP_FIELDS":      []string{"email*", "password1*"},
		"ACCOUNT_EMAIL_VERIFICATION": "none",
	}, deadline)
	const creds = `{"email":"slow@example.com","password":"correct horse battery"}`
	env.Client("app").Do("POST", "auth/signup", creds).Status(200)

	ctx := context.Background()
	pool := testenv.Pool(t)
	// Another transaction holds the user's row: the login's writes to it
	// (its session's foreign key, last_login) wait for the lock.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT 1 FROM users WHERE tenant_id = $1 FOR UPDATE`, env.Tenant.ID); err != nil {
		t.Fatal(err)
	}
	// Backends of this test database waiting for a lock.
	waiting := func() []int32 {
		t.Helper()
		rows, err := pool.Query(ctx, `SELECT pid FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`)
		if err != nil {
			t.Fatal(err)
		}
		var pids []int32
		for rows.Next() {
			var pid int32
			if err := rows.Scan(&pid); err != nil {
				t.Fatal(err)
			}
			pids = append(pids, pid)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return pids
	}

	type answer struct {
		res  *apitest.Response
		took time.Duration
	}
	done := make(chan answer, 1)
	start := time.Now()
	go func() {
		var res *apitest.Response
		// Do fails the test when the server does not answer within its
		// deadline and 5 s; the answer is then nil.
		defer func() { done <- answer{res, time.Since(start)} }()
		res = env.Client("app").Do("POST", "auth/login", creds)
	}()
	// The login's query reaches Postgres and waits on the row.
	var blocked []int32
	for len(blocked) == 0 {
		select {
		case a := <-done:
			if a.res == nil {
				t.Fatalf("no answer after %v", a.took)
			}
			t.Fatalf("login answered %d after %v without waiting on the lock: %s", a.res.Code, a.took, a.res.Body)
		case <-time.After(20 * time.Millisecond):
		}
		blocked = waiting()
	}
	a := <-done
	if a.res == nil {
		t.Fatalf("the blocked login got no answer within %v (deadline %v)", a.took, deadline)
	}
	t.Logf("blocked login answered %d after %v (deadline %v)", a.res.Code, a.took, deadline)
	a.res.Status(503).Error("", "unavailable")
	if a.took > deadline+5*time.Second {
		t.Fatalf("answered after %v, deadline %v", a.took, deadline)
	}
	// The lock is still held, yet no backend waits for it any more: the
	// query was cancelled in Postgres, not merely abandoned by the client.
	gone := time.Now().Add(5 * time.Second)
	for {
		left := waiting()
		if len(left) == 0 {
			t.Logf("query gone from pg_stat_activity %v after the answer", time.Since(start)-a.took)
			break
		}
		if time.Now().After(gone) {
			t.Fatalf("backends %v still wait on the lock 5 s after the request ended (first seen: %v)", left, blocked)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
