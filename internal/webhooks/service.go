package webhooks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/seal"
)

// Delivery defaults (Config's zero values).
const (
	// DefaultQueue is the River queue deliveries run on.
	DefaultQueue = "webhooks"
	// DefaultWorkers is how many deliveries one node runs at once.
	DefaultWorkers = 50
	// DefaultRetryBase is the first retry's delay; each next one doubles,
	// up to MaxRetryDelay, with ±20 % jitter.
	DefaultRetryBase = 10 * time.Second
	// MaxRetryDelay caps the delay between two attempts.
	MaxRetryDelay = 12 * time.Hour
	// DefaultMaxAttempts spreads the attempts over about three days
	// with DefaultRetryBase (TestRetryScheduleSpansThreeDays).
	DefaultMaxAttempts = 18
	// DefaultDisableAfter is how long an endpoint may fail without a
	// success before it is disabled and the tenant's owners mailed.
	DefaultDisableAfter = 5 * 24 * time.Hour
	// RequestTimeout bounds one delivery: connecting, sending and reading
	// the answer.
	RequestTimeout = 15 * time.Second
	// DefaultRescueAfter is how long a job may stay running before another
	// node takes it over (its node died mid-delivery).
	DefaultRescueAfter = 2 * time.Minute
)

// Config is what the webhook service is built on.
type Config struct {
	Pool   *pgxpool.Pool
	Sealer *seal.Sealer
	// URLs decides which endpoint URLs are allowed, at save and (its
	// AllowPrivate) at connection time.
	URLs URLPolicy
	// Types lists the event types an endpoint may subscribe to
	// (events.Types when nil).
	Types func() []string
	// Outbox and MailFrom mail the tenant's owners, as Owners lists their
	// addresses, when an endpoint is disabled (nil Outbox or Owners: no
	// mail); ConsoleURL links to the console.
	Outbox     *mail.Outbox
	MailFrom   string
	Owners     func(ctx context.Context, tenantID uuid.UUID) ([]string, error)
	ConsoleURL string
	Log        *slog.Logger

	// Queue, Workers, RetryBase, MaxAttempts, DisableAfter and
	// RescueAfter tune the delivery (the defaults above when zero); tests
	// and the fault suite shorten them.
	Queue        string
	Workers      int
	RetryBase    time.Duration
	MaxAttempts  int
	DisableAfter time.Duration
	RescueAfter  time.Duration
	// RequestTimeout bounds one attempt (RequestTimeout when zero).
	RequestTimeout time.Duration
	// PollInterval is how often a node looks for due jobs besides being
	// notified (River's default when zero).
	PollInterval time.Duration
}

// Service manages endpoints and delivers messages to them.
type Service struct {
	cfg    Config
	river  *river.Client[pgx.Tx]
	client *http.Client
	log    *slog.Logger
}

var queueName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// New builds the service. Its River client inserts jobs at once; Start
// makes this node deliver too.
func New(cfg Config) (*Service, error) {
	if cfg.Pool == nil || cfg.Sealer == nil {
		return nil, errors.New("webhooks: Pool and Sealer are required")
	}
	if cfg.Types == nil {
		cfg.Types = events.Types
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Queue == "" {
		cfg.Queue = DefaultQueue
	}
	if !queueName.MatchString(cfg.Queue) {
		return nil, fmt.Errorf("webhooks: queue name %q", cfg.Queue)
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = DefaultRetryBase
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = DefaultMaxAttempts
	}
	if cfg.DisableAfter <= 0 {
		cfg.DisableAfter = DefaultDisableAfter
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = RequestTimeout
	}
	if cfg.RescueAfter <= 0 {
		cfg.RescueAfter = DefaultRescueAfter
	}
	s := &Service{cfg: cfg, log: cfg.Log, client: newHTTPClient(cfg.URLs.AllowPrivate, cfg.RequestTimeout)}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &deliveryWorker{s: s}); err != nil {
		return nil, err
	}
	rc, err := river.NewClient(riverpgxv5.New(cfg.Pool), &river.Config{
		Queues:               map[string]river.QueueConfig{cfg.Queue: {MaxWorkers: cfg.Workers}},
		Workers:              workers,
		JobTimeout:           2 * cfg.RequestTimeout,
		RescueStuckJobsAfter: cfg.RescueAfter,
		FetchPollInterval:    cfg.PollInterval,
		FetchCooldown:        cooldown(cfg.PollInterval),
		MaxAttempts:          cfg.MaxAttempts,
		Logger:               quietRiver(cfg.Log),
		// Delivered and cancelled jobs are dropped soon: the delivery
		// log is webhook_attempts, not River's table.
		CompletedJobRetentionPeriod: time.Hour,
		CancelledJobRetentionPeriod: 24 * time.Hour,
		DiscardedJobRetentionPeriod: 7 * 24 * time.Hour,
	})
	if err != nil {
		return nil, fmt.Errorf("webhooks: river: %w", err)
	}
	s.river = rc
	return s, nil
}

// cooldown is River's fetch cooldown for a poll interval (it may not
// exceed it).
func cooldown(poll time.Duration) time.Duration {
	if poll > 0 && poll < river.FetchCooldownDefault {
		return poll
	}
	return 0
}

// quietRiver passes River's warnings and errors to log, not its chatter.
func quietRiver(log *slog.Logger) *slog.Logger {
	return slog.New(levelFilter{h: log.Handler(), min: slog.LevelWarn})
}

type levelFilter struct {
	h   slog.Handler
	min slog.Level
}

func (f levelFilter) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min && f.h.Enabled(ctx, l)
}
func (f levelFilter) Handle(ctx context.Context, r slog.Record) error { return f.h.Handle(ctx, r) }
func (f levelFilter) WithAttrs(as []slog.Attr) slog.Handler {
	return levelFilter{h: f.h.WithAttrs(as), min: f.min}
}
func (f levelFilter) WithGroup(name string) slog.Handler {
	return levelFilter{h: f.h.WithGroup(name), min: f.min}
}

// Start makes this node deliver: it works the queue until Stop.
func (s *Service) Start(ctx context.Context) error { return s.river.Start(ctx) }

// Stop waits for the deliveries in flight (up to ctx), then stops.
func (s *Service) Stop(ctx context.Context) error {
	err := s.river.Stop(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return s.river.StopAndCancel(context.WithoutCancel(ctx))
	}
	return err
}

// newHTTPClient is the deliveries' client: no proxy, no redirects, the
// address check on every connection, RequestTimeout for everything.
func newHTTPClient(allowPrivate bool, timeout time.Duration) *http.Client {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: dialControl(allowPrivate)}
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           d.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          200,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: timeout,
			ExpectContinueTimeout: time.Second,
		},
		Timeout: timeout,
		// A redirect is an answer like any other non-2xx: never followed,
		// so it cannot lead a delivery to another (private) address.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// drain discards up to n more bytes of a response body, so a short
// remainder keeps the connection reusable and a long one is cut off.
func drain(r io.Reader, n int64) { _, _ = io.CopyN(io.Discard, r, n) }
