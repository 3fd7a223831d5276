package webhooks_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/webhooks"
)

// verify checks a request's signature with the Standard Webhooks
// reference library, for secret.
func verify(t *testing.T, secret string, r received) error {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh.Verify(r.body, r.header)
}

func TestSignatureMatchesStandardWebhooks(t *testing.T) {
	secret := webhooks.NewSecret()
	if !strings.HasPrefix(secret, "whsec_") || len(secret) < len("whsec_")+32 {
		t.Fatalf("secret %q", secret)
	}
	body := []byte(`{"type":"user.created"}`)
	at := time.Now()
	sig, err := webhooks.Sign([]string{secret}, "msg_1", at, body)
	if err != nil {
		t.Fatal(err)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	h.Set("webhook-signature", sig)
	if err := verify(t, secret, received{header: h, body: body}); err != nil {
		t.Fatalf("reference library refused our signature: %v", err)
	}
	if err := verify(t, secret, received{header: h, body: []byte(`{"type":"user.deleted"}`)}); err == nil {
		t.Fatal("a changed body verified")
	}
	// During a rotation both secrets sign: either verifies.
	other := webhooks.NewSecret()
	both, err := webhooks.Sign([]string{other, secret}, "msg_1", at, body)
	if err != nil {
		t.Fatal(err)
	}
	h.Set("webhook-signature", both)
	for _, s := range []string{secret, other} {
		if err := verify(t, s, received{header: h, body: body}); err != nil {
			t.Errorf("rotation: %v", err)
		}
	}
	if err := verify(t, webhooks.NewSecret(), received{header: h, body: body}); err == nil {
		t.Error("a third secret verified")
	}
}

type uuidT = uuid.UUID

func uuidNew() string { return uuid.NewString() }

func mailHash(to string) string { return mail.RecipientHash(to) }

// resolver answers from a map; a missing name does not resolve.
type resolver map[string][]string

func (r resolver) LookupIPAddr(_ context.Context, host string) ([]net.IPAddr, error) {
	var out []net.IPAddr
	for _, a := range r[host] {
		out = append(out, net.IPAddr{IP: net.ParseIP(a)})
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

func TestCheckURL(t *testing.T) {
	dns := resolver{"hooks.example.com": {"93.184.216.34"}, "internal.example.com": {"93.184.216.34", "10.1.2.3"},
		"meta.example.com": {"169.254.169.254"}, "v6.example.com": {"2606:4700::1111"}}
	public := webhooks.URLPolicy{Resolver: dns}
	private := webhooks.URLPolicy{Resolver: dns, AllowPrivate: true}
	for _, tc := range []struct {
		url  string
		p    webhooks.URLPolicy
		code string
	}{
		{"https://hooks.example.com/in?x=1", public, ""},
		{"https://v6.example.com/", public, ""},
		{"HTTPS://hooks.example.com/in#frag", public, ""},
		{"", public, "required"},
		{"hooks.example.com/in", public, "invalid_url"},
		{"/in", public, "invalid_url"},
		{"ftp://hooks.example.com/", public, "insecure_url"},
		{"http://hooks.example.com/", public, "insecure_url"},
		{"https://user:pw@hooks.example.com/", public, "invalid_url"},
		{"https://nowhere.example.com/", public, "unresolvable_host"},
		{"https://internal.example.com/", public, "private_address"},
		{"https://meta.example.com/", public, "private_address"},
		{"https://127.0.0.1/", public, "private_address"},
		{"https://[::1]/", public, "private_address"},
		{"https://10.0.0.8/", public, "private_address"},
		{"https://192.168.1.1/", public, "private_address"},
		{"https://100.64.0.1/", public, "private_address"},
		{"https://169.254.169.254/latest/meta-data", public, "private_address"},
		{"https://[fd00::1]/", public, "private_address"},
		{"https://[fe80::1]/", public, "private_address"},
		{"https://[::ffff:127.0.0.1]/", public, "private_address"},
		{"https://0.0.0.0/", public, "private_address"},
		{"https://" + strings.Repeat("a", 2050) + ".example.com/", public, "too_long"},
		{"http://127.0.0.1:8080/hook", private, ""},
		{"https://internal.example.com/", private, ""},
	} {
		got, err := tc.p.CheckURL(context.Background(), tc.url)
		var ie *webhooks.InputError
		switch {
		case tc.code == "" && err != nil:
			t.Errorf("%s: refused: %v", tc.url, err)
		case tc.code != "" && (!errors.As(err, &ie) || ie.Code != tc.code || ie.Field != "url"):
			t.Errorf("%s: got %q, %v; want %s", tc.url, got, err, tc.code)
		}
		if tc.code == "" && strings.Contains(got, "#") {
			t.Errorf("%s: fragment kept: %s", tc.url, got)
		}
	}
}

func TestCreateRefusesUnknownEventTypes(t *testing.T) {
	f := newFixture(t, nil)
	u := "http://127.0.0.1:9/x"
	for _, bad := range [][]string{{"user.exploded"}, {"user.created", ""}, {"webhook.test"}} {
		_, _, err := f.svc.Create(context.Background(), f.tenant, webhooks.EndpointInput{URL: &u, Events: &bad}, actor)
		var ie *webhooks.InputError
		if !errors.As(err, &ie) || ie.Code != "unknown_event_type" || ie.Field != "events" {
			t.Errorf("%v: %v", bad, err)
		}
	}
	ok := []string{events.UserCreated, events.UserCreated, events.SessionCreated}
	ep, secret, err := f.svc.Create(context.Background(), f.tenant, webhooks.EndpointInput{URL: &u, Events: &ok}, actor)
	if err != nil || len(ep.Events) != 2 || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("%+v %v", ep, err)
	}
	var stored string
	if err := f.pool.QueryRow(context.Background(), `SELECT secret FROM webhook_endpoints WHERE id = $1`, ep.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, strings.TrimPrefix(secret, "whsec_")) {
		t.Error("the secret is stored in clear")
	}
	if f.count(`SELECT count(*) FROM audit_events WHERE tenant_id = $1 AND action = 'webhook.endpoint.create'`, f.tenant) != 1 {
		t.Error("not audited")
	}
}

// TestDeliveredAfterRetry: the receiver answers 500, then 200; the event
// arrives twice with the same webhook-id, signed, and the log shows both.
func TestDeliveredAfterRetry(t *testing.T) {
	f := newFixture(t, nil)
	rcv := newReceiver(t, func(n int) (int, string, bool) {
		if n == 1 {
			return 500, "boom", false
		}
		return 200, "thanks", false
	})
	ep, secret := f.endpoint(rcv.URL + "/hook")
	f.emit(events.UserCreated, false)
	got := rcv.wait(t, 2, 10*time.Second)
	for i, r := range got {
		if err := verify(t, secret, r); err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	if got[0].header.Get("webhook-id") != got[1].header.Get("webhook-id") || got[0].header.Get("webhook-id") == "" {
		t.Error("the retry changed the webhook-id")
	}
	var p map[string]any
	if err := json.Unmarshal(got[1].body, &p); err != nil || p["type"] != "user.created" || p["tenant"] != f.slug || p["data"] == nil || p["timestamp"] == nil {
		t.Errorf("payload %s", got[1].body)
	}
	waitFor(t, 5*time.Second, "the log", func() bool {
		a, _ := f.svc.Attempts(context.Background(), f.tenant, ep.ID, 0, 10)
		return len(a) == 2
	})
	log, _ := f.svc.Attempts(context.Background(), f.tenant, ep.ID, 0, 10)
	if log[0].Outcome != "delivered" || *log[0].StatusCode != 200 || log[0].Excerpt != "thanks" ||
		log[1].Outcome != "failed" || *log[1].StatusCode != 500 || log[1].Excerpt != "boom" || log[1].EventType != "user.created" {
		t.Errorf("log %+v", log)
	}
	waitFor(t, 5*time.Second, "delivered", func() bool {
		d, _ := f.svc.Deliveries(context.Background(), f.tenant, ep.ID, "delivered", 10)
		return len(d) == 1 && d[0].Attempts == 2
	})
	e, _ := f.svc.Get(context.Background(), f.tenant, ep.ID)
	if e.FailingSince != nil {
		t.Error("failing_since kept after a success")
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(rcv.requests()); n != 2 {
		t.Errorf("%d requests, want 2", n)
	}
}

// TestRolledBackChangeQueuesNothing: no message, delivery or job for an
// event whose transaction rolled back; none either without a subscriber.
func TestRolledBackChangeQueuesNothing(t *testing.T) {
	f := newFixture(t, nil)
	rcv := newReceiver(t, always(200))
	f.endpoint(rcv.URL, events.UserCreated)
	f.emit(events.UserCreated, true)
	f.emit(events.SessionCreated, false) // not subscribed
	if n := f.count(`SELECT count(*) FROM webhook_messages WHERE tenant_id = $1`, f.tenant); n != 0 {
		t.Errorf("%d messages", n)
	}
	if n := f.count(`SELECT count(*) FROM river_job WHERE args->>'tenant_id' = $1`, f.tenant.String()); n != 0 {
		t.Errorf("%d jobs", n)
	}
	f.emit(events.UserCreated, false)
	rcv.wait(t, 1, 10*time.Second)
}

// TestGoneDisablesAndMailsOwners: 410 disables the endpoint at once, and
// the tenant's owners (not its admins) are mailed.
func TestGoneDisablesAndMailsOwners(t *testing.T) {
	f := newFixture(t, nil)
	f.member("owner")
	f.member("admin")
	rcv := newReceiver(t, always(http.StatusGone))
	ep, _ := f.endpoint(rcv.URL)
	f.emit(events.UserCreated, false)
	rcv.wait(t, 1, 10*time.Second)
	waitFor(t, 5*time.Second, "disabled", func() bool {
		e, _ := f.svc.Get(context.Background(), f.tenant, ep.ID)
		return !e.Enabled && strings.Contains(e.DisabledReason, "410")
	})
	if n := f.count(`SELECT count(*) FROM outbox WHERE tenant_id = $1 AND kind = $2`, f.tenant, webhooks.MailKind); n != 1 {
		t.Errorf("%d mails, want 1 (the owner)", n)
	}
	f.emit(events.UserCreated, false) // a disabled endpoint is not queued
	time.Sleep(300 * time.Millisecond)
	if n := len(rcv.requests()); n != 1 {
		t.Errorf("%d requests after disabling", n)
	}
}

// member adds a console user with role on the tenant.
func (f *fixture) member(role string) string {
	f.t.Helper()
	id := uuidNew()
	email := role + "-" + id[:8] + "@example.com"
	ctx := context.Background()
	if _, err := f.pool.Exec(ctx, `INSERT INTO console_users (id, email, email_folded, password_hash) VALUES ($1, $2, $2, 'x')`, id, email); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.pool.Exec(ctx, `INSERT INTO memberships (tenant_id, console_user_id, role) VALUES ($1, $2, $3)`, f.tenant, id, role); err != nil {
		f.t.Fatal(err)
	}
	return email
}

// TestFailingFiveDaysDisables: an endpoint whose failures began more than
// DisableAfter ago is disabled by its next failure.
func TestFailingFiveDaysDisables(t *testing.T) {
	f := newFixture(t, func(c *webhooks.Config) { c.RetryBase = time.Second })
	owner := f.member("owner")
	rcv := newReceiver(t, always(503))
	ep, _ := f.endpoint(rcv.URL)
	if _, err := f.pool.Exec(context.Background(), `UPDATE webhook_endpoints SET failing_since = now() - interval '4 days 23 hours' WHERE id = $1`, ep.ID); err != nil {
		t.Fatal(err)
	}
	f.emit(events.UserCreated, false)
	rcv.wait(t, 1, 10*time.Second)
	time.Sleep(200 * time.Millisecond)
	if e, _ := f.svc.Get(context.Background(), f.tenant, ep.ID); !e.Enabled {
		t.Fatal("disabled before 5 days")
	}
	if _, err := f.pool.Exec(context.Background(), `UPDATE webhook_endpoints SET failing_since = now() - interval '5 days 1 minute' WHERE id = $1`, ep.ID); err != nil {
		t.Fatal(err)
	}
	rcv.wait(t, 2, 10*time.Second)
	waitFor(t, 5*time.Second, "disabled", func() bool {
		e, _ := f.svc.Get(context.Background(), f.tenant, ep.ID)
		return !e.Enabled && strings.Contains(e.DisabledReason, "5 days")
	})
	if n := f.count(`SELECT count(*) FROM outbox WHERE tenant_id = $1 AND kind = $2 AND recipient_hash = $3`, f.tenant, webhooks.MailKind,
		mailHash(owner)); n != 1 {
		t.Errorf("%d mails to the owner", n)
	}
	time.Sleep(400 * time.Millisecond)
	if n := len(rcv.requests()); n != 2 {
		t.Errorf("%d requests, want 2 (no retry once disabled)", n)
	}
	// Enabled again, the failed message is redelivered.
	on := true
	if _, err := f.svc.Update(context.Background(), f.tenant, ep.ID, webhooks.EndpointInput{Enabled: &on}, actor); err != nil {
		t.Fatal(err)
	}
	rcv.answer(always(200))
	n, err := f.svc.RedeliverFailed(context.Background(), f.tenant, ep.ID, time.Now().Add(-time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("redeliver: %d %v", n, err)
	}
	rcv.wait(t, 3, 10*time.Second)
	waitFor(t, 5*time.Second, "delivered", func() bool {
		d, _ := f.svc.Deliveries(context.Background(), f.tenant, ep.ID, "delivered", 10)
		return len(d) == 1
	})
}

// TestDeletedEndpointDropsQueued: messages queued for an endpoint that is
// deleted are not sent (their jobs are cancelled), and nothing errs.
func TestDeletedEndpointDropsQueued(t *testing.T) {
	f := newFixture(t, func(c *webhooks.Config) { c.RetryBase = 500 * time.Millisecond })
	rcv := newReceiver(t, always(500))
	ep, _ := f.endpoint(rcv.URL)
	f.emit(events.UserCreated, false)
	f.emit(events.UserUpdated, false)
	rcv.wait(t, 2, 10*time.Second)
	if err := f.svc.Delete(context.Background(), f.tenant, ep.ID, actor); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Delete(context.Background(), f.tenant, ep.ID, actor); !errors.Is(err, webhooks.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
	waitFor(t, 10*time.Second, "jobs cancelled", func() bool {
		return f.count(`SELECT count(*) FROM river_job WHERE args->>'endpoint_id' = $1 AND state <> 'cancelled'`, ep.ID.String()) == 0
	})
	n := len(rcv.requests())
	time.Sleep(700 * time.Millisecond)
	if len(rcv.requests()) != n {
		t.Error("a deleted endpoint still received")
	}
	if c := f.count(`SELECT count(*) FROM webhook_attempts WHERE endpoint_id = $1`, ep.ID); c != 0 {
		t.Errorf("%d log rows left", c)
	}
}

// TestBoundedReceivers: a receiver that never answers costs RequestTimeout
// and is retried; one answering 10 MB is read only so far.
func TestBoundedReceivers(t *testing.T) {
	f := newFixture(t, func(c *webhooks.Config) { c.RequestTimeout = 500 * time.Millisecond })
	huge := strings.Repeat("x", 10<<20)
	rcv := newReceiver(t, func(n int) (int, string, bool) {
		switch n {
		case 1:
			return 0, "", true
		case 2:
			return 500, huge, false
		}
		return 200, huge, false
	})
	ep, _ := f.endpoint(rcv.URL)
	start := time.Now()
	f.emit(events.UserCreated, false)
	rcv.wait(t, 3, 15*time.Second)
	waitFor(t, 5*time.Second, "delivered", func() bool {
		d, _ := f.svc.Deliveries(context.Background(), f.tenant, ep.ID, "delivered", 10)
		return len(d) == 1
	})
	log, _ := f.svc.Attempts(context.Background(), f.tenant, ep.ID, 0, 10)
	if len(log) != 3 || !strings.Contains(log[2].Error, "no answer within") || log[2].StatusCode != nil {
		t.Fatalf("log %+v", log)
	}
	for _, a := range log[:2] {
		if len(a.Excerpt) != webhooks.MaxExcerpt {
			t.Errorf("excerpt of %d bytes", len(a.Excerpt))
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %s", d)
	}
}

// TestDialRefusesPrivateAddress: with private networks not allowed, a URL
// that resolves to a private address when the delivery connects (stored
// before, or DNS rebound since) is refused by the dialer: nothing is sent.
func TestDialRefusesPrivateAddress(t *testing.T) {
	f := newFixture(t, func(c *webhooks.Config) { c.URLs.AllowPrivate = false; c.MaxAttempts = 1 })
	rcv := newReceiver(t, always(200))
	// Saving refuses it…
	if _, _, err := f.svc.Create(context.Background(), f.tenant, webhooks.EndpointInput{URL: &rcv.URL}, actor); err == nil {
		t.Fatal("a loopback URL was saved")
	}
	// …and a row that points there anyway is refused at connection time.
	okURL := "https://93.184.216.34/hook"
	ep, _, err := f.svc.Create(context.Background(), f.tenant, webhooks.EndpointInput{URL: &okURL}, actor)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.pool.Exec(context.Background(), `UPDATE webhook_endpoints SET url = $2 WHERE id = $1`, ep.ID, rcv.URL); err != nil {
		t.Fatal(err)
	}
	f.emit(events.UserCreated, false)
	waitFor(t, 10*time.Second, "the attempt", func() bool {
		a, _ := f.svc.Attempts(context.Background(), f.tenant, ep.ID, 0, 10)
		return len(a) == 1
	})
	a, _ := f.svc.Attempts(context.Background(), f.tenant, ep.ID, 0, 10)
	if !strings.Contains(a[0].Error, "not public") {
		t.Errorf("attempt %+v", a[0])
	}
	if len(rcv.requests()) != 0 {
		t.Error("the private receiver was reached")
	}
}

// TestRotationSignsWithBoth: after a rotation both the old and the new
// secret verify a delivery, and the test event reaches a disabled endpoint.
func TestRotationSignsWithBoth(t *testing.T) {
	f := newFixture(t, nil)
	rcv := newReceiver(t, always(204))
	ep, old := f.endpoint(rcv.URL)
	ep, fresh, err := f.svc.RotateSecret(context.Background(), f.tenant, ep.ID, actor)
	if err != nil || fresh == old || ep.PreviousSecretUntil == nil || time.Until(*ep.PreviousSecretUntil) < 23*time.Hour {
		t.Fatalf("rotate: %+v %v", ep, err)
	}
	off := false
	if _, err := f.svc.Update(context.Background(), f.tenant, ep.ID, webhooks.EndpointInput{Enabled: &off}, actor); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SendTest(context.Background(), f.tenant, ep.ID, func(id uuidT, at time.Time) []byte {
		return []byte(`{"type":"webhook.test"}`)
	}); err != nil {
		t.Fatal(err)
	}
	got := rcv.wait(t, 1, 10*time.Second)
	for _, s := range []string{old, fresh} {
		if err := verify(t, s, got[0]); err != nil {
			t.Errorf("rotation: %v", err)
		}
	}
	if n := len(strings.Fields(got[0].header.Get("webhook-signature"))); n != 2 {
		t.Errorf("%d signatures", n)
	}
	// After the overlap only the new secret signs.
	if _, err := f.pool.Exec(context.Background(), `UPDATE webhook_endpoints SET previous_secret_expires_at = now() WHERE id = $1`, ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SendTest(context.Background(), f.tenant, ep.ID, func(uuidT, time.Time) []byte { return []byte(`{}`) }); err != nil {
		t.Fatal(err)
	}
	got = rcv.wait(t, 2, 10*time.Second)
	if verify(t, old, got[1]) == nil || verify(t, fresh, got[1]) != nil {
		t.Error("after the overlap the old secret still signs")
	}
}
