package mail

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/mail/smtptest"
	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/internal/testenv"
)

func smtpSender(t *testing.T, srv *smtptest.Server) *SMTPSender {
	t.Helper()
	s, err := NewSMTPSender(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// messageIDs maps each received Message-ID to how often it arrived.
func messageIDs(msgs []smtptest.Received) map[string]int {
	seen := map[string]int{}
	for _, m := range msgs {
		seen[m.MessageID]++
	}
	return seen
}

func TestCommittedMailIsDeliveredWithinTwoSeconds(t *testing.T) {
	pool := testenv.Pool(t)
	quietOutbox(t, pool)
	tenant := newTenant(t, pool)
	srv := smtptest.Start(t)
	w := NewWorker(pool, testenv.Sealer(t), smtpSender(t, srv), testLogger(t))
	w.PollInterval = time.Minute // only the notification can make it in time
	run(t, w)
	waitListening(t, pool, 1)

	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	link := "https://acme.test/verify/Zm9vYmFy?next=/app&x=1"
	id, err := NewOutbox(testenv.Sealer(t)).Enqueue(ctx, tx, testMessage(t, tenant, "Bob@Example.test", link))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	got := srv.WaitFor(t, 1, 2*time.Second)
	latency := time.Since(start)
	t.Logf("enqueue commit -> SMTP accepted: %v", latency)
	if latency >= 2*time.Second {
		t.Fatalf("latency %v, want < 2s", latency)
	}

	m := got[0]
	if m.MessageID != "<"+id.String()+"@hallpass>" {
		t.Errorf("Message-ID %q, want <%s@hallpass>", m.MessageID, id)
	}
	if m.From != "no-reply@acme.test" || len(m.To) != 1 || m.To[0] != "Bob@Example.test" {
		t.Errorf("envelope %q -> %q", m.From, m.To)
	}
	if m.Subject != "[Acme] Please Confirm Your Email Address" {
		t.Errorf("subject %q", m.Subject)
	}
	if !hasLine(m.Text, link) {
		t.Errorf("text part has no line %q:\n%s", link, m.Text)
	}
	if !strings.Contains(m.HTML, `href="https://acme.test/verify/Zm9vYmFy?next=/app&amp;x=1"`) {
		t.Errorf("html part lacks the link:\n%s", m.HTML)
	}
	if ct := m.Header.Get("Content-Type"); !strings.HasPrefix(ct, "multipart/alternative") {
		t.Errorf("Content-Type %q, want multipart/alternative", ct)
	}
	if from := m.Header.Get("From"); !strings.Contains(from, "Acme") || !strings.Contains(from, "no-reply@acme.test") {
		t.Errorf("From %q", from)
	}
	eventually(t, 2*time.Second, func() error {
		if r := readRow(t, pool, tenant, id); !r.sent || r.attempts != 1 {
			return fmt.Errorf("row %+v, want sent after 1 attempt", r)
		}
		return nil
	})
}

func hasLine(text, want string) bool {
	for line := range strings.Lines(text) {
		if strings.TrimRight(line, "\r\n") == want {
			return true
		}
	}
	return false
}

func TestRolledBackMailIsNeverSent(t *testing.T) {
	pool := testenv.Pool(t)
	quietOutbox(t, pool)
	tenant := newTenant(t, pool)
	srv := smtptest.Start(t)
	run(t, fastWorker(t, pool, smtpSender(t, srv)))
	waitListening(t, pool, 1)

	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rolledBack, err := NewOutbox(testenv.Sealer(t)).Enqueue(ctx, tx, testMessage(t, tenant, "ghost@example.test", "https://acme.test/ghost"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	// A mail committed afterwards goes out; the rolled-back one must not
	// have gone before it, nor after (several rounds later).
	marker := enqueue(t, pool, testMessage(t, tenant, "marker@example.test", "https://acme.test/marker"))[0]
	srv.WaitFor(t, 1, 2*time.Second)
	time.Sleep(3 * 200 * time.Millisecond)
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].MessageID != "<"+marker.String()+"@hallpass>" {
		t.Fatalf("got %d message(s) %v, want only the marker", len(msgs), messageIDs(msgs))
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE tenant_id = $1 AND id = $2`, tenant, rolledBack).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rolled-back row: count %d, err %v", n, err)
	}
}

func TestPayloadIsSealedAtRest(t *testing.T) {
	pool := testenv.Pool(t)
	tenant := newTenant(t, pool)
	m := testMessage(t, tenant, "Secret.Recipient@Example.test", "https://acme.test/verify/s3cr3t-t0ken")
	m.Subject = "Very distinctive subject line"
	id := enqueue(t, pool, m)[0]

	var kind, hash, payload string
	if err := pool.QueryRow(context.Background(), `
		SELECT kind, recipient_hash, payload FROM outbox WHERE tenant_id = $1 AND id = $2`,
		tenant, id).Scan(&kind, &hash, &payload); err != nil {
		t.Fatal(err)
	}
	if kind != KindEmailConfirmation {
		t.Errorf("kind %q", kind)
	}
	if want := RecipientHash("secret.recipient@example.test"); hash != want || len(hash) != 64 {
		t.Errorf("recipient_hash %q, want %q", hash, want)
	}
	if !seal.IsSealed(payload) {
		t.Errorf("payload is not sealed: %.40q", payload)
	}
	for _, clear := range []string{"Secret.Recipient", "secret.recipient", "distinctive", "s3cr3t-t0ken", "Hello from", "no-reply@acme.test"} {
		if strings.Contains(payload, clear) {
			t.Errorf("payload contains %q in clear", clear)
		}
	}
	// The payload opens only for its own row.
	got, err := open(testenv.Sealer(t), tenant, id, payload)
	if err != nil || got != m {
		t.Fatalf("open: %v, %+v", err, got)
	}
	if _, err := open(testenv.Sealer(t), tenant, uuid.New(), payload); !errors.Is(err, seal.ErrMalformed) {
		t.Errorf("opening under another row's id: %v, want ErrMalformed", err)
	}
}

func TestMailSurvivesSMTPOutageAndIsDeliveredOnce(t *testing.T) {
	pool := testenv.Pool(t)
	quietOutbox(t, pool)
	tenant := newTenant(t, pool)
	srv := smtptest.Start(t)
	sender := smtpSender(t, srv)
	srv.Stop()
	run(t, fastWorker(t, pool, sender))

	var msgs []Message
	for i := range 3 {
		msgs = append(msgs, testMessage(t, tenant, fmt.Sprintf("user%d@example.test", i), fmt.Sprintf("https://acme.test/v/%d", i)))
	}
	ids := enqueue(t, pool, msgs...)

	eventually(t, 5*time.Second, func() error {
		for _, id := range ids {
			r := readRow(t, pool, tenant, id)
			if r.sent {
				t.Fatalf("row %s marked sent while SMTP is down", id)
			}
			if r.attempts < 3 {
				return fmt.Errorf("row %s: %d attempts", id, r.attempts)
			}
			if r.lastError == "" || strings.Contains(r.lastError, "@example.test") {
				t.Fatalf("last_error %q: want a reason, without the address", r.lastError)
			}
		}
		return nil
	})
	t.Logf("last_error while down: %q", readRow(t, pool, tenant, ids[0]).lastError)

	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	srv.WaitFor(t, 3, 2*time.Second)
	time.Sleep(3 * 200 * time.Millisecond) // several more rounds: nothing else may arrive
	seen := messageIDs(srv.Messages())
	if len(srv.Messages()) != 3 || len(seen) != 3 {
		t.Fatalf("got %d message(s), %d distinct, want 3 once each: %v", len(srv.Messages()), len(seen), seen)
	}
	for _, id := range ids {
		if seen["<"+id.String()+"@hallpass>"] != 1 {
			t.Errorf("message %s delivered %d times", id, seen["<"+id.String()+"@hallpass>"])
		}
		if r := readRow(t, pool, tenant, id); !r.sent {
			t.Errorf("row %s not marked sent", id)
		}
	}
}

func TestPersistentFailureAlertsAndKeepsRetrying(t *testing.T) {
	pool := testenv.Pool(t)
	quietOutbox(t, pool)
	tenant := newTenant(t, pool)
	srv := smtptest.Start(t)
	srv.RejectData(true)
	var logs syncBuffer
	w := fastWorker(t, pool, smtpSender(t, srv))
	w.log = slog.New(slog.NewTextHandler(&logs, nil))
	w.AlertAfter = 3
	run(t, w)

	id := enqueue(t, pool, testMessage(t, tenant, "frank@example.test", "https://acme.test/v/frank"))[0]
	eventually(t, 5*time.Second, func() error {
		if r := readRow(t, pool, tenant, id); r.attempts < 6 || r.sent {
			return fmt.Errorf("row %+v", r)
		}
		return nil
	})
	out := logs.String()
	if strings.Count(out, "level=WARN") < 2 || !strings.Contains(out, `level=ERROR msg="mail still undeliverable; retrying"`) {
		t.Fatalf("want warnings, then errors from attempt 3:\n%s", out)
	}
	// Still scheduled, at most BackoffMax away.
	var inSecs float64
	if err := pool.QueryRow(context.Background(), `
		SELECT EXTRACT(EPOCH FROM next_attempt_at - now()) FROM outbox WHERE tenant_id = $1 AND id = $2`,
		tenant, id).Scan(&inSecs); err != nil || inSecs > w.BackoffMax.Seconds() {
		t.Fatalf("next attempt in %vs (err %v), want <= %v", inSecs, err, w.BackoffMax)
	}
	srv.RejectData(false)
	srv.WaitFor(t, 1, 2*time.Second)
}

func TestTransientRejectionIsRetried(t *testing.T) {
	pool := testenv.Pool(t)
	quietOutbox(t, pool)
	tenant := newTenant(t, pool)
	srv := smtptest.Start(t)
	srv.RejectData(true)
	run(t, fastWorker(t, pool, smtpSender(t, srv)))

	id := enqueue(t, pool, testMessage(t, tenant, "carol@example.test", "https://acme.test/v/carol"))[0]
	eventually(t, 5*time.Second, func() error {
		r := readRow(t, pool, tenant, id)
		if r.attempts < 2 || srv.Rejected() < 2 {
			return fmt.Errorf("%d attempts, %d rejections", r.attempts, srv.Rejected())
		}
		if !strings.Contains(r.lastError, "451") {
			return fmt.Errorf("last_error %q lacks the 451", r.lastError)
		}
		return nil
	})
	srv.RejectData(false)
	srv.WaitFor(t, 1, 2*time.Second)
	time.Sleep(3 * 200 * time.Millisecond)
	if n := len(srv.Messages()); n != 1 {
		t.Fatalf("%d messages, want 1", n)
	}
	if r := readRow(t, pool, tenant, id); !r.sent || r.lastError != "" {
		t.Errorf("row after delivery: %+v", r)
	}
}

func TestTwoWorkersDeliverEachMessageOnce(t *testing.T) {
	poolA, poolB := testenv.Pool(t), testenv.Pool(t) // two nodes
	quietOutbox(t, poolA)
	tenant := newTenant(t, poolA)
	srv := smtptest.Start(t)
	senderA := &countingSender{Sender: smtpSender(t, srv)}
	senderB := &countingSender{Sender: smtpSender(t, srv)}
	run(t, fastWorker(t, poolA, senderA))
	run(t, fastWorker(t, poolB, senderB))
	waitListening(t, poolA, 2)

	const total = 50
	var (
		mu  sync.Mutex
		ids []uuid.UUID
		wg  sync.WaitGroup
	)
	// Half in one transaction, half in transactions of their own, at once.
	wg.Go(func() {
		var batch []Message
		for i := range total / 2 {
			batch = append(batch, testMessage(t, tenant, fmt.Sprintf("batch%d@example.test", i), "https://acme.test/b"))
		}
		got := enqueue(t, poolA, batch...)
		mu.Lock()
		ids = append(ids, got...)
		mu.Unlock()
	})
	for i := range total - total/2 {
		wg.Go(func() {
			pool := poolA
			if i%2 == 1 {
				pool = poolB
			}
			got := enqueue(t, pool, testMessage(t, tenant, fmt.Sprintf("single%d@example.test", i), "https://acme.test/s"))
			mu.Lock()
			ids = append(ids, got...)
			mu.Unlock()
		})
	}
	wg.Wait()

	srv.WaitFor(t, total, 5*time.Second)
	time.Sleep(3 * 200 * time.Millisecond)
	msgs := srv.Messages()
	seen := messageIDs(msgs)
	t.Logf("worker A sent %d, worker B sent %d", senderA.n.Load(), senderB.n.Load())
	if len(msgs) != total || len(seen) != total {
		t.Fatalf("%d messages, %d distinct Message-IDs, want %d each", len(msgs), len(seen), total)
	}
	for _, id := range ids {
		if seen["<"+id.String()+"@hallpass>"] != 1 {
			t.Errorf("message %s delivered %d times", id, seen["<"+id.String()+"@hallpass>"])
		}
		if r := readRow(t, poolA, tenant, id); !r.sent || r.attempts != 1 {
			t.Errorf("row %s: %+v", id, r)
		}
	}
}

func TestWorkerReconnectsAndCatchesUp(t *testing.T) {
	pool := testenv.Pool(t)
	quietOutbox(t, pool)
	tenant := newTenant(t, pool)
	srv := smtptest.Start(t)
	w := fastWorker(t, pool, smtpSender(t, srv))
	w.PollInterval = time.Minute // no fallback tick: only the catch-up round can deliver
	waiting := make(chan struct{}, 1)
	w.waiting = func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	}
	run(t, w)
	// The first catch-up round is over: the worker waits for a notification.
	select {
	case <-waiting:
	case <-time.After(5 * time.Second):
		t.Fatal("worker never started waiting")
	}

	// A row whose notification was lost (inserted without one).
	ctx := context.Background()
	m := testMessage(t, tenant, "dave@example.test", "https://acme.test/v/dave")
	id := uuid.New()
	plain, err := json.Marshal(payload(m))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := testenv.Sealer(t).Seal(plain, sealContext(tenant, id))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO outbox (tenant_id, id, kind, recipient_hash, payload) VALUES ($1, $2, $3, $4, $5)`,
		tenant, id, m.Kind, RecipientHash(m.To), sealed); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(srv.Messages()); n != 0 {
		t.Fatalf("%d message(s) sent without a notification or a tick", n)
	}

	var killed int
	if err := pool.QueryRow(ctx, `
		SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND application_name = $1`, listenerAppName).Scan(&killed); err != nil || killed != 1 {
		t.Fatalf("terminate listener: %d, %v", killed, err)
	}
	got := srv.WaitFor(t, 1, 2*time.Second)
	if got[0].MessageID != "<"+MessageID(id)+">" {
		t.Fatalf("Message-ID %q", got[0].MessageID)
	}
	waitListening(t, pool, 1)
	// Notifications work on the new connection.
	enqueue(t, pool, testMessage(t, tenant, "erin@example.test", "https://acme.test/v/erin"))
	srv.WaitFor(t, 2, 2*time.Second)
}

// The worker relies on a timed-out WaitForNotification leaving the LISTEN
// connection usable.
func TestListenerSurvivesWaitTimeouts(t *testing.T) {
	pool := testenv.Pool(t)
	w := NewWorker(pool, testenv.Sealer(t), nil, testLogger(t))
	ctx := context.Background()
	conn, err := w.listen(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for range 5 {
		waitCtx, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
		err := conn.PgConn().WaitForNotification(waitCtx)
		cancel()
		if err == nil || conn.IsClosed() {
			t.Fatalf("wait: %v, closed %v", err, conn.IsClosed())
		}
	}
	if _, err := pool.Exec(ctx, `SELECT pg_notify($1, '')`, NotifyChannel); err != nil {
		t.Fatal(err)
	}
	waitCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := conn.PgConn().WaitForNotification(waitCtx); err != nil {
		t.Fatalf("notification after timeouts: %v", err)
	}
}

func TestDrain(t *testing.T) {
	pool := testenv.Pool(t)
	quietOutbox(t, pool)
	tenant := newTenant(t, pool)
	srv := smtptest.Start(t)
	w := fastWorker(t, pool, smtpSender(t, srv))
	ctx := context.Background()

	var msgs []Message
	for i := range 5 {
		msgs = append(msgs, testMessage(t, tenant, fmt.Sprintf("e%d@example.test", i), "https://acme.test/e"))
	}
	enqueue(t, pool, msgs...)
	if sent, err := w.Drain(ctx); sent != 5 || err != nil {
		t.Fatalf("Drain: %d, %v; want 5, nil", sent, err)
	}
	if sent, err := w.Drain(ctx); sent != 0 || err != nil {
		t.Fatalf("second Drain: %d, %v; want 0, nil", sent, err)
	}
	if n := len(srv.Messages()); n != 5 {
		t.Fatalf("%d messages, want 5", n)
	}

	srv.Stop()
	id := enqueue(t, pool, testMessage(t, tenant, "f@example.test", "https://acme.test/f"))[0]
	sent, err := w.Drain(ctx)
	if sent != 0 || err == nil {
		t.Fatalf("Drain with SMTP down: %d, %v; want 0 and an error", sent, err)
	}
	if r := readRow(t, pool, tenant, id); r.sent || r.attempts != 1 {
		t.Fatalf("row after failed drain: %+v", r)
	}
}

func TestEnqueueRejectsInvalidMessages(t *testing.T) {
	pool := testenv.Pool(t)
	tenant := newTenant(t, pool)
	good := testMessage(t, tenant, "ok@example.test", "https://acme.test/ok")
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	ob := NewOutbox(testenv.Sealer(t))
	for name, mutate := range map[string]func(*Message){
		"no tenant":         func(m *Message) { m.TenantID = uuid.Nil },
		"bad recipient":     func(m *Message) { m.To = "not an address" },
		"display name":      func(m *Message) { m.To = "Bob <bob@example.test>" },
		"header injection":  func(m *Message) { m.To = "bob@example.test\r\nBcc: eve@example.test" },
		"no sender":         func(m *Message) { m.FromAddress = "" },
		"no subject":        func(m *Message) { m.Subject = " " },
		"no text":           func(m *Message) { m.Text = "" },
		"sender name break": func(m *Message) { m.FromName = "Acme\r\nBcc: x" },
	} {
		m := good
		mutate(&m)
		if _, err := ob.Enqueue(ctx, tx, m); !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("%s: %v, want ErrInvalidMessage", name, err)
		}
	}
}

func TestBackoff(t *testing.T) {
	base, limit := time.Second, 5*time.Minute
	for attempts, want := range map[int]time.Duration{
		1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 9: 256 * time.Second,
		10: limit, 20: limit, 64: limit, 1000: limit,
	} {
		for range 20 {
			got := Backoff(attempts, base, limit)
			if got > want || got < want-want/10 {
				t.Fatalf("Backoff(%d) = %v, want %v minus at most 10%%", attempts, got, want)
			}
		}
	}
}

func TestShortError(t *testing.T) {
	err := errors.New("550 5.1.1 <Bob@Example.test>: Recipient\r\n address rejected " + strings.Repeat("x", 1000))
	got := shortError(err, "Bob@Example.test")
	if strings.Contains(got, "Bob@") || strings.ContainsAny(got, "\r\n") || len(got) > maxErrorLen {
		t.Fatalf("shortError = %q", got)
	}
}
