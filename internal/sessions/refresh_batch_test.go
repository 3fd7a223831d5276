package sessions

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/testenv"
)

// heldBatch is a set of UseRefresh calls made to share one batch: the
// batcher's workers are held back until every call has queued.
type heldBatch struct {
	b  *rotateBatcher
	wg sync.WaitGroup
}

// holdBatch starts calls concurrently and returns once all of them wait in
// b's queue, none taken.
func holdBatch(t *testing.T, b *rotateBatcher, calls ...func()) *heldBatch {
	t.Helper()
	b.q.init()
	if !b.q.running.CompareAndSwap(0, rotateWorkers) {
		t.Fatal("the batcher has workers already")
	}
	h := &heldBatch{b: b}
	for _, call := range calls {
		h.wg.Add(1)
		go func() {
			defer h.wg.Done()
			call()
		}()
	}
	for deadline := time.Now().Add(5 * time.Second); len(b.q.reqs) < len(calls); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d calls queued", len(b.q.reqs), len(calls))
		}
	}
	return h
}

// release lets one worker take the whole queue as one batch.
func (h *heldBatch) release() {
	h.b.q.running.Add(-1)
	h.b.q.startWorker()
}

// wait returns once every call has returned.
func (h *heldBatch) wait() { h.wg.Wait() }

// refreshFixture is the session store on the test database.
type refreshFixture struct {
	s    *Store
	pool *pgxpool.Pool
}

func newRefreshFixture(t *testing.T) *refreshFixture {
	pool := testenv.Pool(t)
	return &refreshFixture{s: NewStore(pool, testenv.Redis(t)), pool: pool}
}

// use rotates jti through b; with b nil, in a statement of its own.
func (f *refreshFixture) use(ctx context.Context, b *rotateBatcher, tenant, jti uuid.UUID) (outcome, error) {
	spend := rotateFunc(func(ctx context.Context, tenantID, jti, nextJTI uuid.UUID, nextExpires time.Time) (rotation, error) {
		return rotateAlone(ctx, f.pool, tenantID, jti, nextJTI, nextExpires)
	})
	if b != nil {
		spend = b.rotate
	}
	used, next, err := f.s.useRefresh(ctx, spend, tenant, jti, true, time.Hour)
	return outcome{used, next, err}, err
}

// token reads a token's row; ok false when there is none.
func (f *refreshFixture) token(t *testing.T, tenant, jti uuid.UUID) (sessionID []byte, family uuid.UUID, spent, ok bool) {
	t.Helper()
	err := f.pool.QueryRow(context.Background(), `SELECT session_id, family, spent_at IS NOT NULL FROM refresh_tokens WHERE tenant_id = $1 AND jti = $2`,
		tenant, jti).Scan(&sessionID, &family, &spent)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, uuid.Nil, false, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return sessionID, family, spent, true
}

// sessionLive reports whether the session's row is still there.
func (f *refreshFixture) sessionLive(t *testing.T, tenant uuid.UUID, id []byte) bool {
	t.Helper()
	var n int
	if err := f.pool.QueryRow(context.Background(), `SELECT count(*) FROM sessions WHERE tenant_id = $1 AND id = $2`, tenant, id).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// outcome is one call's result.
type outcome struct {
	used, next RefreshGrant
	err        error
}

// twoTenants are the tokens TestRotateBatch's cases present: three of
// tenant a, two of tenant b, and one more of b with the jti of a[0].
type twoTenants struct {
	a, b       uuid.UUID
	aJTI, bJTI []uuid.UUID
}

// Concurrent rotations that share a batch behave as they do one statement
// each: every request gets its own result, a token presented twice is
// spent once and the other copy revokes its family and session, and the
// tokens of different tenants never meet, even with the same jti.
func TestRotateBatch(t *testing.T) {
	f := newRefreshFixture(t)
	ctx := context.Background()
	type call struct {
		tenant, jti uuid.UUID
	}
	cases := []struct {
		name  string
		calls func(x twoTenants) []call
		// check gets each call's outcome.
		check func(t *testing.T, x twoTenants, got []outcome)
	}{
		{"each gets its own rotation",
			func(x twoTenants) []call { return []call{{x.a, x.aJTI[1]}, {x.a, x.aJTI[2]}, {x.b, x.bJTI[0]}} },
			func(t *testing.T, x twoTenants, got []outcome) {
				seen := map[uuid.UUID]bool{}
				for i, tenant := range []uuid.UUID{x.a, x.a, x.b} {
					o := got[i]
					if o.err != nil {
						t.Fatalf("call %d: %v", i, o.err)
					}
					sess, family, _, _ := f.token(t, tenant, o.next.JTI)
					if string(sess) != string(o.used.SessionID) || family != o.used.Family || seen[o.next.JTI] {
						t.Errorf("call %d: successor %v in session %x family %v, used %+v", i, o.next.JTI, sess, family, o.used)
					}
					seen[o.next.JTI] = true
					if _, err := f.use(ctx, nil, tenant, o.next.JTI); err != nil {
						t.Errorf("call %d: successor not usable: %v", i, err)
					}
				}
			}},
		{"a replay in the batch revokes the family",
			func(x twoTenants) []call { return []call{{x.a, x.aJTI[1]}, {x.a, x.aJTI[1]}, {x.a, x.aJTI[2]}} },
			func(t *testing.T, x twoTenants, got []outcome) {
				win, lose := got[0], got[1]
				if win.err != nil {
					win, lose = lose, win
				}
				if win.err != nil || !errors.Is(lose.err, ErrRefreshInvalid) {
					t.Fatalf("replayed token: %v and %v, want one rotation and one ErrRefreshInvalid", got[0].err, got[1].err)
				}
				if f.sessionLive(t, x.a, win.used.SessionID) {
					t.Error("the replayed token's session survived")
				}
				if _, _, _, ok := f.token(t, x.a, win.next.JTI); ok {
					t.Error("the winner's successor survived the revocation")
				}
				if _, err := f.use(ctx, nil, x.a, win.next.JTI); !errors.Is(err, ErrRefreshInvalid) {
					t.Errorf("the winner's successor: %v, want ErrRefreshInvalid", err)
				}
				// The batch's other token, of another session, is untouched.
				if got[2].err != nil || !f.sessionLive(t, x.a, got[2].used.SessionID) {
					t.Errorf("bystander: %v", got[2].err)
				}
			}},
		{"tenants stay apart",
			func(x twoTenants) []call {
				return []call{{x.a, x.aJTI[0]}, {x.b, x.aJTI[0]}, {x.b, x.aJTI[2]}, {x.a, uuid.New()}}
			},
			func(t *testing.T, x twoTenants, got []outcome) {
				for i, tenant := range []uuid.UUID{x.a, x.b} {
					o := got[i]
					if o.err != nil {
						t.Fatalf("tenant %d's token %v: %v", i, x.aJTI[0], o.err)
					}
					sess, family, spent, ok := f.token(t, tenant, o.next.JTI)
					if !ok || spent || string(sess) != string(o.used.SessionID) || family != o.used.Family {
						t.Errorf("tenant %d's successor: session %x family %v spent %v found %v; used %+v", i, sess, family, spent, ok, o.used)
					}
				}
				if got[0].used.Family == got[1].used.Family || string(got[0].used.SessionID) == string(got[1].used.SessionID) {
					t.Errorf("the two tenants' tokens share a family or session: %+v %+v", got[0].used, got[1].used)
				}
				// Another tenant's jti, and an unknown one, are refused and
				// revoke nothing.
				for _, i := range []int{2, 3} {
					if !errors.Is(got[i].err, ErrRefreshInvalid) {
						t.Errorf("call %d: %v, want ErrRefreshInvalid", i, got[i].err)
					}
				}
				if _, _, spent, ok := f.token(t, x.a, x.aJTI[2]); !ok || spent {
					t.Errorf("a's token presented to b: found %v spent %v", ok, spent)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var x twoTenants
			x.a, x.aJTI = rotateFixture(t, f.pool, 3)
			x.b, x.bJTI = rotateFixture(t, f.pool, 2)
			if _, err := f.pool.Exec(ctx, `INSERT INTO refresh_tokens (tenant_id, jti, session_id, family, expires_at)
				SELECT tenant_id, $2, session_id, gen_random_uuid(), expires_at FROM refresh_tokens WHERE tenant_id = $1 AND jti = $3`,
				x.b, x.aJTI[0], x.bJTI[1]); err != nil {
				t.Fatal(err)
			}
			b := newRotateBatcher(f.pool)
			cl := c.calls(x)
			got := make([]outcome, len(cl))
			calls := make([]func(), len(cl))
			for i, c := range cl {
				calls[i] = func() { got[i], _ = f.use(ctx, b, c.tenant, c.jti) }
			}
			h := holdBatch(t, b, calls...)
			h.release()
			h.wait()
			c.check(t, x, got)
		})
	}
}

// A batch that fails as a whole (here a real deadlock with a transaction
// that locks its tokens in the other order, as a logout's cascade can)
// falls back to one statement per request: every rotation still succeeds.
func TestRotateBatchFallsBackAlone(t *testing.T) {
	f := newRefreshFixture(t)
	ctx := context.Background()
	tenant, heads := rotateFixture(t, f.pool, 2)
	// The batch locks in key order: first, then second.
	first, second := heads[0], heads[1]
	if string(first[:]) > string(second[:]) {
		first, second = second, first
	}
	tx, err := f.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	// The batch, not this transaction, is to be the deadlock's victim.
	lockToken := `SELECT spent_at IS NOT NULL FROM refresh_tokens WHERE tenant_id = $1 AND jti = $2 FOR UPDATE`
	var spent bool
	if _, err := tx.Exec(ctx, `SET LOCAL deadlock_timeout = '30s'`); err != nil {
		t.Fatal(err)
	}
	if err := tx.QueryRow(ctx, lockToken, tenant, second).Scan(&spent); err != nil {
		t.Fatal(err)
	}
	b := newRotateBatcher(f.pool)
	got := make([]outcome, 2)
	h := holdBatch(t, b,
		func() { got[0], _ = f.use(ctx, b, tenant, first) },
		func() { got[1], _ = f.use(ctx, b, tenant, second) })
	h.release()
	// Once the batch holds the first token and waits for the second...
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var waiting int
		if err := f.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
			AND wait_event_type = 'Lock' AND query = $1`, sqlRotateBatch).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the batch never waited for the locked token")
		}
	}
	// ...this transaction asks for the first: a deadlock, which Postgres
	// breaks by failing the batch (after its deadlock_timeout).
	start := time.Now()
	if err := tx.QueryRow(ctx, lockToken, tenant, first).Scan(&spent); err != nil {
		t.Fatal(err)
	}
	// This transaction was not the victim (no error), so the batch was: it
	// rolled back. The token may already be spent again by the rerun
	// alone, which can take the row before this transaction wakes up.
	if waited := time.Since(start); waited < 500*time.Millisecond {
		t.Fatalf("the first token came after %v (spent %v), want after the batch's deadlock timeout", waited, spent)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	h.wait()
	for i, o := range got {
		if o.err != nil {
			t.Fatalf("rotation %d after the failed batch: %v", i, o.err)
		}
		if _, _, spent, ok := f.token(t, tenant, o.used.JTI); !ok || !spent {
			t.Errorf("rotation %d: token found %v spent %v", i, ok, spent)
		}
		if _, _, spent, ok := f.token(t, tenant, o.next.JTI); !ok || spent {
			t.Errorf("rotation %d: successor found %v spent %v", i, ok, spent)
		}
	}
}

// A request whose context ends while it waits for its batch gets the
// context's error and its token is not spent; the batch's others go on.
func TestRotateBatchCancelledRequest(t *testing.T) {
	f := newRefreshFixture(t)
	ctx := context.Background()
	tenant, heads := rotateFixture(t, f.pool, 3)
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	b := newRotateBatcher(f.pool)
	got := make([]outcome, len(heads))
	calls := make([]func(), len(heads))
	for i, jti := range heads {
		c := ctx
		if i == 1 {
			c = cctx
		}
		calls[i] = func() { got[i], _ = f.use(c, b, tenant, jti) }
	}
	h := holdBatch(t, b, calls...)
	cancel()
	h.release()
	h.wait()
	if !errors.Is(got[1].err, context.Canceled) {
		t.Errorf("cancelled request: %v, want context.Canceled", got[1].err)
	}
	for _, i := range []int{0, 2} {
		if got[i].err != nil {
			t.Errorf("request %d: %v", i, got[i].err)
		}
	}
	// The others have their answers: the batch has run, without the
	// cancelled request's token.
	if _, _, spent, ok := f.token(t, tenant, heads[1]); !ok || spent {
		t.Fatalf("cancelled request's token: found %v spent %v", ok, spent)
	}
	if _, err := f.use(ctx, nil, tenant, heads[1]); err != nil {
		t.Fatalf("cancelled request's token afterwards: %v", err)
	}
}
