package identity

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// codeAlphabet is allauth's default alphabet for user codes: consonants
// only, so codes never spell words.
const codeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"

// NewUserCode returns a random code in the given format (e.g. "KQTB-XWZF").
func NewUserCode(f tenants.UserCodeFormat) string {
	alphabet := codeAlphabet
	group := 4
	if f.Numeric {
		alphabet = "0123456789"
		group = 3
	}
	n := f.Length
	if n <= 0 {
		n = 8
	}
	var b strings.Builder
	for i := 0; i < n; i++ {
		if f.Dashed && i > 0 && i%group == 0 {
			b.WriteByte('-')
		}
		k, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b.WriteByte(alphabet[k.Int64()])
	}
	return b.String()
}

// normalizeCode drops punctuation and case, as allauth compares user codes.
func normalizeCode(code string) string {
	var b strings.Builder
	for _, r := range code {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}

// Keys signs and checks what the platform hands out: verification keys and
// code hashes. Keys are per tenant, so a value from one tenant never passes
// at another.
type Keys struct {
	derive func(purpose string) []byte
}

// NewKeys builds Keys from a key-derivation function (seal.Sealer.DeriveKey).
func NewKeys(derive func(purpose string) []byte) *Keys { return &Keys{derive: derive} }

func (k *Keys) mac(tenantID uuid.UUID, purpose string, parts ...string) []byte {
	m := hmac.New(sha256.New, k.derive(purpose+":"+tenantID.String()))
	for _, p := range parts {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(p)))
		m.Write(l[:])
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// CodeHash is how a code is kept: a keyed hash of its normalised form, so
// a leaked session store does not reveal codes or allow offline guessing.
func (k *Keys) CodeHash(tenantID uuid.UUID, code string) string {
	return base64.RawURLEncoding.EncodeToString(k.mac(tenantID, "code", normalizeCode(code)))
}

// CodeMatches compares a submitted code with a stored hash in constant time.
func (k *Keys) CodeMatches(tenantID uuid.UUID, code, hash string) bool {
	want, err := base64.RawURLEncoding.DecodeString(hash)
	if err != nil || normalizeCode(code) == "" {
		return false
	}
	return hmac.Equal(k.mac(tenantID, "code", normalizeCode(code)), want)
}

// EmailVerificationKey returns the key of a verification link for an
// address: its id and issue time, signed. It stops working when the address
// changes or after ttl.
func (k *Keys) EmailVerificationKey(tenantID uuid.UUID, e *EmailAddress, now time.Time) string {
	id := strconv.FormatInt(e.ID, 36)
	ts := strconv.FormatInt(now.Unix(), 36)
	sig := k.mac(tenantID, "email-verification", id, ts, emailKey(e.Email))[:18]
	return id + "." + ts + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// ParseEmailVerificationKey returns the address id a key names and when it
// was issued; emailOf loads the address to check the signature against.
func (k *Keys) ParseEmailVerificationKey(tenantID uuid.UUID, key string, ttl time.Duration, now time.Time,
	emailOf func(id int64) (*EmailAddress, error)) (*EmailAddress, bool) {
	parts := strings.Split(key, ".")
	if len(key) > 128 || len(parts) != 3 {
		return nil, false
	}
	id, err1 := strconv.ParseInt(parts[0], 36, 64)
	ts, err2 := strconv.ParseInt(parts[1], 36, 64)
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || id <= 0 {
		return nil, false
	}
	issued := time.Unix(ts, 0)
	if now.Sub(issued) > ttl || issued.After(now.Add(time.Minute)) {
		return nil, false
	}
	e, err := emailOf(id)
	if err != nil || e == nil {
		return nil, false
	}
	want := k.mac(tenantID, "email-verification", parts[0], parts[1], emailKey(e.Email))[:18]
	if !hmac.Equal(sig, want) {
		return nil, false
	}
	return e, true
}

// consumeOnce marks a code as used; only the first caller gets true. Two
// parallel requests presenting the same right code (a double-submitted
// form, a replay) therefore resolve to one success. It fails closed: when
// Redis cannot answer, the code is not accepted (the error is returned and
// the caller answers 503), since a success then could be a replay.
func (a *Deps) consumeOnce(ctx context.Context, tenantID uuid.UUID, codeHash string, ttl time.Duration) (bool, error) {
	ok, err := a.Redis.SetNX(ctx, "hp:{"+tenantID.String()+"}:code-used:"+codeHash, "1", ttl).Result()
	if err != nil {
		return false, fmt.Errorf("identity: spend code: %w", err)
	}
	return ok, nil
}

// newProcessID returns a fresh random id for a code process: the name its
// attempt counter is kept under (two processes may be sent the same code,
// so the code's hash does not name one process).
func newProcessID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Counters of a code process, kept in Redis (processCount).
const (
	countAttempts = "attempts"
	countResends  = "resends"
	countChanges  = "changes"
)

// processKey names one of p's counters. A process stored before processes
// had ids is named by its code's hash.
func processKey(tenantID uuid.UUID, p *sessions.CodeProcess, what string) string {
	id := p.ID
	if id == "" {
		id = "h:" + p.CodeHash
	}
	return "hp:{" + tenantID.String() + "}:code-" + what + ":" + id
}

// processCount counts one more use of what (countAttempts, countResends,
// countChanges) for p and returns the count, this one included. The count
// lives in Redis, shared by every request and node, and is taken before
// the use: a session's copy of a counter (CodeProcess.Attempts, .Resends,
// sessions.State.EmailChanges) is read and saved by each request on its own,
// so parallel requests would all see the same count. A result above the
// allowance means it was spent before this request. A Redis failure is an
// error (the use is refused, never uncounted). Counters expire a minute
// after the code (keepCounts moves that along when the code is resent).
func (a *Deps) processCount(ctx context.Context, tenantID uuid.UUID, p *sessions.CodeProcess, what string) (int, error) {
	key := processKey(tenantID, p, what)
	var incr *redis.IntCmd
	_, err := a.Redis.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
		incr = pipe.Incr(ctx, key)
		pipe.PExpireAt(ctx, key, p.Expires.Add(time.Minute))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("identity: count a code process's %s: %w", what, err)
	}
	return int(incr.Val()), nil
}

// takeAttempt takes one of p's attempts before its code is compared
// (processCount): with N parallel guesses at most the allowance of codes
// are ever compared.
func (a *Deps) takeAttempt(ctx context.Context, tenantID uuid.UUID, p *sessions.CodeProcess) (int, error) {
	return a.processCount(ctx, tenantID, p, countAttempts)
}

// returnAttempt gives back an attempt whose code was right: as in allauth,
// only wrong codes count (a reset code is checked again by the POST that
// follows the GET showing it right).
func (a *Deps) returnAttempt(ctx context.Context, tenantID uuid.UUID, p *sessions.CodeProcess) error {
	return a.giveBack(ctx, tenantID, p, countAttempts)
}

// giveBack takes back one use of what that did not happen.
func (a *Deps) giveBack(ctx context.Context, tenantID uuid.UUID, p *sessions.CodeProcess, what string) error {
	if err := returnScript.Run(ctx, a.Redis, []string{processKey(tenantID, p, what)}).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("identity: give back a code process's %s: %w", what, err)
	}
	return nil
}

// keepCounts carries prev's counters over to next, a new code for the same
// process (a resend, or the address changed): as allauth keeps the
// process's state when it generates a new code, the attempts left do not
// grow back. The counters then live as long as next's code.
func (a *Deps) keepCounts(ctx context.Context, tenantID uuid.UUID, prev, next *sessions.CodeProcess) error {
	if prev.ID == "" {
		return nil // stored before counters were named by id: start afresh
	}
	next.ID, next.Attempts = prev.ID, prev.Attempts
	_, err := a.Redis.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, what := range []string{countAttempts, countResends, countChanges} {
			pipe.PExpireAt(ctx, processKey(tenantID, next, what), next.Expires.Add(time.Minute))
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("identity: keep a code process's counts: %w", err)
	}
	return nil
}

// returnScript decrements a counter that still exists (a DECR of an expired
// one would create it without a TTL).
var returnScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then
  return redis.call('DECR', KEYS[1])
end
return 0
`)
