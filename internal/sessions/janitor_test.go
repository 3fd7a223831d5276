package sessions

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
)

// The janitor deletes expired sessions (with their refresh tokens) and
// refresh tokens expired for longer than the retention; everything a request
// could still use stays.
func TestJanitorRound(t *testing.T) {
	f := newCacheFixture(t) // one live session
	ctx := context.Background()
	pool := f.s.pool
	expired := make([][]byte, 3)
	for i := range expired {
		sess := f.s.New(f.tenant, "app", "127.0.0.1", "test")
		if err := f.s.Login(ctx, sess, f.user, -time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := f.s.Save(ctx, sess, time.Minute); err != nil {
			t.Fatal(err)
		}
		expired[i] = sess.ID()
		if _, err := f.s.IssueRefresh(ctx, f.tenant, sess.ID(), uuid.Nil, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	live := f.sess.ID()
	old, err := f.s.IssueRefresh(ctx, f.tenant, live, uuid.Nil, -8*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	recent, err := f.s.IssueRefresh(ctx, f.tenant, live, old.Family, -time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	current, err := f.s.IssueRefresh(ctx, f.tenant, live, old.Family, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	// A janitor elsewhere holds the lock: this one skips its round.
	other, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(janitorLock)); err != nil {
		t.Fatal(err)
	}
	j := &Janitor{Pool: pool, BatchSize: 1}
	if res, err := j.Round(ctx); err != nil || !res.Skipped || res.Sessions != 0 {
		t.Fatalf("round under another's lock: %+v %v", res, err)
	}
	if _, err := other.Exec(ctx, `SELECT pg_advisory_unlock($1)`, int64(janitorLock)); err != nil {
		t.Fatal(err)
	}
	other.Release()

	res, err := j.Round(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Other tests' tenants share the database: at least ours went.
	if res.Sessions < 3 || res.RefreshTokens < 1 || res.Skipped {
		t.Fatalf("round: %+v", res)
	}
	count := func(sql string, args ...any) int {
		t.Helper()
		var n int
		if err := pool.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM sessions WHERE tenant_id = $1 AND id = ANY($2)`, f.tenant, expired); n != 0 {
		t.Errorf("%d expired sessions left", n)
	}
	if n := count(`SELECT count(*) FROM refresh_tokens WHERE tenant_id = $1 AND session_id = ANY($2)`, f.tenant, expired); n != 0 {
		t.Errorf("%d refresh tokens of expired sessions left", n)
	}
	if n := count(`SELECT count(*) FROM sessions WHERE tenant_id = $1 AND id = $2`, f.tenant, live); n != 1 {
		t.Error("the live session was deleted")
	}
	for _, tc := range []struct {
		name string
		jti  uuid.UUID
		want int
	}{{"expired 8 days ago", old.JTI, 0}, {"expired an hour ago (kept: a replay still revokes)", recent.JTI, 1}, {"current", current.JTI, 1}} {
		if n := count(`SELECT count(*) FROM refresh_tokens WHERE tenant_id = $1 AND jti = $2`, f.tenant, tc.jti); n != tc.want {
			t.Errorf("refresh token %s: %d rows, want %d", tc.name, n, tc.want)
		}
	}
	// The kept, spent-and-expired token still revokes its family when
	// presented again.
	if _, err := pool.Exec(ctx, `UPDATE refresh_tokens SET spent_at = now() WHERE tenant_id = $1 AND jti = $2`, f.tenant, recent.JTI); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.UseRefresh(ctx, f.tenant, recent.JTI, true, time.Hour); !errors.Is(err, ErrRefreshInvalid) {
		t.Fatalf("replay of the kept token: %v", err)
	}
	if n := count(`SELECT count(*) FROM sessions WHERE tenant_id = $1 AND id = $2`, f.tenant, live); n != 0 {
		t.Error("the replay of a kept spent token did not revoke its session")
	}
}

// The janitor's goroutine stops with its context.
func TestJanitorRunStops(t *testing.T) {
	pool := newCacheFixture(t).s.pool
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&Janitor{Pool: pool, Every: 20 * time.Millisecond}).Run(ctx)
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
