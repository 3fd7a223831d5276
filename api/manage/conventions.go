package manage

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/ratelimit"
)

// MaxBody is the largest request body (in bytes) an operation takes; the
// platform's HTTP server refuses larger ones before any handler runs, and
// ErrorHandler answers those as problem+json too.
const MaxBody = 1 << 20

// RateLimit is the budget of requests each API key may make: at most
// Requests within any window of Period (a sliding window, counted in Redis
// and so shared by every node, which lease it in blocks: see admit).
type RateLimit struct {
	Requests int
	Period   time.Duration
}

// ParseRateLimit reads a budget written "REQUESTS/PERIOD" ("1000/1m",
// "50/1s"): a positive count, a positive Go duration.
func ParseRateLimit(s string) (RateLimit, error) {
	n, p, ok := strings.Cut(strings.TrimSpace(s), "/")
	count, err := strconv.Atoi(strings.TrimSpace(n))
	if !ok || err != nil || count < 1 {
		return RateLimit{}, errors.New(`want REQUESTS/PERIOD with a positive count, e.g. "1000/1m"`)
	}
	period, err := time.ParseDuration(strings.TrimSpace(p))
	if err != nil || period <= 0 {
		return RateLimit{}, errors.New(`want REQUESTS/PERIOD with a positive Go duration, e.g. "1000/1m"`)
	}
	return RateLimit{Requests: count, Period: period}, nil
}

// DefaultRateLimit is Config.RateLimit's default: 1000 requests a minute
// per key.
var DefaultRateLimit = RateLimit{Requests: 1000, Period: time.Minute}

// rateAction names the management API's counters in the limiter.
const rateAction = "manage_api"

var (
	errBodyTooLarge = &Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large",
		Detail: "The request body is too large (at most 1 MiB)."}
	errEncoded = &Error{Status: http.StatusUnsupportedMediaType, Code: "unsupported_content_encoding",
		Detail: "Send the body without Content-Encoding."}
)

// SetRateLimit changes the budget of every key (a budget without requests
// or period is the default). Call it before serving (tests use a small
// budget).
func (a *API) SetRateLimit(l RateLimit) { a.cfg.RateLimit = l.orDefault() }

// orDefault is l, or DefaultRateLimit when l is not a usable budget.
func (l RateLimit) orDefault() RateLimit {
	if l.Requests < 1 || l.Period <= 0 {
		return DefaultRateLimit
	}
	return l
}

// run applies the conventions every operation shares, once the request is
// authorized, and then runs op's handler: the body limit, the key's rate
// limit, and Idempotency-Key on POST and PATCH. A GET with a Load reads
// while the rate limit is counted, and answers only once it passed.
func (a *API) run(c *fiber.Ctx, op Operation, r *Request) error {
	// A compressed body could expand far past MaxBody: refuse it rather
	// than decompress it.
	if enc := c.Get(fiber.HeaderContentEncoding); enc != "" && !strings.EqualFold(enc, "identity") {
		return errEncoded
	}
	if len(c.Request().Body()) > MaxBody {
		return errBodyTooLarge
	}
	if op.Load != nil && op.Method == http.MethodGet && a.cfg.Limiter != nil {
		if a.takeLeased(r) {
			// Admitted from this node's block, without I/O.
			return op.Load(c, r)()
		}
		admitted := a.limitAsync(c, r)
		answer := op.Load(c, r)
		if err := admitted(); err != nil {
			return err
		}
		return answer()
	}
	if err := a.limit(c, r); err != nil {
		return err
	}
	if (op.Method == http.MethodPost || op.Method == http.MethodPatch) && len(c.Request().Header.Peek(HeaderIdempotencyKey)) > 0 {
		return a.idempotent(c, op, r)
	}
	return op.Handle(c, r)
}

// limit counts the request against its key's budget: 429 with Retry-After
// once it is spent.
func (a *API) limit(c *fiber.Ctx, r *Request) error {
	if a.cfg.Limiter == nil {
		return nil
	}
	return a.admit(c.UserContext(), r.Key, a.cfg.RateLimit)
}

// limitAsync counts the request against its key's budget on a goroutine of
// its own (which never touches c) and returns what waits for the verdict,
// limit's.
func (a *API) limitAsync(c *fiber.Ctx, r *Request) (wait func() error) {
	ctx, key, budget := c.UserContext(), r.Key, a.cfg.RateLimit
	done := make(chan error, 1)
	go func() { done <- a.admit(ctx, key, budget) }()
	return func() error { return <-done }
}

// rateRule is budget l as the limiter's rule for one key.
func rateRule(l RateLimit) ratelimit.Rule {
	return ratelimit.Rule{Amount: l.Requests, Period: l.Period, Per: ratelimit.PerKey}
}

// takeLeased counts r's request against its key's budget if this node
// holds requests of it (ratelimit.Limiter.TakeLeased), without I/O; false
// means admit must decide.
func (a *API) takeLeased(r *Request) bool {
	return a.cfg.Limiter.TakeLeased(r.Key.TenantID, rateAction, rateRule(a.cfg.RateLimit),
		ratelimit.Subject{Key: r.Key.ID.String()})
}

// admit counts one request of key against budget l. Each node leases
// blocks of the key's budget from Redis (ratelimit.Limiter.AllowLeased):
// across n nodes a key may make up to n blocks more than l.Requests within
// one l.Period (a block is at most l.Requests/16 and 64 requests, 1 for a
// key near its budget or with little traffic). The 429 carries no count
// of what is left, only Retry-After, which blocks do not change.
func (a *API) admit(ctx context.Context, key apikeys.Key, l RateLimit) error {
	ok, err := a.cfg.Limiter.AllowLeased(ctx, key.TenantID, rateAction, rateRule(l),
		ratelimit.Subject{Key: key.ID.String()})
	if err != nil {
		return err
	}
	if !ok {
		// The window slides: a slot frees at the latest a whole period on.
		return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited",
			Detail:     "This API key made too many requests; retry after the time Retry-After gives.",
			RetryAfter: int(math.Ceil(l.Period.Seconds()))}
	}
	return nil
}
