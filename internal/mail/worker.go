package mail

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/pgtext"
	"github.com/hallpass/hallpass/internal/seal"
)

// Defaults of the Worker's tunables.
const (
	// DefaultBackoffBase is the default Worker.BackoffBase.
	DefaultBackoffBase = time.Second
	// DefaultBackoffMax is the default Worker.BackoffMax.
	DefaultBackoffMax = 5 * time.Minute
	// DefaultPollInterval is the default Worker.PollInterval.
	DefaultPollInterval = 5 * time.Second
	// DefaultConcurrency is the default Worker.Concurrency.
	DefaultConcurrency = 4
	// DefaultSendTimeout is the default Worker.SendTimeout.
	DefaultSendTimeout = 30 * time.Second
	// DefaultAlertAfter is the default Worker.AlertAfter.
	DefaultAlertAfter = 20
)

// listenerAppName names the worker's LISTEN connection in pg_stat_activity.
const listenerAppName = "hallpass-outbox-listener"

// maxErrorLen bounds the last_error kept on a row.
const maxErrorLen = 500

// Worker sends the outbox. Run one per node: workers on several nodes share
// the table safely.
//
// A claimed row's transaction stays open while SMTP runs (up to SendTimeout);
// a Postgres idle_in_transaction_session_timeout shorter than that would
// abort it after the send and cause a duplicate.
//
// Delivery guarantee. A row is claimed, sent and marked sent in one
// transaction that holds the row's lock (FOR UPDATE SKIP LOCKED) for the
// whole send, so two workers never send the same row, and a row is sent at
// most once per successful commit. The remaining window is a crash, or a lost
// database connection, after the SMTP server accepted the message and before
// the commit: the lock is then released with sent_at still NULL and the row
// is sent again. The Message-ID is derived from the outbox id
// (<id@hallpass>) and is the same on every attempt, so receivers (and
// DevInbox, keyed by the id) can drop such a duplicate.
//
// The exported fields tune the worker; set them before Run or Drain. Zero
// values mean the defaults.
type Worker struct {
	// BackoffBase is the delay before the first retry of a failed message;
	// it doubles with each further failure (1 s, 2 s, 4 s, ...).
	BackoffBase time.Duration
	// BackoffMax caps the retry delay; a message keeps being retried at it.
	BackoffMax time.Duration
	// PollInterval is the longest the worker waits between rounds without a
	// notification: the fallback in case one was missed.
	PollInterval time.Duration
	// Concurrency is how many messages one worker sends at once. Each send
	// holds a pool connection for its duration, so it is capped at half the
	// pool's MaxConns.
	Concurrency int
	// SendTimeout bounds one send, and so how long a row lock is held.
	SendTimeout time.Duration
	// AlertAfter is the number of failed attempts after which each further
	// failure of a message is logged at error level.
	AlertAfter int

	pool   *pgxpool.Pool
	sealer *seal.Sealer
	sender Sender
	log    *slog.Logger
	// waiting, if set, is called each time Run starts waiting (tests).
	waiting func()
}

// NewWorker returns a worker that sends the outbox in pool through sender,
// opening payloads with sealer.
func NewWorker(pool *pgxpool.Pool, sealer *seal.Sealer, sender Sender, log *slog.Logger) *Worker {
	if log == nil {
		log = slog.Default()
	}
	return &Worker{pool: pool, sealer: sealer, sender: sender, log: log.With("component", "mail.worker")}
}

func (w *Worker) backoffBase() time.Duration {
	return orDefault(w.BackoffBase, DefaultBackoffBase)
}

func (w *Worker) backoffMax() time.Duration {
	return orDefault(w.BackoffMax, DefaultBackoffMax)
}

func (w *Worker) pollInterval() time.Duration {
	return orDefault(w.PollInterval, DefaultPollInterval)
}

func (w *Worker) sendTimeout() time.Duration {
	return orDefault(w.SendTimeout, DefaultSendTimeout)
}

// concurrency is Concurrency, but at most half the pool: each send holds a
// pool connection (its transaction) for as long as SMTP takes, and requests
// sharing the pool must not starve while the SMTP server is slow.
func (w *Worker) concurrency() int {
	n := w.Concurrency
	if n <= 0 {
		n = DefaultConcurrency
	}
	return max(1, min(n, int(w.pool.Config().MaxConns)/2))
}

func (w *Worker) alertAfter() int {
	if w.AlertAfter <= 0 {
		return DefaultAlertAfter
	}
	return w.AlertAfter
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Backoff is the delay before the next attempt after the given number of
// failed attempts: base·2^(attempts-1), capped at limit, minus up to 10 %
// jitter so that messages failing together spread out.
func Backoff(attempts int, base, limit time.Duration) time.Duration {
	d := limit
	if attempts < 1 {
		attempts = 1
	}
	if attempts <= 31 {
		if b := base << (attempts - 1); b > 0 && b < limit {
			d = b
		}
	}
	if j := int64(d / 10); j > 0 {
		d -= time.Duration(rand.Int64N(j))
	}
	return d
}

// Run sends the outbox until ctx is done, then returns nil.
//
// A dedicated connection (not one of the pool's) LISTENs on NotifyChannel.
// Between rounds the worker waits for a notification, the next due retry, or
// PollInterval, whichever comes first. When the connection drops it
// reconnects with backoff and, since notifications sent meanwhile are lost,
// runs a catch-up round.
func (w *Worker) Run(ctx context.Context) error {
	if w.sender == nil || w.pool == nil || w.sealer == nil {
		return errors.New("mail: worker needs a pool, a sealer and a sender")
	}
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
			_ = conn.Close(closeCtx)
			cancel()
		}
	}()
	failures := 0
	for {
		if ctx.Err() != nil {
			return nil
		}
		if conn == nil {
			c, err := w.listen(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				failures++
				delay := Backoff(failures, 100*time.Millisecond, w.pollInterval())
				w.log.WarnContext(ctx, "outbox listener: cannot connect, retrying", "err", err, "retry_in", delay)
				// The pool may still reach the database: keep mail moving
				// while the listener is down.
				w.roundAndLog(ctx)
				if !sleep(ctx, delay) {
					return nil
				}
				continue
			}
			if failures > 0 {
				w.log.InfoContext(ctx, "outbox listener: reconnected")
			}
			conn, failures = c, 0
			// Catch up: anything committed before LISTEN took effect.
			w.roundAndLog(ctx)
			continue
		}

		wait := w.nextWait(ctx)
		if w.waiting != nil {
			w.waiting()
		}
		waitCtx, cancel := context.WithTimeout(ctx, wait)
		err := conn.PgConn().WaitForNotification(waitCtx)
		timedOut := waitCtx.Err() != nil
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err == nil:
			// notified
		case timedOut && !conn.IsClosed():
			// next due time or fallback tick
		default:
			w.log.WarnContext(ctx, "outbox listener: connection lost, reconnecting", "err", err)
			closeCtx, cancelClose := context.WithTimeout(ctx, time.Second)
			_ = conn.Close(closeCtx)
			cancelClose()
			conn = nil
			failures = 1
			continue
		}
		w.roundAndLog(ctx)
	}
}

// listen opens the dedicated LISTEN connection.
func (w *Worker) listen(ctx context.Context) (*pgx.Conn, error) {
	cfg := w.pool.Config().ConnConfig.Copy()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	cfg.RuntimeParams["application_name"] = listenerAppName
	connectCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(connectCtx, cfg)
	if err != nil {
		return nil, fmt.Errorf("mail: listen: %w", err)
	}
	if _, err := conn.Exec(connectCtx, "LISTEN "+NotifyChannel); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("mail: listen: %w", err)
	}
	return conn, nil
}

// nextWait is how long to wait for a notification before the next round:
// until the earliest unsent row this worker could claim is due, at most
// PollInterval. Rows locked by another worker (being sent) are skipped, or a
// worker would spin on them.
func (w *Worker) nextWait(ctx context.Context) time.Duration {
	poll := w.pollInterval()
	var secs float64
	err := w.pool.QueryRow(ctx, `
		SELECT EXTRACT(EPOCH FROM next_attempt_at - clock_timestamp())::float8
		FROM outbox
		WHERE sent_at IS NULL
		ORDER BY next_attempt_at
		LIMIT 1
		FOR UPDATE SKIP LOCKED`).Scan(&secs)
	if err != nil {
		if !errors.Is(err, pgx.ErrNoRows) && ctx.Err() == nil {
			w.log.WarnContext(ctx, "outbox: cannot read next due time", "err", err)
		}
		return poll
	}
	d := time.Duration(secs * float64(time.Second))
	switch {
	case d < time.Millisecond:
		return time.Millisecond
	case d > poll:
		return poll
	}
	return d
}

func (w *Worker) roundAndLog(ctx context.Context) {
	if _, err := w.round(ctx); err != nil && ctx.Err() == nil {
		w.log.WarnContext(ctx, "outbox round failed", "err", err)
	}
}

// Drain runs rounds until nothing is due, or until a round sends nothing
// because every due message failed (they are rescheduled; the error then
// names the last failure). err is also set when the database fails. Tests
// and shutdown use it; it is safe to call while Run is running elsewhere.
func (w *Worker) Drain(ctx context.Context) (sent int, err error) {
	if w.sender == nil || w.pool == nil || w.sealer == nil {
		return 0, errors.New("mail: worker needs a pool, a sealer and a sender")
	}
	for {
		r, err := w.round(ctx)
		sent += r.sent
		if err != nil {
			return sent, err
		}
		if r.claimed == 0 {
			return sent, nil
		}
		if r.sent == 0 {
			return sent, fmt.Errorf("mail: %d message(s) failed and were rescheduled: %w", r.failed, r.lastErr)
		}
	}
}

type roundResult struct {
	claimed, sent, failed int
	lastErr               error
}

// round sends every row due when it starts, Concurrency at a time. A row
// failing during the round is rescheduled past the round's cutoff, so each
// row is attempted at most once per round.
func (w *Worker) round(ctx context.Context) (roundResult, error) {
	var res roundResult
	var cutoff time.Time
	if err := w.pool.QueryRow(ctx, `SELECT clock_timestamp()`).Scan(&cutoff); err != nil {
		return res, fmt.Errorf("mail: round: %w", err)
	}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		firstErr error
	)
	for range w.concurrency() {
		wg.Go(func() {
			for ctx.Err() == nil {
				claimed, sendErr, err := w.processOne(ctx, cutoff)
				mu.Lock()
				if claimed {
					res.claimed++
					if sendErr == nil {
						res.sent++
					} else {
						res.failed++
						res.lastErr = sendErr
					}
				}
				if err != nil && firstErr == nil {
					firstErr = err
				}
				mu.Unlock()
				if !claimed || err != nil {
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	return res, firstErr
}

// processOne claims one due row, sends it and records the outcome, all in
// one transaction. claimed reports whether a row was found; sendErr is the
// delivery failure (recorded on the row); err is a database failure.
func (w *Worker) processOne(ctx context.Context, cutoff time.Time) (claimed bool, sendErr, err error) {
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return false, nil, fmt.Errorf("mail: begin: %w", err)
	}
	// Once a row is claimed, the send and its bookkeeping run to completion
	// even if ctx is cancelled (shutdown): abandoning a send the server may
	// have accepted is what produces duplicates. SendTimeout bounds it.
	done, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.sendTimeout()+5*time.Second)
	defer cancel()
	defer func() { _ = tx.Rollback(done) }()

	var (
		tenantID, id uuid.UUID
		kind, sealed string
		attempts     int
	)
	err = tx.QueryRow(ctx, `
		SELECT tenant_id, id, kind, payload, attempts
		FROM outbox
		WHERE sent_at IS NULL AND next_attempt_at <= $1
		ORDER BY next_attempt_at
		LIMIT 1
		FOR UPDATE SKIP LOCKED`, cutoff).Scan(&tenantID, &id, &kind, &sealed, &attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, fmt.Errorf("mail: claim: %w", err)
	}

	m, sendErr := open(w.sealer, tenantID, id, sealed)
	if sendErr == nil {
		sendCtx, cancelSend := context.WithTimeout(done, w.sendTimeout())
		sendErr = w.sender.Send(sendCtx, id, m)
		cancelSend()
	}
	attempts++
	lg := w.log.With("tenant", tenantID, "id", id, "kind", kind, "attempts", attempts)

	if sendErr == nil {
		if _, err := tx.Exec(done, `
			UPDATE outbox SET sent_at = clock_timestamp(), attempts = $3, last_error = ''
			WHERE tenant_id = $1 AND id = $2`, tenantID, id, attempts); err != nil {
			return true, nil, fmt.Errorf("mail: mark sent: %w", err)
		}
		if err := tx.Commit(done); err != nil {
			// The server has the message but the row is still unsent: it
			// will be sent again with the same Message-ID.
			return true, nil, fmt.Errorf("mail: commit sent %s: %w", id, err)
		}
		lg.InfoContext(ctx, "mail sent")
		return true, nil, nil
	}

	delay := Backoff(attempts, w.backoffBase(), w.backoffMax())
	if _, err := tx.Exec(done, `
		UPDATE outbox
		SET attempts = $3, last_error = $4,
		    next_attempt_at = clock_timestamp() + make_interval(secs => $5)
		WHERE tenant_id = $1 AND id = $2`,
		tenantID, id, attempts, shortError(sendErr, m.To), delay.Seconds()); err != nil {
		return true, sendErr, fmt.Errorf("mail: record failure: %w", err)
	}
	if err := tx.Commit(done); err != nil {
		return true, sendErr, fmt.Errorf("mail: record failure: %w", err)
	}
	if attempts >= w.alertAfter() {
		lg.ErrorContext(ctx, "mail still undeliverable; retrying", "err", sendErr, "retry_in", delay)
	} else {
		lg.WarnContext(ctx, "mail not sent; will retry", "err", sendErr, "retry_in", delay)
	}
	return true, sendErr, nil
}

// shortError is the last_error stored on a row: one line, bounded, without
// the recipient's address (which the row deliberately does not hold in clear).
func shortError(err error, recipient string) string {
	s := strings.Join(strings.Fields(err.Error()), " ")
	if recipient != "" {
		s = strings.ReplaceAll(s, recipient, "<recipient>")
		s = strings.ReplaceAll(s, strings.ToLower(recipient), "<recipient>")
	}
	// The server's reply may hold any byte.
	return pgtext.Clean(s, maxErrorLen)
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
