// Package sessions keeps the client sessions of tenants' users: what a
// session holds (State, the pending flows of the login pipeline), the store
// (anonymous sessions in Redis, authenticated ones in Postgres with a Redis
// cache and an in-memory layer kept coherent over Redis pub/sub), refresh
// tokens, and the janitor that deletes what has expired.
package sessions

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	json "github.com/goccy/go-json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/metrics"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/pgtext"
	"github.com/hallpass/hallpass/internal/quota"
	"github.com/hallpass/hallpass/internal/redisguard"
)

// ErrNotFound is returned for a token that names no live session.
var ErrNotFound = errors.New("session not found")

// Store keeps sessions: anonymous ones in Redis only (they expire with
// ACCOUNT_LOGIN_TIMEOUT), authenticated ones in Postgres with a Redis cache.
type Store struct {
	// Pending is the tenants' budget of anonymous state: a new anonymous
	// session is stored only within it (nil: unbounded).
	Pending *quota.Pending

	pool *pgxpool.Pool
	// rotations batches concurrent refresh-token rotations (refresh_batch.go).
	rotations *rotateBatcher
	redisTier
}

// redisTier is the store's Redis tier (cache.go): the entries of durable
// sessions, the markers that keep stale reads out of them, and the bus that
// tells the processes keeping entries in memory of every change.
type redisTier struct {
	rdb *redis.Client
	// guard bounds each Redis call: patiently while Redis answers (a busy
	// machine's late answer is still one), briefly once calls fail (a dead
	// Redis must not hold requests that can do without it); shared with
	// everything else calling Redis through rdb (redisguard.For).
	guard *redisguard.Guard
	reads *getBatcher
	// bus publishes every change of a Redis entry to the processes that
	// keep entries in memory (StartLocalCache, bus.go).
	bus *sessionBus
}

// NewStore returns the session store.
func NewStore(pool *pgxpool.Pool, rdb *redis.Client) *Store {
	guard := redisguard.For(rdb)
	return &Store{pool: pool, rotations: newRotateBatcher(pool),
		redisTier: redisTier{rdb: rdb, guard: guard, reads: newGetBatcher(rdb, guard), bus: newSessionBus(rdb)}}
}

// SetRedisTimeout fixes how long each Redis call through the store's Redis
// client may take before it is treated as unavailable, whatever Redis's
// observed health (by default redisguard's budgets: 1 s while Redis
// answers, 250 ms once calls fail). Tests that drive hundreds of parallel
// lookups under the race detector on a loaded machine raise it, so that
// they test what they mean to, not the machine's speed. The guard is
// shared by everything using the same client.
func (s *Store) SetRedisTimeout(d time.Duration) {
	s.guard.SetBudgets(d, d)
}

// New returns an empty anonymous session for a client; it gets a token
// when first saved with something in it.
func (s *Store) New(tenantID uuid.UUID, client, ip, userAgent string) *Session {
	return &Session{TenantID: tenantID, Client: client, IP: pgtext.Clean(ip, maxIPText), UserAgent: pgtext.Clean(userAgent, maxUserAgent), CreatedAt: time.Now()}
}

// pendingID names an anonymous session in the tenant's pending-state budget.
func pendingID(id []byte) string {
	return "sess:" + hex.EncodeToString(id[:min(len(id), 16)])
}

// Lookup finds the session a token names. Redis answers first; an
// authenticated session missing there (evicted, or Redis down) is read from
// Postgres.
func (s *Store) Lookup(ctx context.Context, tenantID uuid.UUID, token, ip, userAgent string) (*Session, error) {
	if token == "" || len(token) > 256 {
		return nil, ErrNotFound
	}
	sess, err := s.LookupID(ctx, tenantID, tokenID(token), ip, userAgent)
	if err != nil {
		return nil, err
	}
	sess.Token, sess.presented = token, token
	return sess, nil
}

// LookupID finds a session by its storage key (how a JWT's sid names it).
func (s *Store) LookupID(ctx context.Context, tenantID uuid.UUID, id []byte, ip, userAgent string) (*Session, error) {
	if len(id) != sha256.Size {
		return nil, ErrNotFound
	}
	sess := &Session{TenantID: tenantID, id: id, IP: pgtext.Clean(ip, maxIPText), UserAgent: pgtext.Clean(userAgent, maxUserAgent)}
	key := redisKey(tenantID, id)
	local := s.bus.local.Load()
	var ticket fillTicket
	if local != nil {
		if c := local.get(key); c != nil && sess.fromEntry(c) {
			metrics.SessionLocalCache(true)
			return sess, nil
		}
		metrics.SessionLocalCache(false)
		ticket = local.ticket(key)
	}
	// The wait for the batch this lookup joins (the batch's own round trip
	// reports to the guard).
	rctx, cancel := context.WithTimeout(ctx, s.guard.Budget())
	raw, rerr := s.reads.get(rctx, key)
	cancel()
	if rerr == nil {
		var c cached
		if json.Unmarshal(raw, &c) == nil && sess.fromEntry(c.withMemo()) {
			metrics.SessionCacheHit()
			if local != nil {
				local.fill(key, &c, ticket)
			}
			return sess, nil
		}
	}
	redisDown := rerr != nil && !errors.Is(rerr, redis.Nil)
	// Redis miss or failure: only durable sessions can be recovered.
	metrics.SessionCacheMiss()
	var methods, data []byte
	var uid int64
	var u User
	var hash string
	read := time.Now()
	// The user's summary comes in the same statement: the entry cached
	// below then answers GET auth/session without Postgres.
	err := s.pool.QueryRow(ctx, sqlLookupSession, tenantID, id).
		Scan(&sess.PublicID, &uid, &sess.Client, &methods, &data, &sess.CreatedAt, &sess.ExpiresAt,
			&u.Username, &hash, &u.Active, &u.PrimaryEmail)
	if errors.Is(err, pgx.ErrNoRows) {
		if redisDown {
			// An anonymous session lives in Redis only, and Redis could not
			// say: "unavailable" (retry), not "gone", so that a Redis blip
			// does not end every flow in progress.
			return nil, fmt.Errorf("sessions: lookup: %w", rerr)
		}
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sessions: lookup: %w", err)
	}
	sess.State = fromDurable(uid, methods, data)
	u.ID, u.UsablePassword = uid, passwords.IsUsable(hash)
	sess.user = &u
	sess.stored = storedPostgres
	if !redisDown {
		s.cache(ctx, sess, read)
	}
	return sess, nil
}

// Save persists a changed session. An anonymous session with nothing in it
// is not stored (and gets no token); one holding a pending flow goes to Redis
// for loginTimeout; an authenticated one is written to Postgres.
func (s *Store) Save(ctx context.Context, sess *Session, loginTimeout time.Duration) error {
	if !sess.dirty {
		return nil
	}
	if sess.State.empty() && sess.stored == storedNowhere {
		// Nothing worth a token yet.
		sess.dirty = false
		return nil
	}
	// A stored session that emptied (an abandoned flow) keeps its token
	// valid until it expires, as a Django session outlives its keys: the
	// client then gets 409s, not 410s.
	if sess.id == nil {
		sess.Token = newToken()
		sess.id = tokenID(sess.Token)
	}
	id := sess.id
	// A session stored before may be held in other processes' memory: they
	// hear of the change. A new one's key was never seen.
	known := sess.stored != storedNowhere
	if sess.Authenticated() {
		methods, data := sess.State.durable()
		var u User
		var hash string
		read := time.Now()
		// The user's summary is read back in the same statement, for the
		// cache entry (see LookupID).
		var row pgx.Row
		if sess.stored == storedPostgres {
			// An existing session is only ever updated: one ended meanwhile
			// (a logout elsewhere, a password change ending the user's other
			// sessions) must not be brought back by a request that loaded
			// it before the end.
			row = s.pool.QueryRow(ctx, sqlUpdateSession, sess.TenantID, id, methods, data)
		} else if len(sess.onSave) > 0 {
			// The work queued with the login (its event) commits with the
			// session's row, or neither does.
			row = doneRow{pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				err := tx.QueryRow(ctx, sqlSaveSession, sess.TenantID, id, sess.State.UserID, sess.Client, methods, data, sess.IP,
					sess.UserAgent, sess.CreatedAt, sess.ExpiresAt).Scan(&sess.PublicID, &u.Username, &hash, &u.Active, &u.PrimaryEmail)
				if err != nil {
					return err
				}
				return sess.runOnSave(ctx, tx)
			})}
		} else {
			row = s.pool.QueryRow(ctx, sqlSaveSession,
				sess.TenantID, id, sess.State.UserID, sess.Client, methods, data, sess.IP, sess.UserAgent, sess.CreatedAt, sess.ExpiresAt)
		}
		err := row.Scan(&sess.PublicID, &u.Username, &hash, &u.Active, &u.PrimaryEmail)
		if errors.Is(err, pgx.ErrNoRows) && sess.stored == storedPostgres {
			// Ended while this request ran: the client is logged out.
			sess.State, sess.Token, sess.id, sess.user = State{}, "", nil, nil
			sess.stored, sess.dirty = storedNowhere, false
			return nil
		}
		if err != nil {
			return fmt.Errorf("sessions: save: %w", err)
		}
		u.ID, u.UsablePassword = sess.State.UserID, passwords.IsUsable(hash)
		sess.user = &u
		sess.stored = storedPostgres
		s.cache(ctx, sess, read)
		if known {
			s.bus.invalidate(ctx, redisKey(sess.TenantID, id))
		}
	} else {
		if sess.ExpiresAt.IsZero() || sess.stored != storedRedis {
			sess.ExpiresAt = time.Now().Add(loginTimeout)
		}
		raw, _ := json.Marshal(cached{State: sess.State, Client: sess.Client, CreatedAt: sess.CreatedAt, ExpiresAt: sess.ExpiresAt})
		ttl := time.Until(sess.ExpiresAt)
		if ttl <= 0 {
			ttl = time.Second
		}
		if sess.stored != storedRedis {
			// A new key in the Redis every tenant shares: within the
			// tenant's budget only.
			if err := s.Pending.Reserve(ctx, sess.TenantID, pendingID(id), ttl); err != nil {
				return fmt.Errorf("sessions: save pending flow: %w", err)
			}
		}
		rctx, done := s.guard.Bound(ctx)
		err := s.rdb.Set(rctx, redisKey(sess.TenantID, id), raw, ttl).Err()
		done(err)
		if err != nil {
			return fmt.Errorf("sessions: save pending flow: %w", err)
		}
		if known {
			s.bus.invalidate(ctx, redisKey(sess.TenantID, id))
		}
		sess.stored = storedRedis
	}
	sess.dirty = false
	return nil
}

// Delete ends a session wherever it is stored.
// The work the session queued with OnEnd runs in the transaction that
// deletes its row.
func (s *Store) Delete(ctx context.Context, sess *Session) error {
	hook := sess.endHook()
	if sess.id == nil {
		return nil
	}
	id := sess.id
	if sess.stored == storedPostgres {
		var err error
		if hook == nil {
			_, err = s.pool.Exec(ctx, `DELETE FROM sessions WHERE tenant_id = $1 AND id = $2`, sess.TenantID, id)
		} else {
			_, err = endWith(ctx, s.pool, hook, `DELETE FROM sessions WHERE tenant_id = $1 AND id = $2`+sqlEndReturning, sess.TenantID, id)
		}
		if err != nil {
			return fmt.Errorf("sessions: delete: %w", err)
		}
	}
	rctx, done := s.guard.Bound(ctx)
	pipe := s.rdb.Pipeline()
	if sess.stored == storedPostgres {
		// A lookup on another node may have read the row before the
		// delete: its cache write must not bring the session back.
		pipe.Set(rctx, endedKey(sess.TenantID, id), "1", userChangeHold)
	}
	pipe.Del(rctx, redisKey(sess.TenantID, id))
	_, err := pipe.Exec(rctx)
	done(err)
	s.bus.invalidate(ctx, redisKey(sess.TenantID, id))
	if err != nil && sess.stored != storedPostgres {
		return fmt.Errorf("sessions: delete: %w", err)
	}
	if sess.stored == storedRedis {
		s.Pending.Release(ctx, sess.TenantID, pendingID(id))
	}
	sess.stored = storedNowhere
	return nil
}

// DeleteID ends the session with storage key id (refresh-token reuse
// revokes the session it belongs to).
func (s *Store) DeleteID(ctx context.Context, tenantID uuid.UUID, id []byte) error {
	return s.Delete(ctx, &Session{TenantID: tenantID, id: id, stored: storedPostgres})
}

// Login logs userID in on sess: the old token is discarded and a new one
// issued (as Django cycles the session key), the pending flow is cleared,
// and the session becomes durable for lifetime.
func (s *Store) Login(ctx context.Context, sess *Session, userID int64, lifetime time.Duration) error {
	if err := s.Delete(ctx, sess); err != nil {
		return err
	}
	sess.Token = newToken()
	sess.id = tokenID(sess.Token)
	sess.State.UserID = userID
	sess.State.Login = nil
	sess.CreatedAt = time.Now()
	sess.ExpiresAt = sess.CreatedAt.Add(lifetime)
	sess.dirty = true
	return nil
}

// Logout ends the session and clears its state; the client gets no new token.
// Work queued with OnEnd runs in the transaction that deletes its row.
func (s *Store) Logout(ctx context.Context, sess *Session) error {
	if err := s.Delete(ctx, sess); err != nil {
		return err
	}
	sess.State = State{}
	sess.Token, sess.id = "", nil
	sess.dirty = false
	return nil
}

// EndUserSessions ends every session of a user except keep (nil: all). It
// follows a change to the user (a new password, a deactivation, a deletion),
// so the kept session's cached entry is dropped as well (see UserChanged).
func (s *Store) EndUserSessions(ctx context.Context, tenantID uuid.UUID, userID int64, keep []byte) error {
	return s.EndUserSessionsWith(ctx, tenantID, userID, keep, nil)
}

// primaryEmailOf is the SQL expression for the primary address of the user
// of the sessions row alias (served by email_addresses_one_primary).
func primaryEmailOf(alias string) string {
	return `coalesce((SELECT e.email FROM email_addresses e WHERE e.tenant_id = ` + alias + `.tenant_id AND e.user_id = ` + alias + `.user_id AND e.is_primary), '')`
}

// The session store's SQL, named so the plan checks (explain_test.go) run
// exactly what the store runs.
var (
	// sqlLookupSession reads a durable session and its user's summary ($1
	// tenant, $2 session id).
	sqlLookupSession = `SELECT s.public_id, s.user_id, s.client, s.methods, s.data, s.created_at, s.expires_at,
		coalesce(u.username, ''), u.password_hash, u.is_active, ` + primaryEmailOf("s") + `
		FROM sessions s JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id
		WHERE s.tenant_id = $1 AND s.id = $2 AND s.expires_at > now()`
	// sqlSaveSession upserts an authenticated session and reads its user's
	// summary back.
	sqlSaveSession = `WITH s AS (
			INSERT INTO sessions (tenant_id, id, user_id, client, methods, data, ip, user_agent, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (tenant_id, id) DO UPDATE SET methods = EXCLUDED.methods, data = EXCLUDED.data, last_seen_at = now()
			RETURNING tenant_id, user_id, public_id)
			SELECT s.public_id, coalesce(u.username, ''), u.password_hash, u.is_active, ` + primaryEmailOf("s") + `
			FROM s JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id`
	// sqlUpdateSession updates a stored session's state ($1 tenant, $2
	// session id, $3 methods, $4 data) and reads its user's summary back;
	// no row when the session has ended.
	sqlUpdateSession = `WITH s AS (
			UPDATE sessions SET methods = $3, data = $4, last_seen_at = now()
			WHERE tenant_id = $1 AND id = $2 AND expires_at > now()
			RETURNING tenant_id, user_id, public_id)
			SELECT s.public_id, coalesce(u.username, ''), u.password_hash, u.is_active, ` + primaryEmailOf("s") + `
			FROM s JOIN users u ON u.tenant_id = s.tenant_id AND u.id = s.user_id`
	// sqlUserSessionIDs lists a user's sessions ($1 tenant, $2 user).
	sqlUserSessionIDs = `SELECT id FROM sessions WHERE tenant_id = $1 AND user_id = $2`
)
