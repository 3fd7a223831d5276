package identity

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/quota"
	"github.com/hallpass/hallpass/internal/testenv"
)

// fullState is a SessionState with every field, at every depth, set to a
// non-zero value (fillAll), logged in as userID (0: anonymous). It fails the
// test if the filler left a top-level field zero.
func fullState(t *testing.T, userID int64) SessionState {
	t.Helper()
	var s SessionState
	fillAll(reflect.ValueOf(&s).Elem())
	s.UserID = userID
	v := reflect.ValueOf(s)
	for i := range v.NumField() {
		if name := v.Type().Field(i).Name; name != "UserID" && v.Field(i).IsZero() {
			t.Fatalf("the filler left SessionState.%s zero", name)
		}
	}
	return s
}

// stateDiff names the top-level fields of want that got lost or changed.
func stateDiff(want, got SessionState) []string {
	var out []string
	w, g := reflect.ValueOf(want), reflect.ValueOf(got)
	for i := range w.NumField() {
		if !reflect.DeepEqual(w.Field(i).Interface(), g.Field(i).Interface()) {
			out = append(out, w.Type().Field(i).Name)
		}
	}
	return out
}

// Every field of SessionState, filled by reflection (so a field added later
// is filled too), is saved and read back through each of the store's paths:
// an anonymous session's Redis entry, an authenticated session's Redis cache
// entry, and its Postgres row, both inserted (first save after login) and
// updated (a later save). A field left out of what is stored fails here.
func TestSessionStateRoundTrip(t *testing.T) {
	ctx := context.Background()
	f := newCacheFixture(t)
	f.s.Pending = quota.NewPending(testenv.Redis(t), quota.DefaultPendingCeiling)
	lookup := func(t *testing.T, sess *Session, want SessionState, where string) *Session {
		t.Helper()
		got, err := f.s.Lookup(ctx, f.tenant, sess.Token, "", "")
		if err != nil {
			t.Fatalf("%s: lookup: %v", where, err)
		}
		if diff := stateDiff(want, got.State); len(diff) > 0 {
			t.Errorf("%s: fields lost or changed: %v\nsaved:  %+v\nloaded: %+v", where, diff, want, got.State)
		}
		return got
	}
	// fromCache reads the authenticated session's Redis cache entry.
	fromCache := func(t *testing.T, sess *Session, want SessionState) {
		t.Helper()
		if n, err := f.s.rdb.Exists(ctx, redisKey(f.tenant, sess.id)).Result(); err != nil || n != 1 {
			t.Fatalf("no Redis cache entry after the save (%d, %v)", n, err)
		}
		lookup(t, sess, want, "Redis cache entry")
	}
	// fromPostgres drops the session's Redis entry, so that the lookup
	// reads the sessions row.
	fromPostgres := func(t *testing.T, sess *Session, want SessionState, where string) {
		t.Helper()
		if err := f.s.rdb.Del(ctx, redisKey(f.tenant, sess.id)).Err(); err != nil {
			t.Fatal(err)
		}
		if got := lookup(t, sess, want, where); got.stored != storedPostgres {
			t.Fatalf("%s: the session was not read from Postgres (stored %v)", where, got.stored)
		}
	}

	t.Run("anonymous, Redis", func(t *testing.T) {
		want := fullState(t, 0)
		sess := f.s.New(f.tenant, "app", "127.0.0.1", "test")
		sess.State = want.clone()
		sess.Changed()
		if err := f.s.Save(ctx, sess, time.Minute); err != nil {
			t.Fatal(err)
		}
		if sess.stored != storedRedis {
			t.Fatalf("an anonymous session went to %v, not Redis", sess.stored)
		}
		if got := lookup(t, sess, want, "Redis entry"); got.stored != storedRedis {
			t.Fatalf("the anonymous session was not read from Redis (stored %v)", got.stored)
		}
	})
	t.Run("authenticated, inserted", func(t *testing.T) {
		want := fullState(t, f.user)
		sess := f.s.New(f.tenant, "app", "127.0.0.1", "test")
		if err := f.s.Login(ctx, sess, f.user, time.Hour); err != nil {
			t.Fatal(err)
		}
		sess.State = want.clone()
		if err := f.s.Save(ctx, sess, time.Minute); err != nil {
			t.Fatal(err)
		}
		fromCache(t, sess, want)
		fromPostgres(t, sess, want, "Postgres row (insert)")
	})
	t.Run("authenticated, updated", func(t *testing.T) {
		want := fullState(t, f.user)
		sess := f.sess // saved to Postgres by the fixture
		sess.State = want.clone()
		sess.Changed()
		if err := f.s.Save(ctx, sess, time.Minute); err != nil {
			t.Fatal(err)
		}
		fromCache(t, sess, want)
		fromPostgres(t, sess, want, "Postgres row (update)")
	})
}

// empty counts every field: a state holding only one of them, whichever,
// is not empty (so a session holding it gets stored).
func TestSessionStateEmpty(t *testing.T) {
	if !(SessionState{}).empty() {
		t.Fatal("the zero state is not empty")
	}
	full := reflect.ValueOf(fullState(t, 7))
	for i := range full.NumField() {
		var one SessionState
		reflect.ValueOf(&one).Elem().Field(i).Set(full.Field(i))
		if one.empty() {
			t.Errorf("a state holding only %s counts as empty", full.Type().Field(i).Name)
		}
	}
}
