package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river"

	"github.com/hallpass/hallpass/internal/mail"
)

// MaxExcerpt is how much of a response body the log keeps; MaxDrain is
// how much more is read (and discarded) before the connection is cut, so
// a receiver answering 10 MB, or never closing, costs a bounded amount.
const (
	MaxExcerpt = 8 << 10
	MaxDrain   = 1 << 20
)

// retryDelay is the wait after the attempt-th failed attempt: base doubled
// per attempt, capped at MaxRetryDelay, ±20 % jitter so that a receiver
// back from an outage is not hit by every queued message at once.
func retryDelay(attempt int, base time.Duration) time.Duration {
	d := base
	for i := 1; i < attempt && d < MaxRetryDelay; i++ {
		d *= 2
	}
	d = min(d, MaxRetryDelay)
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

type deliveryWorker struct {
	river.WorkerDefaults[deliveryArgs]
	s *Service
}

// NextRetry is when a failed delivery is tried again.
func (w *deliveryWorker) NextRetry(job *river.Job[deliveryArgs]) time.Time {
	return time.Now().Add(retryDelay(job.Attempt, w.s.cfg.RetryBase))
}

// Timeout bounds one attempt, the request and the log's write.
func (w *deliveryWorker) Timeout(*river.Job[deliveryArgs]) time.Duration {
	return 2 * w.s.cfg.RequestTimeout
}

// attempt is the outcome of one request.
type attempt struct {
	outcome  string // delivered, failed, skipped
	status   int
	latency  time.Duration
	excerpt  string
	err      string
	gone     bool // 410: the receiver asks to stop
	trigger  string
	lastTry  bool
	tenantID uuid.UUID
}

// errAttempt is what a failed attempt returns to River, which retries it.
type errAttempt struct{ msg string }

func (e *errAttempt) Error() string { return e.msg }

// Work delivers one message to one endpoint.
func (w *deliveryWorker) Work(ctx context.Context, job *river.Job[deliveryArgs]) error {
	s, a := w.s, job.Args
	ep, secrets, payload, err := s.load(ctx, a)
	if errors.Is(err, ErrNotFound) {
		return river.JobCancel(fmt.Errorf("endpoint %s or message %s deleted", a.EndpointID, a.MessageID))
	}
	if err != nil {
		return err
	}
	res := attempt{trigger: a.Trigger, lastTry: job.Attempt >= job.MaxAttempts, tenantID: a.TenantID}
	if res.trigger == "" {
		res.trigger = TriggerEvent
	}
	if !ep.Enabled && a.Trigger != TriggerTest {
		res.outcome, res.err = "skipped", "the endpoint is disabled"
		if _, err := s.record(ctx, ep, a.MessageID, res); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		return river.JobCancel(errors.New("endpoint disabled"))
	}
	res = s.post(ctx, ep.URL, secrets, a.MessageID, payload, res)
	disabled, err := s.record(ctx, ep, a.MessageID, res)
	if errors.Is(err, ErrNotFound) {
		return river.JobCancel(fmt.Errorf("endpoint %s deleted", a.EndpointID))
	}
	if err != nil {
		return err
	}
	switch {
	case res.outcome == "delivered":
		return nil
	case disabled || res.gone || a.Trigger == TriggerTest:
		// A test is tried once: its answer is what the tenant looks for.
		return river.JobCancel(&errAttempt{res.err})
	}
	return &errAttempt{res.err}
}

// load reads, in one query, what a delivery needs: the endpoint, its
// signing secrets (opened) and the message's payload.
func (s *Service) load(ctx context.Context, a deliveryArgs) (Endpoint, []string, []byte, error) {
	ep := Endpoint{TenantID: a.TenantID, ID: a.EndpointID}
	var cur string
	var prev *string
	var payload []byte
	err := s.cfg.Pool.QueryRow(ctx, `SELECT e.url, e.enabled, e.secret,
			CASE WHEN e.previous_secret_expires_at > clock_timestamp() THEN e.previous_secret END, m.payload
		FROM webhook_endpoints e JOIN webhook_messages m ON m.tenant_id = e.tenant_id AND m.id = $3
		WHERE e.tenant_id = $1 AND e.id = $2`, a.TenantID, a.EndpointID, a.MessageID).Scan(&ep.URL, &ep.Enabled, &cur, &prev, &payload)
	if errors.Is(err, pgx.ErrNoRows) {
		return ep, nil, nil, ErrNotFound
	}
	if err != nil {
		return ep, nil, nil, err
	}
	secrets := make([]string, 0, 2)
	for _, sealed := range []*string{&cur, prev} {
		if sealed == nil {
			continue
		}
		plain, err := s.cfg.Sealer.Open(*sealed, sealContext(a.TenantID, a.EndpointID))
		if err != nil {
			return ep, nil, nil, err
		}
		secrets = append(secrets, string(plain))
	}
	return ep, secrets, payload, nil
}

// post makes one attempt.
func (s *Service) post(ctx context.Context, url string, secrets []string, msgID uuid.UUID, payload []byte, res attempt) attempt {
	at := time.Now()
	fail := func(msg string) attempt {
		res.outcome, res.err, res.latency = "failed", msg, time.Since(at)
		return res
	}
	id := msgID.String()
	sig, err := Sign(secrets, id, at, payload)
	if err != nil {
		return fail("signing: " + err.Error())
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		return fail("request: " + err.Error())
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Hallpass-Webhooks/1")
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(at.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	resp, err := s.client.Do(req)
	if err != nil {
		msg := err.Error()
		switch {
		case errors.Is(err, ErrForbiddenAddress):
			msg = "refused: the endpoint's host resolves to an address that is not public"
		case errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "Client.Timeout"):
			msg = fmt.Sprintf("no answer within %s", s.cfg.RequestTimeout)
		}
		return fail(msg)
	}
	defer resp.Body.Close()
	excerpt, _ := io.ReadAll(io.LimitReader(resp.Body, MaxExcerpt))
	drain(resp.Body, MaxDrain)
	res.latency = time.Since(at)
	res.status = resp.StatusCode
	res.excerpt = printable(excerpt)
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		res.outcome = "delivered"
	case resp.StatusCode == http.StatusGone:
		res.outcome, res.gone, res.err = "failed", true, "410 Gone: the endpoint is disabled"
	default:
		res.outcome, res.err = "failed", "HTTP "+strconv.Itoa(resp.StatusCode)
	}
	return res
}

// printable keeps the valid UTF-8 of b, without NULs (Postgres text).
func printable(b []byte) string {
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "")
}

// record writes an attempt to the log, the delivery's state and the
// endpoint's failure record, in one transaction; when the endpoint must
// be disabled (410, or failing for DisableAfter) it disables it there and
// queues the owners' mail, and reports true.
func (s *Service) record(ctx context.Context, ep Endpoint, msgID uuid.UUID, res attempt) (disabled bool, err error) {
	ctx = context.WithoutCancel(ctx) // an attempt made is logged, even when the job's time is up
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var status *int
	if res.status != 0 {
		status = &res.status
	}
	state := "pending"
	switch {
	case res.outcome == "delivered":
		state = "delivered"
	case res.outcome == "skipped", res.gone, res.lastTry, res.trigger == TriggerTest:
		state = "failed"
	}
	// One statement, so one round trip: the log entry, the delivery's
	// state and (but for skipped and test attempts) the endpoint's failure
	// record.
	var failingLong bool
	err = s.cfg.Pool.QueryRow(ctx, `WITH a AS (
			INSERT INTO webhook_attempts (tenant_id, endpoint_id, message_id, outcome, response_status, latency_ms, response_excerpt, error, trigger)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		), d AS (
			UPDATE webhook_deliveries SET status = $10, attempts = attempts + 1, last_attempt_at = clock_timestamp()
			WHERE tenant_id = $1 AND endpoint_id = $2 AND message_id = $3
		), e AS (
			UPDATE webhook_endpoints SET failing_since = CASE WHEN $11 THEN NULL ELSE coalesce(failing_since, clock_timestamp()) END
			WHERE tenant_id = $1 AND id = $2 AND $12
			RETURNING coalesce(failing_since <= clock_timestamp() - $13 * interval '1 second', false) AS long
		)
		SELECT coalesce((SELECT long FROM e), false)`,
		ep.TenantID, ep.ID, msgID, res.outcome, status, res.latency.Milliseconds(), res.excerpt, res.err, res.trigger,
		state, res.outcome == "delivered", res.outcome != "skipped" && res.trigger != TriggerTest, s.cfg.DisableAfter.Seconds()).Scan(&failingLong)
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok && pe.Code == "23503" {
		return false, ErrNotFound // the endpoint was deleted meanwhile
	}
	if err != nil {
		return false, err
	}
	reason := ""
	switch {
	case res.trigger == TriggerTest || res.outcome == "skipped":
		return false, nil
	case res.gone:
		reason = "the endpoint answered 410 Gone"
	case failingLong:
		reason = fmt.Sprintf("every delivery failed for %s", days(s.cfg.DisableAfter))
	default:
		return false, nil
	}
	err = pgx.BeginFunc(ctx, s.cfg.Pool, func(tx pgx.Tx) error {
		var was bool
		err := tx.QueryRow(ctx, `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $3, updated_at = clock_timestamp()
			WHERE tenant_id = $1 AND id = $2 AND enabled RETURNING true`, ep.TenantID, ep.ID, reason).Scan(&was)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // disabled already (by another delivery): mailed then
		}
		if err != nil {
			return err
		}
		disabled = true
		if _, err := tx.Exec(ctx, `UPDATE webhook_deliveries SET status = 'failed'
			WHERE tenant_id = $1 AND endpoint_id = $2 AND message_id = $3`, ep.TenantID, ep.ID, msgID); err != nil {
			return err
		}
		s.log.Warn("webhooks: endpoint disabled", "tenant", ep.TenantID, "endpoint", ep.ID, "reason", reason)
		return s.mailOwners(ctx, tx, ep, reason)
	})
	return disabled, err
}

func days(d time.Duration) string {
	if d >= 48*time.Hour && d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + " days"
	}
	return d.String()
}

// MailKind is the outbox kind of the mail telling owners an endpoint was
// disabled.
const MailKind = "webhook_endpoint_disabled"

// mailOwners queues, in tx, a mail to each of the tenant's console owners
// saying the endpoint was disabled and why.
func (s *Service) mailOwners(ctx context.Context, tx pgx.Tx, ep Endpoint, reason string) error {
	if s.cfg.Outbox == nil {
		return nil
	}
	var slug, name string
	if err := tx.QueryRow(ctx, `SELECT slug, name FROM tenants WHERE id = $1`, ep.TenantID).Scan(&slug, &name); err != nil {
		return err
	}
	if s.cfg.Owners == nil {
		return nil
	}
	owners, err := s.cfg.Owners(ctx, ep.TenantID)
	if err != nil {
		return err
	}
	subject := "[Hallpass] Webhook endpoint disabled on " + oneLine(name)
	text := fmt.Sprintf("The webhook endpoint %s of tenant %s (%s) was disabled: %s.\n\n"+
		"Events are no longer sent to it. Fix the receiver, enable the endpoint again, then redeliver the failed messages:\n\n%s\n",
		ep.URL, oneLine(name), slug, reason, strings.TrimRight(s.cfg.ConsoleURL, "/")+"/console/t/"+slug+"/webhooks/"+ep.ID.String())
	for _, to := range owners {
		if _, err := s.cfg.Outbox.Enqueue(ctx, tx, mail.Message{TenantID: ep.TenantID, Kind: MailKind, To: to,
			FromName: "Hallpass", FromAddress: s.cfg.MailFrom, Subject: subject, Text: text}); err != nil {
			return err
		}
	}
	return nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
