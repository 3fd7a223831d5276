package faults

// Webhook delivery under faults: a receiver answering 500 then hanging
// then 200, Postgres restarted while deliveries run, and a node killed
// (SIGKILL) in the middle of a delivery, whose job another node takes over.
// In every case each event is delivered (answered 2xx) at least once, and a
// message is sent again only by a retry: a new attempt, after the previous
// one failed or its node died.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/internal/webhooks"
)

// hookSink is a receiver that scripts its answer by the attempt number of
// each message (webhook-id) and counts what it answered.
type hookSink struct {
	*httptest.Server
	mu       sync.Mutex
	attempts map[string]int
	ok       map[string]int
	// answer gives the status for a message's n-th request, or 0 to hang
	// until the client gives up.
	answer func(id string, n int) int
	// seen is told of every request as it arrives.
	seen chan string
}

func newHookSink(t *testing.T, answer func(id string, n int) int) *hookSink {
	s := &hookSink{attempts: map[string]int{}, ok: map[string]int{}, answer: answer, seen: make(chan string, 10000)}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get("webhook-id")
		s.mu.Lock()
		s.attempts[id]++
		n := s.attempts[id]
		s.mu.Unlock()
		s.seen <- id
		status := s.answer(id, n)
		if status == 0 {
			<-r.Context().Done()
			return
		}
		if status/100 == 2 {
			s.mu.Lock()
			s.ok[id]++
			s.mu.Unlock()
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(s.Close)
	return s
}

// counts returns the messages answered 2xx, those answered 2xx more than
// once, and the requests in all.
func (s *hookSink) counts() (delivered, twice, requests int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.ok {
		delivered++
		if n > 1 {
			twice++
		}
	}
	for _, n := range s.attempts {
		requests += n
	}
	return
}

func (s *hookSink) waitDelivered(t *testing.T, want int, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if d, _, _ := s.counts(); d >= want {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	d, _, r := s.counts()
	t.Fatalf("%d of %d messages delivered within %s (%d requests)", d, want, within, r)
	return 0
}

// hookNode is one node's delivery: a webhook service on its own pool.
func hookNode(t *testing.T, dbURL string, sealer *seal.Sealer, tune func(*webhooks.Config)) (*webhooks.Service, *pgxpool.Pool) {
	t.Helper()
	svc, pool, stop, err := startHookNode(dbURL, sealer, tune)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return svc, pool
}

// startHookNode starts a delivery node on dbURL; stop stops it gracefully
// and closes its pool.
func startHookNode(dbURL string, sealer *seal.Sealer, tune func(*webhooks.Config)) (*webhooks.Service, *pgxpool.Pool, func(), error) {
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		return nil, nil, nil, err
	}
	cfg := webhooks.Config{Pool: pool, Sealer: sealer, URLs: webhooks.URLPolicy{AllowPrivate: true}, RetryBase: 200 * time.Millisecond,
		PollInterval: 100 * time.Millisecond, RequestTimeout: time.Second, RescueAfter: 3 * time.Second,
		Log: slog.New(slog.DiscardHandler)}
	if tune != nil {
		tune(&cfg)
	}
	svc, err := webhooks.New(cfg)
	if err == nil {
		err = svc.Start(context.Background())
	}
	if err != nil {
		pool.Close()
		return nil, nil, nil, err
	}
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = svc.Stop(ctx)
		pool.Close()
	}
	return svc, pool, stop, nil
}

var auditActor = audit.Actor{Name: "faults"}

// hookTenant makes a tenant with one endpoint on url.
func hookTenant(t *testing.T, svc *webhooks.Service, pool *pgxpool.Pool, url string) uuid.UUID {
	t.Helper()
	id := uuid.New()
	if _, err := pool.Exec(context.Background(), `INSERT INTO tenants (id, slug, name) VALUES ($1, $2, 'hooks')`, id, "hooks-"+id.String()[:8]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Create(context.Background(), id, webhooks.EndpointInput{URL: &url}, auditActor); err != nil {
		t.Fatal(err)
	}
	return id
}

// emitHooks commits n events, each in a transaction of its own as a change
// would, through the service's Fanout.
func emitHooks(t *testing.T, svc *webhooks.Service, pool *pgxpool.Pool, tenant uuid.UUID, n int) {
	t.Helper()
	for i := range n {
		e := events.Event{ID: int64(i + 1), TenantID: tenant, Type: events.UserCreated, At: time.Now(), Data: json.RawMessage(`{"user":{"id":1}}`)}
		if err := pgx.BeginFunc(context.Background(), pool, func(tx pgx.Tx) error { return svc.Fanout(context.Background(), tx, e) }); err != nil {
			t.Fatal(err)
		}
	}
}

// The receiver answers each message's first request 500, hangs on its
// second (past the 1 s timeout) and answers the third 200: every message
// is delivered once, after exactly three requests.
func TestWebhooksReceiverFaults(t *testing.T) {
	pg := StartPostgres(t)
	dbURL := pg.CreateDatabase(t, "hallpass")
	sealer := newSealer(t)
	sink := newHookSink(t, func(_ string, n int) int {
		switch n {
		case 1:
			return 500
		case 2:
			return 0
		}
		return 200
	})
	svc, pool := hookNode(t, dbURL, sealer, nil)
	tenant := hookTenant(t, svc, pool, sink.URL)
	const n = 30
	emitHooks(t, svc, pool, tenant, n)
	took := sink.waitDelivered(t, n, 60*time.Second)
	time.Sleep(time.Second) // any late duplicate would show now
	delivered, twice, requests := sink.counts()
	t.Logf("SUMMARY webhooks receiver 500/hang/200: %d of %d delivered in %s, %d requests, %d delivered twice", delivered, n, took.Round(time.Millisecond), requests, twice)
	if delivered != n || twice != 0 || requests != 3*n {
		t.Errorf("delivered %d, twice %d, requests %d; want %d, 0, %d", delivered, twice, requests, n, 3*n)
	}
	states := map[string]int{}
	rows, _ := pool.Query(context.Background(), `SELECT status, count(*) FROM webhook_deliveries WHERE tenant_id = $1 GROUP BY status`, tenant)
	for rows.Next() {
		var s string
		var c int
		_ = rows.Scan(&s, &c)
		states[s] = c
	}
	if states["delivered"] != n {
		t.Errorf("delivery states %v", states)
	}
}

// Postgres stops (fast shutdown) while deliveries run and starts again 2 s
// later: every message is delivered; a message whose answer could not be
// recorded while Postgres was down is sent again (a retry), no other.
func TestWebhooksPostgresRestarted(t *testing.T) {
	pg := StartPostgres(t)
	dbURL := pg.CreateDatabase(t, "hallpass")
	sealer := newSealer(t)
	sink := newHookSink(t, func(string, int) int { time.Sleep(20 * time.Millisecond); return 200 })
	svc, pool := hookNode(t, dbURL, sealer, func(c *webhooks.Config) { c.Workers = 4 })
	tenant := hookTenant(t, svc, pool, sink.URL)
	const n = 200
	emitHooks(t, svc, pool, tenant, n)
	for len(sink.seen) < 20 {
		time.Sleep(5 * time.Millisecond)
	}
	pg.Stop(t)
	time.Sleep(2 * time.Second)
	pg.Start(t)
	took := sink.waitDelivered(t, n, 120*time.Second)
	time.Sleep(time.Second)
	delivered, twice, requests := sink.counts()
	t.Logf("SUMMARY webhooks postgres restarted: %d of %d delivered (%s after the restart), %d requests, %d delivered twice (retries of answers not recorded while Postgres was down)",
		delivered, n, took.Round(time.Millisecond), requests, twice)
	if delivered != n || twice > 8 {
		t.Errorf("delivered %d of %d, %d twice (at most the 4 workers' in flight, twice)", delivered, n, twice)
	}
}

// webhookNodeEnv tells the test binary, started again, to be a delivery
// node on this database and master key (runWebhookNode, from TestMain)
// instead of running tests.
const webhookNodeEnv = "HALLPASS_FAULTS_WEBHOOK_NODE"

// runWebhookNode is the node the kill scenario starts as a child process
// and kills: it delivers until it dies. It returns only on a bad start.
func runWebhookNode(spec string) int {
	var cfg struct{ DB, Key string }
	if err := json.Unmarshal([]byte(spec), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "webhook node:", err)
		return 2
	}
	key, _ := base64.StdEncoding.DecodeString(cfg.Key)
	sealer, err := seal.New(key)
	if err == nil {
		// A long timeout: the node is killed while its request waits.
		_, _, _, err = startHookNode(cfg.DB, sealer, func(c *webhooks.Config) { c.RequestTimeout = 60 * time.Second; c.RescueAfter = 3 * time.Minute })
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "webhook node:", err)
		return 2
	}
	select {}
}

// A node is killed (SIGKILL) while its delivery waits for the receiver's
// answer: the job stays running with no one working it, until another
// node's River rescues it (RescueAfter) and delivers it. The message is
// delivered once; the receiver saw it twice, the dead node's attempt and
// the retry.
func TestWebhooksNodeKilledMidDelivery(t *testing.T) {
	pg := StartPostgres(t)
	dbURL := pg.CreateDatabase(t, "hallpass")
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i * 7)
	}
	sealer, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	sink := newHookSink(t, func(_ string, n int) int {
		if n == 1 {
			return 0 // the first node's request hangs until that node dies
		}
		return 200
	})
	// The events are queued before any node delivers.
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	inserter, err := webhooks.New(webhooks.Config{Pool: pool, Sealer: sealer, URLs: webhooks.URLPolicy{AllowPrivate: true}})
	if err != nil {
		t.Fatal(err)
	}
	tenant := hookTenant(t, inserter, pool, sink.URL)
	emitHooks(t, inserter, pool, tenant, 1)

	spec, _ := json.Marshal(map[string]string{"DB": dbURL, "Key": base64.StdEncoding.EncodeToString(key)})
	child := exec.Command(os.Args[0], "-test.run=^$", "-test.timeout=5m")
	child.Env = append(os.Environ(), webhookNodeEnv+"="+string(spec))
	child.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = child.Process.Kill(); _ = child.Wait() })
	select {
	case <-sink.seen:
	case <-time.After(60 * time.Second):
		t.Fatal("the child node never delivered")
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()
	killed := time.Now()
	var state string
	_ = pool.QueryRow(context.Background(), `SELECT state FROM river_job WHERE kind = 'webhook_delivery'`).Scan(&state)
	t.Logf("child node killed mid-delivery; its job is %s", state)

	hookNode(t, dbURL, sealer, nil)
	sink.waitDelivered(t, 1, 150*time.Second)
	time.Sleep(time.Second)
	delivered, twice, requests := sink.counts()
	t.Logf("SUMMARY webhooks node killed mid-delivery: delivered by the second node %s after the kill, %d requests, %d delivered twice",
		(time.Since(killed) - time.Second).Round(time.Second), requests, twice)
	if delivered != 1 || twice != 0 || requests != 2 {
		t.Errorf("delivered %d, twice %d, requests %d; want 1, 0, 2", delivered, twice, requests)
	}
	var status string
	var attempts int
	if err := pool.QueryRow(context.Background(), `SELECT status, attempts FROM webhook_deliveries WHERE tenant_id = $1`, tenant).Scan(&status, &attempts); err != nil {
		t.Fatal(err)
	}
	if status != "delivered" {
		t.Errorf("delivery %s after %d logged attempts", status, attempts)
	}
}
