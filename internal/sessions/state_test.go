package sessions

import (
	"context"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/hallpass/hallpass/internal/quota"
	"github.com/hallpass/hallpass/internal/testenv"
)

// fullState is a State with every field, at every depth, set to a
// non-zero value (fillAll), logged in as userID (0: anonymous). It fails the
// test if the filler left a top-level field zero.
func fullState(t *testing.T, userID int64) State {
	t.Helper()
	var s State
	fillAll(reflect.ValueOf(&s).Elem())
	s.UserID = userID
	v := reflect.ValueOf(s)
	for i := range v.NumField() {
		if name := v.Type().Field(i).Name; name != "UserID" && v.Field(i).IsZero() {
			t.Fatalf("the filler left State.%s zero", name)
		}
	}
	return s
}

// stateDiff names the top-level fields of want that got lost or changed.
func stateDiff(want, got State) []string {
	var out []string
	w, g := reflect.ValueOf(want), reflect.ValueOf(got)
	for i := range w.NumField() {
		if !reflect.DeepEqual(w.Field(i).Interface(), g.Field(i).Interface()) {
			out = append(out, w.Type().Field(i).Name)
		}
	}
	return out
}

// Every field of State, filled by reflection (so a field added later
// is filled too), is saved and read back through each of the store's paths:
// an anonymous session's Redis entry, an authenticated session's Redis cache
// entry, and its Postgres row, both inserted (first save after login) and
// updated (a later save). A field left out of what is stored fails here.
func TestSessionStateRoundTrip(t *testing.T) {
	ctx := context.Background()
	f := newCacheFixture(t)
	f.s.Pending = quota.NewPending(testenv.Redis(t), quota.DefaultPendingCeiling)
	lookup := func(t *testing.T, sess *Session, want State, where string) *Session {
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
	fromCache := func(t *testing.T, sess *Session, want State) {
		t.Helper()
		if n, err := f.s.rdb.Exists(ctx, redisKey(f.tenant, sess.id)).Result(); err != nil || n != 1 {
			t.Fatalf("no Redis cache entry after the save (%d, %v)", n, err)
		}
		lookup(t, sess, want, "Redis cache entry")
	}
	// fromPostgres drops the session's Redis entry, so that the lookup
	// reads the sessions row.
	fromPostgres := func(t *testing.T, sess *Session, want State, where string) {
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
	if !(State{}).empty() {
		t.Fatal("the zero state is not empty")
	}
	full := reflect.ValueOf(fullState(t, 7))
	for i := range full.NumField() {
		var one State
		reflect.ValueOf(&one).Elem().Field(i).Set(full.Field(i))
		if one.empty() {
			t.Errorf("a state holding only %s counts as empty", full.Type().Field(i).Name)
		}
	}
}

// The local cache hands every request a copy of one shared entry: a copy
// of a state with every field set shares no slice, map or pointer with it,
// so no request can change what the next one reads. Filled by reflection,
// so a field added later is covered without touching this test.
func TestSessionStateCloneSharesNothing(t *testing.T) {
	var orig State
	fillAll(reflect.ValueOf(&orig).Elem())
	if orig.SocialSignup == nil || len(orig.Ceremonies) == 0 || len(orig.Methods) == 0 {
		t.Fatalf("the filler left fields empty: %+v", orig)
	}
	cp := orig.clone()
	if !reflect.DeepEqual(orig, cp) {
		t.Fatalf("the copy differs:\n%+v\n%+v", orig, cp)
	}
	if path := shared(reflect.ValueOf(orig), reflect.ValueOf(cp), "state"); path != "" {
		t.Fatalf("the copy shares %s with the cache entry", path)
	}
}

var timeType = reflect.TypeOf(time.Time{})

// fillAll sets every field reachable from v to a non-zero value.
func fillAll(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(7)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fillAll(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 2, 2))
		for i := range 2 {
			fillAll(v.Index(i))
		}
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k, e := reflect.New(v.Type().Key()).Elem(), reflect.New(v.Type().Elem()).Elem()
		fillAll(k)
		fillAll(e)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		if v.Type() == timeType {
			v.Set(reflect.ValueOf(time.Unix(1700000000, 0).UTC()))
			return
		}
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fillAll(v.Field(i))
			}
		}
	case reflect.Interface:
		v.Set(reflect.ValueOf("x"))
	}
}

// shared returns the path of the first slice, map or pointer a and b have
// in common ("" if none).
func shared(a, b reflect.Value, path string) string {
	switch a.Kind() {
	case reflect.Pointer:
		if a.IsNil() {
			return ""
		}
		if a.Pointer() == b.Pointer() {
			return path
		}
		return shared(a.Elem(), b.Elem(), path)
	case reflect.Slice:
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			return path
		}
		for i := range a.Len() {
			if p := shared(a.Index(i), b.Index(i), path+"["+strconv.Itoa(i)+"]"); p != "" {
				return p
			}
		}
	case reflect.Map:
		if a.Len() > 0 && a.Pointer() == b.Pointer() {
			return path
		}
		for _, k := range a.MapKeys() {
			if p := shared(a.MapIndex(k), b.MapIndex(k), path+"["+k.String()+"]"); p != "" {
				return p
			}
		}
	case reflect.Interface:
		if !a.IsNil() {
			return shared(a.Elem(), b.Elem(), path)
		}
	case reflect.Struct:
		if a.Type() == timeType {
			return ""
		}
		for i := range a.NumField() {
			if a.Type().Field(i).IsExported() {
				if p := shared(a.Field(i), b.Field(i), path+"."+a.Type().Field(i).Name); p != "" {
					return p
				}
			}
		}
	}
	return ""
}
