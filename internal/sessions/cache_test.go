package sessions

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// cacheFixture is a tenant with one logged-in user whose session is saved
// (so cached in Redis with the user's summary).
type cacheFixture struct {
	s      *Store
	tenant uuid.UUID
	user   int64
	sess   *Session
}

func newCacheFixture(t *testing.T) *cacheFixture {
	t.Helper()
	ctx := context.Background()
	pool, rdb := testenv.Pool(t), testenv.Redis(t)
	f := &cacheFixture{s: NewStore(pool, rdb), tenant: uuid.New()}
	// Hundreds of parallel lookups under -race on two busy cores can take
	// longer than the production bound of a Redis call; what these tests
	// check is which session each lookup gets, not Redis's speed.
	f.s.SetRedisTimeout(5 * time.Second)
	if _, err := pool.Exec(ctx, `INSERT INTO tenants (id, slug, name) VALUES ($1, $2, 'cache test')`, f.tenant, testenv.Slug("cache")); err != nil {
		t.Fatal(err)
	}
	var err error
	if f.user, err = insertTestUser(ctx, pool, f.tenant, "ivy", "ivy@example.com"); err != nil {
		t.Fatal(err)
	}
	f.sess = f.s.New(f.tenant, "app", "127.0.0.1", "test")
	if err := f.s.Login(ctx, f.sess, f.user, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Save(ctx, f.sess, time.Minute); err != nil {
		t.Fatal(err)
	}
	return f
}

// entry is the session's Redis entry ("" if none).
// insertTestUser stores a user without a usable password and with a
// primary address, as a signup does, and returns the user's id.
func insertTestUser(ctx context.Context, pool *pgxpool.Pool, tenant uuid.UUID, username, email string) (int64, error) {
	var id int64
	err := pool.QueryRow(ctx, `WITH u AS (
			INSERT INTO users (tenant_id, id, username, username_folded, password_hash)
			VALUES ($1, next_user_id($1), $2, lower($2), '!') RETURNING id)
		INSERT INTO email_addresses (tenant_id, user_id, email, email_folded, is_primary)
		SELECT $1, id, $3, lower($3), true FROM u RETURNING user_id`, tenant, username, email).Scan(&id)
	return id, err
}

func (f *cacheFixture) entry(t *testing.T) string {
	t.Helper()
	raw, err := f.s.rdb.Get(context.Background(), redisKey(f.tenant, f.sess.id)).Result()
	if errors.Is(err, redis.Nil) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestSessionCacheCarriesUser(t *testing.T) {
	f := newCacheFixture(t)
	if e := f.entry(t); !strings.Contains(e, `"u":{"i":`) || !strings.Contains(e, `"e":"ivy@example.com"`) {
		t.Fatalf("saved session's entry lacks its user: %s", e)
	}
	got, err := f.s.Lookup(context.Background(), f.tenant, f.sess.Token, "", "")
	if err != nil {
		t.Fatal(err)
	}
	u := got.User()
	if u == nil || u.ID != f.user || u.Username != "ivy" || u.PrimaryEmail != "ivy@example.com" || u.UsablePassword || !u.Active {
		t.Fatalf("looked-up user %+v", u)
	}
	if strings.Contains(f.entry(t), "password") || strings.Contains(f.entry(t), `"!"`) {
		t.Fatalf("the password hash reached Redis: %s", f.entry(t))
	}
}

// A read of the session and its user that started before a user change
// committed must not be cached after the change dropped the entries.
func TestSessionCacheRefusesReadsOlderThanAChange(t *testing.T) {
	f := newCacheFixture(t)
	ctx := context.Background()
	read := time.Now() // a lookup on another node reads Postgres here...
	if err := f.s.UserChanged(ctx, f.tenant, f.user); err != nil {
		t.Fatal(err)
	}
	if e := f.entry(t); e != "" {
		t.Fatalf("UserChanged left the entry: %s", e)
	}
	f.s.cache(ctx, f.sess, read) // ...and writes its (stale) result here
	if e := f.entry(t); e != "" {
		t.Fatalf("a read older than the change was cached: %s", e)
	}
	// Control: once the hold lapses, reads are cached again.
	if err := f.s.rdb.Del(ctx, userChangedKey(f.tenant, f.user)).Err(); err != nil {
		t.Fatal(err)
	}
	f.s.cache(ctx, f.sess, time.Now())
	if f.entry(t) == "" {
		t.Fatal("a fresh read was not cached")
	}
}

// A read that took longer than maxCacheLag is never cached (it could predate
// a change whose marker has lapsed), and drops the older entry.
func TestSessionCacheRefusesSlowReads(t *testing.T) {
	f := newCacheFixture(t)
	if f.entry(t) == "" {
		t.Fatal("no entry to start with")
	}
	f.s.cache(context.Background(), f.sess, time.Now().Add(-maxCacheLag-time.Second))
	if e := f.entry(t); e != "" {
		t.Fatalf("a slow read was cached: %s", e)
	}
}

// A lookup that read a session from Postgres just before it was deleted (a
// logout on another node) cannot bring it back into Redis.
func TestSessionCacheDeletedStaysDeleted(t *testing.T) {
	f := newCacheFixture(t)
	ctx := context.Background()
	read := time.Now()
	stale := *f.sess
	if err := f.s.Delete(ctx, f.sess); err != nil {
		t.Fatal(err)
	}
	f.s.cache(ctx, &stale, read)
	if e := f.entry(t); e != "" {
		t.Fatalf("a deleted session was cached again: %s", e)
	}
	if _, err := f.s.Lookup(ctx, f.tenant, stale.Token, "", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup after delete: %v", err)
	}
}

// EndUserSessions drops the kept session's entry too (its user changed),
// and ends the others.
func TestEndUserSessionsDropsKeptEntry(t *testing.T) {
	f := newCacheFixture(t)
	ctx := context.Background()
	second := f.s.New(f.tenant, "browser", "127.0.0.1", "test")
	if err := f.s.Login(ctx, second, f.user, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Save(ctx, second, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := f.s.EndUserSessions(ctx, f.tenant, f.user, f.sess.id); err != nil {
		t.Fatal(err)
	}
	if e := f.entry(t); e != "" {
		t.Fatalf("kept session's entry survived: %s", e)
	}
	if _, err := f.s.Lookup(ctx, f.tenant, second.Token, "", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ended session: %v", err)
	}
	kept, err := f.s.Lookup(ctx, f.tenant, f.sess.Token, "", "")
	if err != nil || kept.User() == nil || kept.User().ID != f.user {
		t.Fatalf("kept session: %v %+v", err, kept)
	}
}

// Concurrent lookups share Redis round trips (getBatcher); each must still
// get its own session back, and a missing one must still be a miss.
func TestConcurrentLookupsGetTheirOwnSession(t *testing.T) {
	f := newCacheFixture(t)
	ctx := context.Background()
	const n = 40
	sessions := make([]*Session, n)
	for i := range sessions {
		s := f.s.New(f.tenant, "app", "127.0.0.1", "test")
		if err := f.s.Login(ctx, s, f.user, time.Hour); err != nil {
			t.Fatal(err)
		}
		s.State.Methods = []AuthRecord{{Method: "password", At: float64(i)}}
		if err := f.s.Save(ctx, s, time.Minute); err != nil {
			t.Fatal(err)
		}
		sessions[i] = s
	}
	errs := make(chan error, n*10)
	var wg sync.WaitGroup
	for r := 0; r < 10; r++ {
		for i, s := range sessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := f.s.Lookup(ctx, f.tenant, s.Token, "", "")
				switch {
				case err != nil:
					errs <- err
				case len(got.State.Methods) != 1 || got.State.Methods[0].At != float64(i) || got.PublicID != s.PublicID:
					errs <- fmt.Errorf("lookup %d got session %d's state %+v", i, got.PublicID, got.State.Methods)
				}
				if _, err := f.s.Lookup(ctx, f.tenant, newToken(), "", ""); !errors.Is(err, ErrNotFound) {
					errs <- fmt.Errorf("unknown token: %v", err)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// A request that loaded its session before the session was ended elsewhere
// (a logout on another node, a password change ending the user's other
// sessions) must not bring it back when it saves its changes: the save
// finds the session gone and leaves the client logged out.
func TestSaveDoesNotResurrectAnEndedSession(t *testing.T) {
	f := newCacheFixture(t)
	ctx := context.Background()
	inFlight, err := f.s.Lookup(ctx, f.tenant, f.sess.Token, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.s.EndUserSessions(ctx, f.tenant, f.user, nil); err != nil {
		t.Fatal(err)
	}
	inFlight.State.PendingTOTP = "sealed-offer" // the request changed its session
	inFlight.Changed()
	if err := f.s.Save(ctx, inFlight, time.Minute); err != nil {
		t.Fatal(err)
	}
	if inFlight.Authenticated() || inFlight.Token != "" {
		t.Fatalf("the in-flight request still holds a live session: %+v", inFlight.State)
	}
	var rows int
	if err := f.s.pool.QueryRow(ctx, `SELECT count(*) FROM sessions WHERE tenant_id = $1 AND user_id = $2`, f.tenant, f.user).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != 0 {
		t.Fatalf("the ended session came back (%d rows)", rows)
	}
	if _, err := f.s.Lookup(ctx, f.tenant, f.sess.Token, "", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup after the end: %v", err)
	}
}
