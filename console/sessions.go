package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/pgtext"
)

// Session lifetimes when Config leaves them zero.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
	// touchEvery bounds how often a busy session's last_seen_at is written.
	touchEvery = time.Minute
)

// errNoSession means the cookie names no live session (absent, unknown,
// idle too long, or past its absolute limit).
var errNoSession = errors.New("console: no live session")

// Session is one signed-in browser.
type Session struct {
	// UserID is who signed in.
	UserID uuid.UUID
	// CSRF is the secret every form of this session posts back.
	CSRF string
	// Flash is the message to show on this page (already cleared in the store).
	Flash *Flash
	// CreatedAt, LastSeenAt and ExpiresAt bound the session's life.
	CreatedAt, LastSeenAt, ExpiresAt time.Time
	// IP and UserAgent are where the session was opened from.
	IP, UserAgent string
	// ReauthenticatedAt is when the password was last typed again in this
	// session (zero if never): security changes need it to be recent.
	ReauthenticatedAt time.Time

	hash []byte
}

// Flash is a one-time message carried to the next page.
type Flash struct {
	// Kind is "success", "info" or "error".
	Kind string `json:"kind"`
	// Message is the text shown.
	Message string `json:"message"`
	// Diff lists the settings a save changed, when it was one.
	Diff []DiffLine `json:"diff,omitempty"`
}

// Sessions stores console sessions in Postgres (console_sessions); the
// cookie value is a random token of which only the SHA-256 is kept.
type Sessions struct {
	pool     *pgxpool.Pool
	idle     time.Duration
	absolute time.Duration
	now      func() time.Time
}

// NewSessions returns the session store. Zero durations take the defaults;
// now may be nil (time.Now).
func NewSessions(pool *pgxpool.Pool, idle, absolute time.Duration, now func() time.Time) *Sessions {
	if idle <= 0 {
		idle = DefaultIdleTimeout
	}
	if absolute <= 0 {
		absolute = DefaultAbsoluteTimeout
	}
	if now == nil {
		now = time.Now
	}
	return &Sessions{pool: pool, idle: idle, absolute: absolute, now: now}
}

// Create opens a session for user and returns the cookie value to set.
func (s *Sessions) Create(ctx context.Context, userID uuid.UUID, ip, userAgent string) (token string, sess *Session, err error) {
	token = randomToken()
	now := s.now().UTC()
	sess = &Session{UserID: userID, CSRF: randomToken(), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.absolute),
		IP: pgtext.Clean(ip, 100), UserAgent: pgtext.Clean(userAgent, 300), hash: hashToken(token)}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// Ended sessions of this user are pruned here, so the table holds
		// little more than the live ones.
		if _, err := tx.Exec(ctx, `DELETE FROM console_sessions WHERE user_id = $1 AND (expires_at <= $2 OR last_seen_at <= $3)`,
			userID, now, now.Add(-s.idle)); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO console_sessions (token_hash, user_id, csrf_token, ip, user_agent, created_at, last_seen_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $6, $7)`, sess.hash, userID, sess.CSRF, sess.IP, sess.UserAgent, now, sess.ExpiresAt)
		return err
	})
	if err != nil {
		return "", nil, fmt.Errorf("console: create session: %w", err)
	}
	return token, sess, nil
}

// Lookup returns the live session named by a cookie value, marking it seen
// and taking its flash message. An ended session is deleted and reported as
// errNoSession.
func (s *Sessions) Lookup(ctx context.Context, token string) (*Session, error) {
	if token == "" || len(token) > 100 {
		return nil, errNoSession
	}
	h := hashToken(token)
	sess := &Session{hash: h}
	var flash []byte
	var reauth *time.Time
	err := s.pool.QueryRow(ctx, `SELECT user_id, csrf_token, flash, created_at, last_seen_at, expires_at, ip, user_agent, reauthenticated_at
		FROM console_sessions WHERE token_hash = $1`, h).
		Scan(&sess.UserID, &sess.CSRF, &flash, &sess.CreatedAt, &sess.LastSeenAt, &sess.ExpiresAt, &sess.IP, &sess.UserAgent, &reauth)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNoSession
	}
	if err != nil {
		return nil, fmt.Errorf("console: session: %w", err)
	}
	now := s.now().UTC()
	if !now.Before(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) >= s.idle {
		if _, err := s.pool.Exec(ctx, `DELETE FROM console_sessions WHERE token_hash = $1`, h); err != nil {
			return nil, fmt.Errorf("console: end session: %w", err)
		}
		return nil, errNoSession
	}
	if reauth != nil {
		sess.ReauthenticatedAt = *reauth
	}
	if len(flash) > 0 {
		var f Flash
		if json.Unmarshal(flash, &f) == nil {
			sess.Flash = &f
		}
	}
	if sess.Flash != nil || now.Sub(sess.LastSeenAt) >= touchEvery {
		if _, err := s.pool.Exec(ctx, `UPDATE console_sessions SET last_seen_at = $2, flash = NULL WHERE token_hash = $1`, h, now); err != nil {
			return nil, fmt.Errorf("console: touch session: %w", err)
		}
		sess.LastSeenAt = now
	}
	return sess, nil
}

// SetFlash stores a message for the session's next page.
func (s *Sessions) SetFlash(ctx context.Context, sess *Session, f Flash) error {
	raw, err := pgtext.Marshal(f)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `UPDATE console_sessions SET flash = $2 WHERE token_hash = $1`, sess.hash, raw)
	return err
}

// Reauthenticated records that the user typed their password again in
// this session, at.
func (s *Sessions) Reauthenticated(ctx context.Context, sess *Session, at time.Time) error {
	if _, err := s.pool.Exec(ctx, `UPDATE console_sessions SET reauthenticated_at = $2 WHERE token_hash = $1`, sess.hash, at); err != nil {
		return fmt.Errorf("console: record reauthentication: %w", err)
	}
	sess.ReauthenticatedAt = at
	return nil
}

// mfaState returns the session's pending enrollment state as stored
// (sealed; "" when there is none).
func (s *Sessions) mfaState(ctx context.Context, sess *Session) (string, error) {
	var state *string
	if err := s.pool.QueryRow(ctx, `SELECT mfa_state FROM console_sessions WHERE token_hash = $1`, sess.hash).Scan(&state); err != nil {
		return "", fmt.Errorf("console: session mfa state: %w", err)
	}
	if state == nil {
		return "", nil
	}
	return *state, nil
}

// setMFAState stores the session's pending enrollment state ("" clears it).
func (s *Sessions) setMFAState(ctx context.Context, sess *Session, sealed string) error {
	var v *string
	if sealed != "" {
		v = &sealed
	}
	if _, err := s.pool.Exec(ctx, `UPDATE console_sessions SET mfa_state = $2 WHERE token_hash = $1`, sess.hash, v); err != nil {
		return fmt.Errorf("console: set session mfa state: %w", err)
	}
	return nil
}

// Delete ends one session.
func (s *Sessions) Delete(ctx context.Context, sess *Session) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM console_sessions WHERE token_hash = $1`, sess.hash)
	return err
}

// DeleteAll ends every session of a user ("sign out everywhere") and
// returns how many there were.
func (s *Sessions) DeleteAll(ctx context.Context, userID uuid.UUID) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM console_sessions WHERE user_id = $1`, userID)
	if err != nil {
		return 0, fmt.Errorf("console: end sessions: %w", err)
	}
	return tag.RowsAffected(), nil
}

// Count returns how many live sessions a user has.
func (s *Sessions) Count(ctx context.Context, userID uuid.UUID) (int, error) {
	now := s.now().UTC()
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM console_sessions WHERE user_id = $1 AND expires_at > $2 AND last_seen_at > $3`,
		userID, now, now.Add(-s.idle)).Scan(&n)
	return n, err
}

// IdleTimeout is how long a session may go unused.
func (s *Sessions) IdleTimeout() time.Duration { return s.idle }

func hashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// randomToken returns 256 random bits, base64url without padding.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
