package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	json "github.com/goccy/go-json"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/metrics"
	"github.com/hallpass/hallpass/internal/pgtext"
	"github.com/hallpass/hallpass/internal/quota"
)

// ErrSessionNotFound is returned for a token that names no live session.
var ErrSessionNotFound = errors.New("session not found")

// AuthRecord is one entry of allauth's authentication log for a session
// (`methods` in responses): which method, when, and its details.
type AuthRecord struct {
	Method          string  `json:"method"`
	At              float64 `json:"at"`
	Email           string  `json:"email,omitempty"`
	Username        string  `json:"username,omitempty"`
	Reauthenticated bool    `json:"reauthenticated,omitempty"`
	// MFA records: the authenticator's type and id; passwordless for a
	// passkey login.
	Type         string `json:"type,omitempty"`
	ID           int64  `json:"id,omitempty"`
	Passwordless bool   `json:"passwordless,omitempty"`
	// Social records: the provider (sub-id) and the account uid.
	Provider string `json:"provider,omitempty"`
	UID      string `json:"uid,omitempty"`
}

// PendingLogin is a login (or signup) that has stages left to pass; it
// lives in the unauthenticated session until it completes or times out.
type PendingLogin struct {
	// UserID is 0 for the decoy login enumeration prevention runs when a
	// signup uses a taken address.
	UserID    int64     `json:"uid"`
	Email     string    `json:"email,omitempty"`
	Signup    bool      `json:"signup,omitempty"`
	Stage     string    `json:"stage"`
	StartedAt time.Time `json:"started_at"`
	// Passkey marks a login by passkey: it needs no further MFA stage.
	Passkey bool `json:"passkey,omitempty"`
	// MFADone records that mfa_authenticate passed in this login (the trust
	// stage may follow).
	MFADone bool `json:"mfa_done,omitempty"`
	// PasskeySignup marks a signup that ends by registering a passkey.
	PasskeySignup bool `json:"passkey_signup,omitempty"`
}

// CodeProcess is a one-time-code flow bound to a session: email
// verification, login by code, or password reset by code. UserID 0 marks
// the decoy run for an unknown address (enumeration prevention).
type CodeProcess struct {
	// ID names the process's attempt counter (newProcessID).
	ID       string `json:"id,omitempty"`
	UserID   int64  `json:"uid"`
	EmailID  int64  `json:"email_id,omitempty"`
	Email    string `json:"email"`
	CodeHash string `json:"code_hash"`
	// Attempts is how many attempts were taken when this copy of the
	// session was saved; the count that decides is in Redis (takeAttempt).
	Attempts  int       `json:"attempts"`
	Resends   int       `json:"resends"`
	Confirmed bool      `json:"confirmed,omitempty"`
	Expires   time.Time `json:"expires"`
}

// EmailCodeProcess is an email verification by code.
type EmailCodeProcess = CodeProcess

// SessionState is what a session holds, allauth's session keys as fields.
type SessionState struct {
	UserID    int64             `json:"uid,omitempty"`
	Methods   []AuthRecord      `json:"methods,omitempty"`
	Login     *PendingLogin     `json:"login,omitempty"`
	EmailCode *EmailCodeProcess `json:"email_code,omitempty"`
	LoginCode *CodeProcess      `json:"login_code,omitempty"`
	ResetCode *CodeProcess      `json:"reset_code,omitempty"`
	// EmailChanges counts address changes during a pending verification
	// (ACCOUNT_EMAIL_VERIFICATION_SUPPORTS_CHANGE).
	EmailChanges int `json:"email_changes,omitempty"`
	// PendingTOTP is the sealed TOTP secret offered for activation.
	PendingTOTP string `json:"totp,omitempty"`
	// Ceremonies holds WebAuthn ceremony states by purpose, each used once.
	Ceremonies map[string][]byte `json:"ceremonies,omitempty"`
	// SocialSignup is a provider login waiting for the signup form.
	SocialSignup *PendingSocialSignup `json:"social_signup,omitempty"`
	// OAuthFlows are the hashes of the provider redirect flows this session
	// started and has not finished (at most MaxOAuthFlows, newest last).
	OAuthFlows []string `json:"oauth_flows,omitempty"`
}

// empty reports whether the state holds nothing (TestSessionStateEmpty
// checks that every field counts).
func (s SessionState) empty() bool {
	return s.UserID == 0 && len(s.Methods) == 0 && s.Login == nil && s.EmailCode == nil && s.LoginCode == nil && s.ResetCode == nil &&
		s.EmailChanges == 0 && s.PendingTOTP == "" && len(s.Ceremonies) == 0 && s.SocialSignup == nil && len(s.OAuthFlows) == 0
}

// The state is stored as its JSON encoding, whole: in Redis inside a cache
// entry (cached.State), and in Postgres as the sessions row's data, except
// the two fields with columns of their own (user_id, methods). durable and
// fromDurable are the Postgres side; a field is persisted by being in the
// struct (TestSessionStateRoundTrip fills every field and reads it back
// through each path).

// durable returns what a sessions row stores of the state: the methods
// column and the data column (everything else but the user).
func (s SessionState) durable() (methods, data []byte) {
	methods, _ = json.Marshal(s.Methods)
	rest := s
	rest.UserID, rest.Methods = 0, nil
	data, _ = json.Marshal(rest)
	return methods, data
}

// fromDurable rebuilds the state from a sessions row's columns.
func fromDurable(userID int64, methods, data []byte) SessionState {
	var s SessionState
	if len(data) > 0 {
		_ = json.Unmarshal(data, &s)
	}
	s.UserID, s.Methods = userID, nil
	_ = json.Unmarshal(methods, &s.Methods)
	return s
}

// Session is one client session of a tenant: anonymous (kept in Redis while
// it holds a pending flow) or authenticated (durable in Postgres, cached in
// Redis).
type Session struct {
	TenantID uuid.UUID
	// Token is the bearer value (X-Session-Token or the session cookie). It
	// is known only to the request that created it or presented it.
	Token     string
	PublicID  int64
	Client    string
	IP        string
	UserAgent string
	CreatedAt time.Time
	ExpiresAt time.Time
	State     SessionState

	// id is the storage key: SHA-256 of the token. A session reached through
	// a JWT's sid has an id but no token.
	id []byte
	// presented is the token the client sent, to tell whether it changed.
	presented string
	// stored says where the session lives now.
	stored storage
	dirty  bool
	// user is what the authentication response shows of State.UserID, read
	// with the session (from its Redis entry or in the same Postgres
	// statement); nil when not known.
	user *SessionUser
}

// SessionUser is what allauth's authentication response shows of a
// session's user. It is kept in the session's Redis entry so that GET
// auth/session reads nothing from Postgres; Sessions.UserChanged drops it
// whenever one of these facts may have changed. The password hash itself is
// never cached, only whether it is usable.
type SessionUser struct {
	ID             int64  `json:"i"`
	Username       string `json:"n,omitempty"`
	PrimaryEmail   string `json:"e,omitempty"`
	UsablePassword bool   `json:"p,omitempty"`
	Active         bool   `json:"a,omitempty"`
}

// Display is how allauth shows the user (as User.Display).
func (u *SessionUser) Display() string {
	if u.Username != "" {
		return u.Username
	}
	return "user"
}

// User returns the session's user as read with the session, or nil when it
// was not (a session logged in during this request and not yet saved, or one
// whose cached entry predates the user's summary). It is as fresh as the
// session's cache entry: every change to these facts goes through
// Sessions.UserChanged, which drops the entries of the user's sessions.
func (s *Session) User() *SessionUser {
	if s.user == nil || s.user.ID != s.State.UserID || s.State.UserID == 0 {
		return nil
	}
	return s.user
}

type storage int

const (
	storedNowhere storage = iota
	storedRedis
	storedPostgres
)

// ID is the session's storage key (SHA-256 of its token); nil before the
// session is first saved.
func (s *Session) ID() []byte { return s.id }

// Authenticated reports whether a user is logged in on this session.
func (s *Session) Authenticated() bool { return s.State.UserID != 0 }

// Changed marks the session for saving at the end of the request.
func (s *Session) Changed() { s.dirty = true }

// Dirty reports whether the session must be saved.
func (s *Session) Dirty() bool { return s.dirty }

// StoresNewPending reports whether saving the session would store a new
// anonymous session (the pending flow of a client not logged in) in Redis:
// what the per-IP anonymous_session limit and the tenant's pending-state
// budget count.
func (s *Session) StoresNewPending() bool {
	return s.dirty && !s.Authenticated() && s.stored == storedNowhere && !s.State.empty()
}

// NewToken reports whether the client must be told a new token: the session
// has a token other than the one presented, and is worth keeping.
func (s *Session) NewToken() bool {
	return s.Token != "" && s.Token != s.presented && !s.State.empty()
}

// redisTimeout bounds each Redis call of the session store. A healthy Redis
// answers in well under a millisecond; a dead one would otherwise hold the
// request for go-redis's dial retries (seconds) before Postgres is asked.
const redisTimeout = 250 * time.Millisecond

// Sessions stores sessions: anonymous ones in Redis only (they expire with
// ACCOUNT_LOGIN_TIMEOUT), authenticated ones in Postgres with a Redis cache.
type Sessions struct {
	// Pending is the tenants' budget of anonymous state: a new anonymous
	// session is stored only within it (nil: unbounded).
	Pending *quota.Pending

	pool  *pgxpool.Pool
	rdb   *redis.Client
	reads *getBatcher
	// rotations batches concurrent refresh-token rotations (refresh_batch.go).
	rotations *rotateBatcher
	// bus publishes every change of a Redis entry to the processes that
	// keep entries in memory (StartLocalCache, sessionlocal.go).
	bus *sessionBus
}

// NewSessions returns the session store.
func NewSessions(pool *pgxpool.Pool, rdb *redis.Client) *Sessions {
	return &Sessions{pool: pool, rdb: rdb, reads: newGetBatcher(rdb), rotations: newRotateBatcher(pool), bus: newSessionBus(rdb)}
}

// SetRedisTimeout changes how long each Redis call of the store may take
// (250 ms by default) before the store treats Redis as unavailable. Tests
// that drive hundreds of parallel lookups under the race detector on a
// loaded machine raise it, so that they test what they mean to, not the
// machine's speed.
func (s *Sessions) SetRedisTimeout(d time.Duration) {
	if d > 0 {
		s.reads.timeout.Store(int64(d))
	}
}

// redisTimeout bounds one Redis call of the store.
func (s *Sessions) redisTimeout() time.Duration { return time.Duration(s.reads.timeout.Load()) }

// New returns an empty anonymous session for a client; it gets a token
// when first saved with something in it.
func (s *Sessions) New(tenantID uuid.UUID, client, ip, userAgent string) *Session {
	return &Session{TenantID: tenantID, Client: client, IP: pgtext.Clean(ip, maxIPText), UserAgent: pgtext.Clean(userAgent, maxUserAgent), CreatedAt: time.Now()}
}

// tokenID is the storage key of a token: its SHA-256.
func tokenID(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

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

// pendingID names an anonymous session in the tenant's pending-state budget.
func pendingID(id []byte) string {
	return "sess:" + hex.EncodeToString(id[:min(len(id), 16)])
}

// cached is a session as kept in Redis.
type cached struct {
	State     SessionState `json:"s"`
	Client    string       `json:"c"`
	PublicID  int64        `json:"p,omitempty"`
	CreatedAt time.Time    `json:"t"`
	ExpiresAt time.Time    `json:"e"`
	Durable   bool         `json:"d,omitempty"`
	User      *SessionUser `json:"u,omitempty"`
}

// Lookup finds the session a token names. Redis answers first; an
// authenticated session missing there (evicted, or Redis down) is read from
// Postgres.
func (s *Sessions) Lookup(ctx context.Context, tenantID uuid.UUID, token, ip, userAgent string) (*Session, error) {
	if token == "" || len(token) > 256 {
		return nil, ErrSessionNotFound
	}
	sess, err := s.LookupID(ctx, tenantID, tokenID(token), ip, userAgent)
	if err != nil {
		return nil, err
	}
	sess.Token, sess.presented = token, token
	return sess, nil
}

// LookupID finds a session by its storage key (how a JWT's sid names it).
func (s *Sessions) LookupID(ctx context.Context, tenantID uuid.UUID, id []byte, ip, userAgent string) (*Session, error) {
	if len(id) != sha256.Size {
		return nil, ErrSessionNotFound
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
	rctx, cancel := context.WithTimeout(ctx, s.redisTimeout())
	raw, rerr := s.reads.get(rctx, key)
	cancel()
	if rerr == nil {
		var c cached
		if json.Unmarshal(raw, &c) == nil && sess.fromEntry(&c) {
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
	var u SessionUser
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
		return nil, ErrSessionNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sessions: lookup: %w", err)
	}
	sess.State = fromDurable(uid, methods, data)
	u.ID, u.UsablePassword = uid, IsUsablePassword(hash)
	sess.user = &u
	sess.stored = storedPostgres
	if !redisDown {
		s.cache(ctx, sess, read)
	}
	return sess, nil
}

// fromEntry fills sess from a cache entry, which it leaves untouched (the
// local cache shares it between requests); false when it has expired.
func (sess *Session) fromEntry(c *cached) bool {
	if !time.Now().Before(c.ExpiresAt) {
		return false
	}
	sess.State, sess.Client, sess.PublicID, sess.CreatedAt, sess.ExpiresAt = c.State.clone(), c.Client, c.PublicID, c.CreatedAt, c.ExpiresAt
	if c.User != nil {
		u := *c.User
		sess.user = &u
	}
	sess.stored = storedRedis
	if c.Durable {
		sess.stored = storedPostgres
	}
	return true
}

// clone copies the state deep enough that changing the copy (a request's
// session) cannot change the original (a cache entry shared by requests):
// every slice, map and pointer is copied; with a flow in progress, through
// the state's JSON encoding, which holds every field (TestSessionStateCloneSharesNothing,
// TestSessionStateRoundTrip).
func (s SessionState) clone() SessionState {
	out := s
	out.Methods = slices.Clone(s.Methods)
	out.OAuthFlows = slices.Clone(s.OAuthFlows)
	if s.Login != nil || s.EmailCode != nil || s.LoginCode != nil || s.ResetCode != nil || s.Ceremonies != nil || s.SocialSignup != nil {
		// A flow in progress: rare on the hot path, so the simplest deep
		// copy there is.
		var deep SessionState
		raw, _ := json.Marshal(s)
		_ = json.Unmarshal(raw, &deep)
		deep.Methods, deep.OAuthFlows = out.Methods, out.OAuthFlows
		return deep
	}
	return out
}

// primaryEmailOf is the SQL expression for the primary address of the user
// of the sessions row alias (served by email_addresses_one_primary).
func primaryEmailOf(alias string) string {
	return `coalesce((SELECT e.email FROM email_addresses e WHERE e.tenant_id = ` + alias + `.tenant_id AND e.user_id = ` + alias + `.user_id AND e.is_primary), '')`
}

// Save persists a changed session. An anonymous session with nothing in it
// is not stored (and gets no token); one holding a pending flow goes to Redis
// for loginTimeout; an authenticated one is written to Postgres.
func (s *Sessions) Save(ctx context.Context, sess *Session, loginTimeout time.Duration) error {
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
		var u SessionUser
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
		} else {
			row = s.pool.QueryRow(ctx, sqlSaveSession,
				sess.TenantID, id, sess.State.UserID, sess.Client, methods, data, sess.IP, sess.UserAgent, sess.CreatedAt, sess.ExpiresAt)
		}
		err := row.Scan(&sess.PublicID, &u.Username, &hash, &u.Active, &u.PrimaryEmail)
		if errors.Is(err, pgx.ErrNoRows) && sess.stored == storedPostgres {
			// Ended while this request ran: the client is logged out.
			sess.State, sess.Token, sess.id, sess.user = SessionState{}, "", nil, nil
			sess.stored, sess.dirty = storedNowhere, false
			return nil
		}
		if err != nil {
			return fmt.Errorf("sessions: save: %w", err)
		}
		u.ID, u.UsablePassword = sess.State.UserID, IsUsablePassword(hash)
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
		rctx, cancel := context.WithTimeout(ctx, s.redisTimeout())
		defer cancel()
		if err := s.rdb.Set(rctx, redisKey(sess.TenantID, id), raw, ttl).Err(); err != nil {
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

// userChangeHold is how long Sessions.UserChanged's marker refuses cache
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
func (s *Sessions) cache(ctx context.Context, sess *Session, read time.Time) {
	key := redisKey(sess.TenantID, sess.id)
	rctx, cancel := context.WithTimeout(ctx, s.redisTimeout())
	defer cancel()
	ttl := min(time.Until(sess.ExpiresAt), cacheTTL)
	if ttl < time.Millisecond || time.Since(read) > maxCacheLag {
		// Too old to be trusted against a concurrent UserChanged: make sure
		// no older entry outlives this save.
		_ = s.rdb.Del(rctx, key).Err()
		return
	}
	raw, _ := json.Marshal(cached{State: sess.State, Client: sess.Client, PublicID: sess.PublicID, CreatedAt: sess.CreatedAt,
		ExpiresAt: sess.ExpiresAt, Durable: true, User: sess.User()})
	_ = cacheScript.Run(rctx, s.rdb, []string{key, userChangedKey(sess.TenantID, sess.State.UserID), endedKey(sess.TenantID, sess.id)}, raw, ttl.Milliseconds()).Err()
}

// UserChanged makes a change to a user's username, password, active flag,
// email addresses or existence visible to the next request of every server
// process: it drops the Redis entries of the user's sessions (which carry the
// user's summary) and, for userChangeHold, refuses to cache the user's
// sessions from reads that may predate the change. Call it after the change
// has committed. An error means Redis could not be told; the stale entries
// then live at most cacheTTL.
func (s *Sessions) UserChanged(ctx context.Context, tenantID uuid.UUID, userID int64) error {
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
func (s *Sessions) dropUserEntries(ctx context.Context, tenantID uuid.UUID, userID int64, ids [][]byte) error {
	rctx, cancel := context.WithTimeout(ctx, s.redisTimeout())
	defer cancel()
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
	// Told even when Redis failed: then the wait for the leases to run out.
	s.bus.invalidate(ctx, keys...)
	if err != nil {
		return fmt.Errorf("sessions: user changed: %w", err)
	}
	return nil
}

// Delete ends a session wherever it is stored.
func (s *Sessions) Delete(ctx context.Context, sess *Session) error {
	if sess.id == nil {
		return nil
	}
	id := sess.id
	if sess.stored == storedPostgres {
		if _, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE tenant_id = $1 AND id = $2`, sess.TenantID, id); err != nil {
			return fmt.Errorf("sessions: delete: %w", err)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, s.redisTimeout())
	defer cancel()
	pipe := s.rdb.Pipeline()
	if sess.stored == storedPostgres {
		// A lookup on another node may have read the row before the
		// delete: its cache write must not bring the session back.
		pipe.Set(rctx, endedKey(sess.TenantID, id), "1", userChangeHold)
	}
	pipe.Del(rctx, redisKey(sess.TenantID, id))
	_, err := pipe.Exec(rctx)
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

// forgetEnded drops the Redis entries of durable sessions whose rows were
// just deleted (ids), and keeps lookups that read the rows before the
// delete from caching them again.
func (s *Sessions) forgetEnded(ctx context.Context, tenantID uuid.UUID, ids [][]byte) {
	if len(ids) == 0 {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, s.redisTimeout())
	defer cancel()
	pipe := s.rdb.Pipeline()
	keys := make([]string, len(ids))
	for i, id := range ids {
		keys[i] = redisKey(tenantID, id)
		pipe.Set(rctx, endedKey(tenantID, id), "1", userChangeHold)
	}
	pipe.Del(rctx, keys...)
	_, _ = pipe.Exec(rctx)
	s.bus.invalidate(ctx, keys...)
}

// DeleteID ends the session with storage key id (refresh-token reuse
// revokes the session it belongs to).
func (s *Sessions) DeleteID(ctx context.Context, tenantID uuid.UUID, id []byte) error {
	return s.Delete(ctx, &Session{TenantID: tenantID, id: id, stored: storedPostgres})
}

// Login logs userID in on sess: the old token is discarded and a new one
// issued (as Django cycles the session key), the pending flow is cleared,
// and the session becomes durable for lifetime.
func (s *Sessions) Login(ctx context.Context, sess *Session, userID int64, lifetime time.Duration) error {
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
func (s *Sessions) Logout(ctx context.Context, sess *Session) error {
	if err := s.Delete(ctx, sess); err != nil {
		return err
	}
	sess.State = SessionState{}
	sess.Token, sess.id = "", nil
	sess.dirty = false
	return nil
}

// newToken returns 256 random bits, URL-safe.
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// What a session keeps of the client's User-Agent and address: valid UTF-8
// (a header may carry any byte), cut on a character boundary.
const (
	maxUserAgent = 512
	maxIPText    = 100
)

// EndUserSessions ends every session of a user except keep (nil: all). It
// follows a change to the user (a new password, a deactivation, a deletion),
// so the kept session's cached entry is dropped as well (see UserChanged).
func (s *Sessions) EndUserSessions(ctx context.Context, tenantID uuid.UUID, userID int64, keep []byte) error {
	rows, err := s.pool.Query(ctx, `DELETE FROM sessions WHERE tenant_id = $1 AND user_id = $2 AND ($3::bytea IS NULL OR id <> $3)
		RETURNING id`, tenantID, userID, keep)
	if err != nil {
		return fmt.Errorf("sessions: end user sessions: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return err
	}
	if keep != nil {
		ids = append(ids, keep)
	}
	// Best effort, as before: the Postgres rows are gone, and a lookup that
	// misses Redis finds nothing.
	_ = s.dropUserEntries(ctx, tenantID, userID, ids)
	return nil
}

// getBatcher gathers the session GETs of concurrent requests into pipelines
// (one write and one read for many lookups instead of one each), the way
// auto-pipelining Redis clients do. Under load most of a session check's
// cost was the two syscalls of its own Redis round trip, on both ends.
// Pipelined GETs (not MGET) keep it valid on Redis Cluster, where the keys
// of different tenants live in different slots.
type getBatcher struct {
	rdb *redis.Client
	q   batchQueue[*getReq]
	// timeout bounds each round trip (Sessions.SetRedisTimeout).
	timeout atomic.Int64
}

func newGetBatcher(rdb *redis.Client) *getBatcher {
	b := &getBatcher{rdb: rdb}
	b.timeout.Store(int64(redisTimeout))
	// At most 4 round trips in flight, each carrying at most 64 GETs.
	b.q = batchQueue[*getReq]{workers: 4, maxBatch: 64, serve: b.run}
	return b
}

// getReq is one lookup waiting for its batch.
type getReq struct {
	key  string
	val  []byte
	err  error
	done chan struct{}
}

var getReqPool = sync.Pool{New: func() any { return &getReq{done: make(chan struct{}, 1)} }}

// get returns the value at key (redis.Nil when there is none).
func (b *getBatcher) get(ctx context.Context, key string) ([]byte, error) {
	r := getReqPool.Get().(*getReq)
	r.key, r.val, r.err = key, nil, nil
	if !b.q.submit(ctx, r) {
		getReqPool.Put(r)
		return nil, ctx.Err()
	}
	select {
	case <-r.done:
		val, err := r.val, r.err
		getReqPool.Put(r)
		return val, err
	case <-ctx.Done():
		// The worker still owns r and will answer into its buffered
		// channel; r is left to the garbage collector.
		return nil, ctx.Err()
	}
}

// run sends one batch's GETs in one round trip and answers each request.
func (b *getBatcher) run(batch []*getReq) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(b.timeout.Load()))
	defer cancel()
	if len(batch) == 1 {
		r := batch[0]
		r.val, r.err = b.rdb.Get(ctx, r.key).Bytes()
	} else {
		pipe := b.rdb.Pipeline()
		cmds := make([]*redis.StringCmd, len(batch))
		for i, r := range batch {
			cmds[i] = pipe.Get(ctx, r.key)
		}
		_, _ = pipe.Exec(ctx)
		for i, r := range batch {
			r.val, r.err = cmds[i].Bytes()
		}
	}
	for _, r := range batch {
		r.done <- struct{}{}
	}
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
