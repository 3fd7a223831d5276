package sessions

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

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
	State     State

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
	user *User
	// onSave is the work OnSave queued for the next save to Postgres.
	onSave []InTx
	// onEnd is the work OnEnd queued for the deletion of its row.
	onEnd []EndHook
}

// User is what allauth's authentication response shows of a
// session's user. It is kept in the session's Redis entry so that GET
// auth/session reads nothing from Postgres; Store.UserChanged drops it
// whenever one of these facts may have changed. The password hash itself is
// never cached, only whether it is usable.
type User struct {
	ID             int64  `json:"i"`
	Username       string `json:"n,omitempty"`
	PrimaryEmail   string `json:"e,omitempty"`
	UsablePassword bool   `json:"p,omitempty"`
	Active         bool   `json:"a,omitempty"`

	// memo holds a rendering derived from the user (the tenant's
	// serializer keys), shared by every copy of a summary decoded from one
	// cache entry and dropped with it; never encoded. nil: nothing may be
	// memoized (a summary not read from the session cache).
	memo *userMemo
}

// MemoKey names what a memoized rendering was computed from besides the
// user: the tenant's settings version, and the tenant's slug and name
// (which expressions may read and which a settings version does not count).
type MemoKey struct {
	Version    int
	Slug, Name string
}

type userMemo struct{ v atomic.Pointer[memoValue] }

type memoValue struct {
	key MemoKey
	raw json.RawMessage
}

// Memo returns what SetMemo kept for key on this summary's cache entry.
// The entry is dropped by every change to the user (Store.UserChanged), so
// a memo is as fresh as the summary itself.
func (u *User) Memo(key MemoKey) (json.RawMessage, bool) {
	if u == nil || u.memo == nil {
		return nil, false
	}
	if v := u.memo.v.Load(); v != nil && v.key == key {
		return v.raw, true
	}
	return nil, false
}

// SetMemo keeps raw (which the caller must not change afterwards) for key
// on the summary's cache entry, for the requests the entry answers next; it
// does nothing for a summary that was not read from the session cache.
func (u *User) SetMemo(key MemoKey, raw json.RawMessage) {
	if u == nil || u.memo == nil {
		return
	}
	u.memo.v.Store(&memoValue{key: key, raw: raw})
}

// memoizable gives a summary decoded from a cache entry its memo slot,
// before the entry is shared.
func (u *User) memoizable() {
	if u != nil && u.memo == nil {
		u.memo = &userMemo{}
	}
}

// Display is how allauth shows the user (as User.Display).
func (u *User) Display() string {
	if u.Username != "" {
		return u.Username
	}
	return "user"
}

// User returns the session's user as read with the session, or nil when it
// was not (a session logged in during this request and not yet saved, or one
// whose cached entry predates the user's summary). It is as fresh as the
// session's cache entry: every change to these facts goes through
// Store.UserChanged, which drops the entries of the user's sessions.
func (s *Session) User() *User {
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

// tokenID is the storage key of a token: its SHA-256.
func tokenID(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
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

// MaxOAuthFlows is how many provider redirect flows one session keeps open
// (allauth keeps ten states); starting another forgets the oldest.
const MaxOAuthFlows = 10

// EnsureToken gives the session its token now rather than when it is first
// saved, so that a provider flow can be bound to it; it returns the token.
func (s *Session) EnsureToken() string {
	if s.id == nil {
		s.Token = newToken()
		s.id = tokenID(s.Token)
	}
	return s.Token
}

// AddOAuthFlow records a provider redirect flow the session started, by
// the hash of its state.
func (s *Session) AddOAuthFlow(hash string) {
	s.State.OAuthFlows = append(s.State.OAuthFlows, hash)
	if n := len(s.State.OAuthFlows); n > MaxOAuthFlows {
		s.State.OAuthFlows = slices.Clone(s.State.OAuthFlows[n-MaxOAuthFlows:])
	}
	s.Changed()
}

// TakeOAuthFlow forgets a provider redirect flow; false when this session
// did not start it (or already finished it).
func (s *Session) TakeOAuthFlow(hash string) bool {
	i := slices.Index(s.State.OAuthFlows, hash)
	if i < 0 {
		return false
	}
	s.State.OAuthFlows = slices.Delete(s.State.OAuthFlows, i, i+1)
	s.Changed()
	return true
}

// CeremonyState takes (once) the WebAuthn ceremony state kept for purpose.
func (sess *Session) CeremonyState(purpose string) []byte {
	st := sess.State.Ceremonies[purpose]
	if st != nil {
		delete(sess.State.Ceremonies, purpose)
		sess.Changed()
	}
	return st
}

// KeepCeremony stores a WebAuthn ceremony state for purpose in the session.
func (sess *Session) KeepCeremony(purpose string, state []byte) {
	if sess.State.Ceremonies == nil {
		sess.State.Ceremonies = map[string][]byte{}
	}
	sess.State.Ceremonies[purpose] = state
	sess.Changed()
}
