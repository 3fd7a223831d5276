package console_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/internal/testenv"
)

// withRedisLimiter counts second factors in Redis, as serve does.
func withRedisLimiter(t *testing.T) envOption {
	l := ratelimit.NewLimiter(testenv.Redis(t))
	l.SetTimeout(5 * time.Second) // a busy machine's slow Redis must not split the counts
	return func(c *console.Config) { c.Limiter = l }
}

// clone is a second browser holding this one's cookies, for parallel
// requests of one sign-in (a browser is not safe for concurrent use).
func (b *browser) clone() *browser {
	out := &browser{e: b.e, cookies: make(map[string]string, len(b.cookies)), csrf: b.csrf}
	for k, v := range b.cookies {
		out.cookies[k] = v
	}
	return out
}

// mfaAuditCount counts the platform's audit events of action whose details
// hold step "mfa".
func (e *env) mfaAuditCount(action string) int {
	e.t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), `SELECT count(*) FROM audit_events
		WHERE tenant_id = '00000000-0000-0000-0000-000000000000' AND action = $1 AND details->>'step' = 'mfa'`, action).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestSecondStepGuessingLimited replays issue #16 item 3 on the console:
// an attacker who has the password (and many addresses, so the per-address
// limit of the password step does not stop them) sends 30 wrong codes at
// once to the second step, then signs in again for a fresh step. Each try
// takes one of the user's five tries per five minutes (Redis, shared by
// every node) before the code is checked, so exactly five codes are
// checked, the rest are refused, the next step refuses even the right code,
// and the burst leaves one failure row and one throttle row in the audit
// trail.
func TestSecondStepGuessingLimited(t *testing.T) {
	const guesses = 30
	e := newEnv(t, withRedisLimiter(t), func(c *console.Config) { c.LoginLimit = 1000 })
	u, b := e.signedInUser("mfa-guess")
	secret, _ := b.enrollTOTP()
	b.signOut()
	e.clock.Advance(30 * time.Second)
	csrf := b.startMFA(u.Email)
	code := mfa.TOTPCode(secret, e.clock.Now(), totpSettings)

	outcomes := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < guesses; i++ {
		c := b.clone()
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := c.code(csrf, wrongCode(code))
			what := res.Location()
			switch {
			case res.Code == 401, res.Code == 303 && strings.Contains(what, "mfa=failed"):
				what = "checked"
			case res.Code == 429:
				what = "refused"
			case res.Code == 303 && strings.Contains(what, "mfa=expired"):
				what = "step gone"
			}
			mu.Lock()
			outcomes[what]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if outcomes["checked"] != 5 || outcomes["checked"]+outcomes["refused"]+outcomes["step gone"] != guesses {
		t.Fatalf("%d parallel wrong codes: %v; want exactly 5 checked", guesses, outcomes)
	}
	csrf = b.startMFA(u.Email)
	b.code(csrf, code).status(429).contains("Too many wrong codes")
	if b.signedIn() {
		t.Fatal("the right code signed in past the limit")
	}
	if n := e.mfaAuditCount("console.login.failed"); n != 1 {
		t.Errorf("%d console.login.failed rows for one burst, want 1", n)
	}
	if n := e.mfaAuditCount("console.login.throttled"); n != 1 {
		t.Errorf("%d console.login.throttled rows for one burst, want 1", n)
	}
}

// TestSecondStepPassClearsCount: a right code clears the user's count, so
// a typo or two do not add up across sign-ins.
func TestSecondStepPassClearsCount(t *testing.T) {
	e := newEnv(t, withRedisLimiter(t))
	u, b := e.signedInUser("mfa-clear")
	secret, _ := b.enrollTOTP()
	b.signOut()
	for round := 0; round < 3; round++ {
		e.clock.Advance(30 * time.Second)
		csrf := b.startMFA(u.Email)
		code := mfa.TOTPCode(secret, e.clock.Now(), totpSettings)
		b.code(csrf, wrongCode(code)).status(401)
		b.code(csrf, wrongCode(code)).status(401)
		b.do("POST", "/console/login/mfa", url.Values{"_csrf": {csrf}, "code": {code}}, nil).status(303)
		if !b.signedIn() {
			t.Fatalf("round %d: the right code did not sign in", round)
		}
		b.signOut()
	}
}
