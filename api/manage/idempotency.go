package manage

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/redis/go-redis/v9"
)

// HeaderIdempotencyKey names the header that makes a POST or PATCH safe to
// retry: the same key with the same request answers what the first
// request answered, for IdempotencyTTL, without doing it again.
const HeaderIdempotencyKey = "Idempotency-Key"

// HeaderIdempotentReplayed marks an answer replayed from an earlier
// request with the same Idempotency-Key.
const HeaderIdempotentReplayed = "Idempotent-Replayed"

// IdempotencyTTL is how long an answer is kept for replay.
const IdempotencyTTL = 24 * time.Hour

// pendingTTL bounds how long a request in flight holds its key: past the
// request deadline, so a node that died mid-request does not block the
// key for a day.
const pendingTTL = time.Minute

// maxIdempotencyKey bounds the header's length.
const maxIdempotencyKey = 255

// replayedHeaders are the response headers a replay repeats.
var replayedHeaders = []string{fiber.HeaderContentType, fiber.HeaderETag, fiber.HeaderLocation}

var (
	errIdempotencyKey = &Error{Status: http.StatusBadRequest, Code: "invalid_idempotency_key",
		Detail: "Idempotency-Key must be 1 to 255 printable ASCII characters."}
	errIdempotencyReused = &Error{Status: http.StatusUnprocessableEntity, Code: "idempotency_key_reused",
		Detail: "This Idempotency-Key was used with a different request; use a new key for a new request."}
	errIdempotencyInProgress = &Error{Status: http.StatusConflict, Code: "idempotency_in_progress",
		Detail: "A request with this Idempotency-Key is still in progress; retry shortly.", RetryAfter: 1}
	errIdempotencyUnavailable = &Error{Status: http.StatusServiceUnavailable, Code: "unavailable",
		Detail: "Idempotency-Key cannot be honoured right now; try again shortly.", RetryAfter: 1}
)

// errLapsed: the record went between SETNX and GET.
var errLapsed = errors.New("manage: idempotency record lapsed")

// idemRecord is what Redis holds under an idempotency key: the request's
// fingerprint and, once it finished, its answer, sealed under the master
// key (bound to the Redis key), since an answer may hold a user's data.
type idemRecord struct {
	Fingerprint string `json:"fp"`
	Done        bool   `json:"done"`
	Answer      string `json:"answer,omitempty"`
}

// idemAnswer is a finished request's answer, as sealed in idemRecord.
type idemAnswer struct {
	Status  int               `json:"status"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    []byte            `json:"body,omitempty"`
}

// Redis holds "<owner token>\n<record JSON>": only the request that wrote
// the pending record may complete or drop it.
var (
	completeScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`)
	dropScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
)

// validIdempotencyKey: 1 to 255 printable ASCII characters.
func validIdempotencyKey(k []byte) bool {
	if len(k) == 0 || len(k) > maxIdempotencyKey {
		return false
	}
	for _, b := range k {
		if b < 0x20 || b > 0x7e {
			return false
		}
	}
	return true
}

// idempotencyRedisKey names the record of an Idempotency-Key of one API
// key, in the key's tenant's Redis slot (the platform's for a platform
// key). The client's key is hashed: it may be anything printable.
func idempotencyRedisKey(r *Request, idemKey []byte) string {
	sum := sha256.Sum256(idemKey)
	return "hp:{" + r.Key.TenantID.String() + "}:idem:" + r.Key.ID.String() + ":" + hex.EncodeToString(sum[:])
}

// fingerprint identifies a request: its method, URL (with the query),
// precondition, content type and body.
func fingerprint(c *fiber.Ctx) string {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(c.Method()), c.Request().RequestURI(), c.Request().Header.Peek(fiber.HeaderIfMatch),
		c.Request().Header.ContentType(), c.Request().Body()} {
		h.Write(part)
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))
}

// idempotent runs op under the request's Idempotency-Key: the first
// request with a key runs and its answer (a success or a 4xx) is kept for
// IdempotencyTTL; a later one with the same request replays it, with a
// different request is 422, and while the first is running 409. A 5xx is
// not kept: the request may be retried with the same key.
func (a *API) idempotent(c *fiber.Ctx, op Operation, r *Request) error {
	idemKey := c.Request().Header.Peek(HeaderIdempotencyKey)
	if !validIdempotencyKey(idemKey) {
		return errIdempotencyKey
	}
	if a.cfg.Redis == nil || a.cfg.Sealer == nil {
		return errIdempotencyUnavailable
	}
	ctx := c.UserContext()
	key := idempotencyRedisKey(r, idemKey)
	fp := fingerprint(c)
	var token string
	for attempt := 0; token == ""; attempt++ {
		var err error
		if token, err = a.claim(ctx, key, fp); err != nil || token != "" {
			if err != nil {
				return err
			}
			break
		}
		// A record exists: replay it, unless it lapsed (or its request
		// failed) in between, when this request claims the key afresh.
		if err := a.replay(ctx, c, key, fp); !errors.Is(err, errLapsed) || attempt == 2 {
			if errors.Is(err, errLapsed) {
				return errIdempotencyInProgress
			}
			return err
		}
	}
	if err := op.Handle(c, r); err != nil {
		if werr := writeProblem(c, a.cfg.Log, err); werr != nil {
			return werr
		}
	}
	res := c.Response()
	status := res.StatusCode()
	// The answer stands whatever happens to the record; a record not
	// completed lapses after pendingTTL and the key can be used again.
	store := context.WithoutCancel(ctx)
	if status >= 500 {
		if err := dropScript.Run(store, a.cfg.Redis, []string{key}, token).Err(); err != nil {
			a.cfg.Log.Warn("management api: idempotency record not dropped", "err", err)
		}
		return nil
	}
	ans := idemAnswer{Status: status, Body: append([]byte(nil), res.Body()...), Headers: map[string]string{}}
	for _, h := range replayedHeaders {
		if v := res.Header.Peek(h); len(v) > 0 {
			ans.Headers[h] = string(v)
		}
	}
	raw, err := json.Marshal(ans)
	if err == nil {
		var sealed string
		if sealed, err = a.cfg.Sealer.Seal(raw, key); err == nil {
			raw, err = json.Marshal(idemRecord{Fingerprint: fp, Done: true, Answer: sealed})
		}
	}
	if err == nil {
		err = completeScript.Run(store, a.cfg.Redis, []string{key}, token, token+"\n"+string(raw), IdempotencyTTL.Milliseconds()).Err()
	}
	if err != nil {
		a.cfg.Log.Warn("management api: idempotency record not stored", "err", err)
	}
	return nil
}

// claim takes key for a request with fingerprint fp: it returns the owner
// token of a fresh pending record, or "" when a record exists already.
func (a *API) claim(ctx context.Context, key, fp string) (string, error) {
	var b [16]byte
	_, _ = rand.Read(b[:])
	token := hex.EncodeToString(b[:])
	raw, err := json.Marshal(idemRecord{Fingerprint: fp})
	if err != nil {
		return "", err
	}
	ok, err := a.cfg.Redis.SetNX(ctx, key, token+"\n"+string(raw), pendingTTL).Result()
	if err != nil {
		return "", a.redisError(err)
	}
	if ok {
		return token, nil
	}
	return "", nil
}

// replay answers from the record under key: the stored answer when the
// request is the same and finished, 409 while it runs, 422 for another
// request.
func (a *API) replay(ctx context.Context, c *fiber.Ctx, key, fp string) error {
	v, err := a.cfg.Redis.Get(ctx, key).Result()
	if errors.Is(err, redis.Nil) {
		return errLapsed
	}
	if err != nil {
		return a.redisError(err)
	}
	_, body, _ := strings.Cut(v, "\n")
	var rec idemRecord
	if err := json.Unmarshal([]byte(body), &rec); err != nil {
		return err
	}
	switch {
	case rec.Fingerprint != fp:
		return errIdempotencyReused
	case !rec.Done:
		return errIdempotencyInProgress
	}
	plain, err := a.cfg.Sealer.Open(rec.Answer, key)
	var ans idemAnswer
	if err == nil {
		err = json.Unmarshal(plain, &ans)
	}
	if err != nil {
		// Sealed under a master key this node no longer has, or damaged:
		// the answer cannot be replayed, and the request must not run twice.
		a.cfg.Log.Warn("management api: idempotency answer unreadable", "err", err)
		return errIdempotencyUnavailable
	}
	for h, v := range ans.Headers {
		c.Set(h, v)
	}
	c.Set(HeaderIdempotentReplayed, "true")
	c.Status(ans.Status)
	return c.Send(ans.Body)
}

// redisError is a failure of the idempotency store: 503, never a request
// run without its key honoured.
func (a *API) redisError(err error) error {
	a.cfg.Log.Warn("management api: idempotency store unavailable", "err", err)
	return errIdempotencyUnavailable
}
