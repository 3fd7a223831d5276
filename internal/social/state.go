package social

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/quota"
)

// StateTTL is how long a redirect flow may take, from the redirect to the
// callback.
const StateTTL = 10 * time.Minute

// State is a redirect flow in progress, kept server-side under its state
// parameter.
type State struct {
	// Provider is the app's sub-id.
	Provider string `json:"provider"`
	// Process is "login" or "connect".
	Process string `json:"process"`
	// CallbackURL is the frontend URL to return to (allauth's next).
	CallbackURL string `json:"callback_url"`
	// CodeVerifier is the PKCE verifier.
	CodeVerifier string `json:"code_verifier,omitempty"`
	// Nonce is the OpenID Connect nonce.
	Nonce string `json:"nonce,omitempty"`
	// SessionBinding ties the flow to the browser session that started it
	// (SessionBinding of its session token); Take requires the same.
	SessionBinding string `json:"session_binding"`
	// CreatedAt is set by Put when zero.
	CreatedAt time.Time `json:"created_at"`
}

// StateStore keeps redirect flow states in Redis, single use, under
// hp:{<tenant>}:oauth:<state>.
type StateStore struct {
	// Pending is the tenants' budget of anonymous state: a state is stored
	// only within it (nil: unbounded).
	Pending *quota.Pending

	rdb redis.Cmdable
	now func() time.Time
}

// NewStateStore returns the state store.
func NewStateStore(rdb redis.Cmdable) *StateStore { return &StateStore{rdb: rdb, now: time.Now} }

// statePattern is what Put hands out: 32 random bytes, base64url.
var statePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

func stateKey(tenantID uuid.UUID, state string) string {
	return "hp:{" + tenantID.String() + "}:oauth:" + state
}

// pendingID names a state in the tenant's pending-state budget (its hash:
// the budget is readable by operators, the state is a secret).
func pendingID(state string) string {
	sum := sha256.Sum256([]byte(state))
	return "oauth:" + hex.EncodeToString(sum[:16])
}

// SessionBinding derives the binding of a browser session from its secret
// token (a hash: the token itself is never stored with the state).
func SessionBinding(sessionToken string) string {
	sum := sha256.Sum256([]byte("hallpass social state binding\x00" + sessionToken))
	return hex.EncodeToString(sum[:])
}

// Put stores st for StateTTL and returns its new state parameter.
func (s *StateStore) Put(ctx context.Context, tenantID uuid.UUID, st State) (string, error) {
	if st.CreatedAt.IsZero() {
		st.CreatedAt = s.now().UTC()
	}
	data, err := json.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("social: encode state: %w", err)
	}
	state := randomToken(32)
	if err := s.Pending.Reserve(ctx, tenantID, pendingID(state), StateTTL); err != nil {
		return "", fmt.Errorf("social: store state: %w", err)
	}
	if err := s.rdb.Set(ctx, stateKey(tenantID, state), data, StateTTL).Err(); err != nil {
		return "", fmt.Errorf("social: store state: %w", err)
	}
	return state, nil
}

// Take returns and removes the flow of a state parameter: a state is used
// once, whatever the outcome. ErrStateNotFound when unknown, expired or
// used; ErrStateMismatch when it was started by another session.
func (s *StateStore) Take(ctx context.Context, tenantID uuid.UUID, state, sessionBinding string) (*State, error) {
	if !statePattern.MatchString(state) {
		return nil, ErrStateNotFound
	}
	data, err := s.rdb.GetDel(ctx, stateKey(tenantID, state)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrStateNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("social: take state: %w", err)
	}
	s.Pending.Release(ctx, tenantID, pendingID(state))
	var st State
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("social: decode state: %w", err)
	}
	if s.now().Sub(st.CreatedAt) > StateTTL {
		return nil, ErrStateNotFound
	}
	if subtle.ConstantTimeCompare([]byte(st.SessionBinding), []byte(sessionBinding)) != 1 {
		return nil, ErrStateMismatch
	}
	return &st, nil
}
