package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/metrics"
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
	UserID    int64     `json:"uid"`
	EmailID   int64     `json:"email_id,omitempty"`
	Email     string    `json:"email"`
	CodeHash  string    `json:"code_hash"`
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

func (s SessionState) empty() bool {
	return s.UserID == 0 && len(s.Methods) == 0 && s.Login == nil && s.EmailCode == nil && s.LoginCode == nil && s.ResetCode == nil &&
		len(s.Ceremonies) == 0 && s.SocialSignup == nil && len(s.OAuthFlows) == 0
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
	pool *pgxpool.Pool
	rdb  *redis.Client
}

// NewSessions returns the session store.
func NewSessions(pool *pgxpool.Pool, rdb *redis.Client) *Sessions {
	return &Sessions{pool: pool, rdb: rdb}
}

// New returns an empty anonymous session for a client; it gets a token
// when first saved with something in it.
func (s *Sessions) New(tenantID uuid.UUID, client, ip, userAgent string) *Session {
	return &Session{TenantID: tenantID, Client: client, IP: ip, UserAgent: truncate(userAgent, 512), CreatedAt: time.Now()}
}

// tokenID is the storage key of a token: its SHA-256.
func tokenID(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

func redisKey(tenantID uuid.UUID, id []byte) string {
	return "hp:{" + tenantID.String() + "}:sess:" + hex.EncodeToString(id)
}

// cached is a session as kept in Redis.
type cached struct {
	State     SessionState `json:"s"`
	Client    string       `json:"c"`
	PublicID  int64        `json:"p,omitempty"`
	CreatedAt time.Time    `json:"t"`
	ExpiresAt time.Time    `json:"e"`
	Durable   bool         `json:"d,omitempty"`
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
	sess := &Session{TenantID: tenantID, id: id, IP: ip, UserAgent: truncate(userAgent, 512)}
	rctx, cancel := context.WithTimeout(ctx, redisTimeout)
	raw, rerr := s.rdb.Get(rctx, redisKey(tenantID, id)).Bytes()
	cancel()
	if rerr == nil {
		var c cached
		if json.Unmarshal(raw, &c) == nil && time.Now().Before(c.ExpiresAt) {
			metrics.SessionCacheHit()
			sess.State, sess.Client, sess.PublicID, sess.CreatedAt, sess.ExpiresAt = c.State, c.Client, c.PublicID, c.CreatedAt, c.ExpiresAt
			sess.stored = storedRedis
			if c.Durable {
				sess.stored = storedPostgres
			}
			return sess, nil
		}
	}
	redisDown := rerr != nil && !errors.Is(rerr, redis.Nil)
	// Redis miss or failure: only durable sessions can be recovered.
	metrics.SessionCacheMiss()
	var methods, data []byte
	err := s.pool.QueryRow(ctx, `SELECT public_id, user_id, client, methods, data, created_at, expires_at
		FROM sessions WHERE tenant_id = $1 AND id = $2 AND expires_at > now()`, tenantID, id).
		Scan(&sess.PublicID, &sess.State.UserID, &sess.Client, &methods, &data, &sess.CreatedAt, &sess.ExpiresAt)
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
	uid := sess.State.UserID
	if len(data) > 0 {
		_ = json.Unmarshal(data, &sess.State)
	}
	sess.State.UserID = uid
	_ = json.Unmarshal(methods, &sess.State.Methods)
	sess.stored = storedPostgres
	if !redisDown {
		s.cache(ctx, sess)
	}
	return sess, nil
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
	if sess.Authenticated() {
		methods, _ := json.Marshal(sess.State.Methods)
		data, _ := json.Marshal(SessionState{Login: sess.State.Login, EmailCode: sess.State.EmailCode, LoginCode: sess.State.LoginCode,
			ResetCode: sess.State.ResetCode, PendingTOTP: sess.State.PendingTOTP, Ceremonies: sess.State.Ceremonies, OAuthFlows: sess.State.OAuthFlows})
		err := s.pool.QueryRow(ctx, `INSERT INTO sessions (tenant_id, id, user_id, client, methods, data, ip, user_agent, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (tenant_id, id) DO UPDATE SET methods = EXCLUDED.methods, data = EXCLUDED.data, last_seen_at = now()
			RETURNING public_id`,
			sess.TenantID, id, sess.State.UserID, sess.Client, methods, data, sess.IP, sess.UserAgent, sess.CreatedAt, sess.ExpiresAt).Scan(&sess.PublicID)
		if err != nil {
			return fmt.Errorf("sessions: save: %w", err)
		}
		sess.stored = storedPostgres
		s.cache(ctx, sess)
	} else {
		if sess.ExpiresAt.IsZero() || sess.stored != storedRedis {
			sess.ExpiresAt = time.Now().Add(loginTimeout)
		}
		raw, _ := json.Marshal(cached{State: sess.State, Client: sess.Client, CreatedAt: sess.CreatedAt, ExpiresAt: sess.ExpiresAt})
		ttl := time.Until(sess.ExpiresAt)
		if ttl <= 0 {
			ttl = time.Second
		}
		rctx, cancel := context.WithTimeout(ctx, redisTimeout)
		defer cancel()
		if err := s.rdb.Set(rctx, redisKey(sess.TenantID, id), raw, ttl).Err(); err != nil {
			return fmt.Errorf("sessions: save pending flow: %w", err)
		}
		sess.stored = storedRedis
	}
	sess.dirty = false
	return nil
}

// cache puts a durable session into Redis; failure only costs a Postgres read later.
func (s *Sessions) cache(ctx context.Context, sess *Session) {
	raw, _ := json.Marshal(cached{State: sess.State, Client: sess.Client, PublicID: sess.PublicID, CreatedAt: sess.CreatedAt, ExpiresAt: sess.ExpiresAt, Durable: true})
	ttl := min(time.Until(sess.ExpiresAt), time.Hour)
	if ttl > 0 {
		rctx, cancel := context.WithTimeout(ctx, redisTimeout)
		defer cancel()
		_ = s.rdb.Set(rctx, redisKey(sess.TenantID, sess.id), raw, ttl).Err()
	}
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
	rctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	if err := s.rdb.Del(rctx, redisKey(sess.TenantID, id)).Err(); err != nil && sess.stored != storedPostgres {
		return fmt.Errorf("sessions: delete: %w", err)
	}
	sess.stored = storedNowhere
	return nil
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

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// EndUserSessions ends every session of a user except keep (nil: all).
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
	for _, id := range ids {
		rctx, cancel := context.WithTimeout(ctx, redisTimeout)
		_ = s.rdb.Del(rctx, redisKey(tenantID, id)).Err()
		cancel()
	}
	return nil
}
