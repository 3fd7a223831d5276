package sessions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	json "github.com/goccy/go-json"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
)

func redisKey(tenantID uuid.UUID, id []byte) string {
	// "hp:{" + tenantID.String() + "}:sess:" + hex(id), in one allocation
	// (every session check builds one).
	const prefix, mid = "hp:{", "}:sess:"
	var buf [len(prefix) + 36 + len(mid) + 2*sha256.Size]byte
	if len(id) > sha256.Size {
		return prefix + tenantID.String() + mid + hex.EncodeToString(id)
	}
	n := copy(buf[:], prefix)
	for i, part := range [][]byte{tenantID[0:4], tenantID[4:6], tenantID[6:8], tenantID[8:10], tenantID[10:16]} {
		if i > 0 {
			buf[n] = '-'
			n++
		}
		n += hex.Encode(buf[n:], part)
	}
	n += copy(buf[n:], mid)
	n += hex.Encode(buf[n:], id)
	return string(buf[:n])
}

// cached is a session as kept in Redis.
type cached struct {
	State     State     `json:"s"`
	Client    string    `json:"c"`
	PublicID  int64     `json:"p,omitempty"`
	CreatedAt time.Time `json:"t"`
	ExpiresAt time.Time `json:"e"`
	Durable   bool      `json:"d,omitempty"`
	User      *User     `json:"u,omitempty"`
}

// withMemo gives the entry's user summary its memo slot (User.SetMemo)
// before the entry is copied or shared; it returns c.
func (c *cached) withMemo() *cached {
	c.User.memoizable()
	return c
}

// userChangeHold is how long Store.UserChanged's marker refuses cache
// writes for a user, and maxCacheLag how old a Postgres read may be when its
// result is cached. maxCacheLag < userChangeHold: a read that started before
// a change committed either is cached before the change's marker is set (and
// then dropped by UserChanged), or finds the marker still there.
// cacheTTL bounds how long a durable session's entry lives in Redis: after a
// UserChanged that could not reach Redis, how long a stale summary may be shown.
const (
	userChangeHold = 10 * time.Second
	maxCacheLag    = 2 * time.Second
	cacheTTL       = 10 * time.Minute
)

// endedKey marks a session deleted moments ago, so that a lookup that read
// it from Postgres before the delete cannot put it back into Redis.
func endedKey(tenantID uuid.UUID, id []byte) string {
	return "hp:{" + tenantID.String() + "}:ended:" + hex.EncodeToString(id)
}

func userChangedKey(tenantID uuid.UUID, userID int64) string {
	return "hp:{" + tenantID.String() + "}:uchg:" + strconv.FormatInt(userID, 10)
}

// cacheScript sets a durable session's entry (KEYS[1]) unless its user
// changed moments ago (KEYS[2], UserChanged's marker) or it was deleted
// moments ago (KEYS[3]): then the entry is dropped instead, and the next
// lookup reads Postgres again.
var cacheScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[2], KEYS[3]) > 0 then
	redis.call('DEL', KEYS[1])
	return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`)

// cache puts a durable session, with its user's summary, into Redis; read
// is when the Postgres read of both started. Failure only costs a Postgres
// read later.
func (s *redisTier) cache(ctx context.Context, sess *Session, read time.Time) {
	key := redisKey(sess.TenantID, sess.id)
	ttl := min(time.Until(sess.ExpiresAt), cacheTTL)
	if ttl < time.Millisecond || time.Since(read) > maxCacheLag {
		// Too old to be trusted against a concurrent UserChanged: make sure
		// no older entry outlives this save.
		rctx, done := s.guard.Bound(ctx)
		done(s.rdb.Del(rctx, key).Err())
		return
	}
	raw, _ := json.Marshal(cached{State: sess.State, Client: sess.Client, PublicID: sess.PublicID, CreatedAt: sess.CreatedAt,
		ExpiresAt: sess.ExpiresAt, Durable: true, User: sess.User()})
	rctx, done := s.guard.Bound(ctx)
	done(cacheScript.Run(rctx, s.rdb, []string{key, userChangedKey(sess.TenantID, sess.State.UserID), endedKey(sess.TenantID, sess.id)}, raw, ttl.Milliseconds()).Err())
}

// UserChanged makes a change to a user's username, password, active flag,
// email addresses or existence visible to the next request of every server
// process: it drops the Redis entries of the user's sessions (which carry the
// user's summary) and, for userChangeHold, refuses to cache the user's
// sessions from reads that may predate the change. Call it after the change
// has committed. An error means Redis could not be told; the stale entries
// then live at most cacheTTL.
func (s *Store) UserChanged(ctx context.Context, tenantID uuid.UUID, userID int64) error {
	rows, err := s.pool.Query(ctx, sqlUserSessionIDs, tenantID, userID)
	if err != nil {
		return fmt.Errorf("sessions: user changed: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return fmt.Errorf("sessions: user changed: %w", err)
	}
	return s.dropUserEntries(ctx, tenantID, userID, ids)
}

// dropUserEntries sets the user's change marker, then deletes the Redis
// entries of the sessions ids (all in the tenant's hash slot), in one round
// trip.
func (s *redisTier) dropUserEntries(ctx context.Context, tenantID uuid.UUID, userID int64, ids [][]byte) error {
	rctx, done := s.guard.Bound(ctx)
	pipe := s.rdb.Pipeline()
	pipe.Set(rctx, userChangedKey(tenantID, userID), "1", userChangeHold)
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = redisKey(tenantID, id)
	}
	if len(keys) > 0 {
		pipe.Del(rctx, keys...)
	}
	_, err := pipe.Exec(rctx)
	done(err)
	// Told even when Redis failed: then the wait for the leases to run out.
	s.bus.invalidate(ctx, keys...)
	if err != nil {
		return fmt.Errorf("sessions: user changed: %w", err)
	}
	return nil
}

// forgetEnded drops the Redis entries of durable sessions whose rows were
// just deleted (ids), and keeps lookups that read the rows before the
// delete from caching them again.
func (s *redisTier) forgetEnded(ctx context.Context, tenantID uuid.UUID, ids [][]byte) {
	if len(ids) == 0 {
		return
	}
	rctx, done := s.guard.Bound(ctx)
	pipe := s.rdb.Pipeline()
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = redisKey(tenantID, id)
		pipe.Set(rctx, endedKey(tenantID, id), "1", userChangeHold)
	}
	pipe.Del(rctx, keys...)
	_, err := pipe.Exec(rctx)
	done(err)
	s.bus.invalidate(ctx, keys...)
}
