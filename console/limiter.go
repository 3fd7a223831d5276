package console

import (
	"context"
	"strings"
	"time"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/ratelimit"
)

// loginLimiter limits failed console sign-ins — passwords, second factors,
// passkeys and passwords typed again to reauthenticate — to LoginLimit per
// LoginWindow, counted both per client IP and per account (the address
// typed, normalised as sign-in looks it up), so that neither many accounts
// from one address nor one account from many addresses get more guesses.
//
// The counters are internal/ratelimit's sliding windows in Redis, shared by
// every console node and changed atomically: a password attempt reserves
// its place before the password is checked (reserve), so parallel attempts
// cannot overrun the limit, and a right password gives its place back
// (succeeded). While Redis is unreachable the counts fall back to this
// node's memory (ratelimit.Limiter's fallback: still atomic, per node).
type loginLimiter struct {
	rl     *ratelimit.Limiter
	rules  []ratelimit.Rule
	window time.Duration
}

// Names of the console's counters; they live under the platform's id.
const (
	limitFailed = "console_login_failed"
	// limitNotice counts the audit records of refusals, one per window
	// per client IP and account.
	limitNotice = "console_login_throttled"
)

func newLoginLimiter(rl *ratelimit.Limiter, limit int, window time.Duration) *loginLimiter {
	return &loginLimiter{
		rl:     rl,
		rules:  []ratelimit.Rule{{Amount: limit, Period: window, Per: ratelimit.PerIP}, {Amount: limit, Period: window, Per: ratelimit.PerKey}},
		window: window,
	}
}

// attempt is what a sign-in attempt is counted against: its client IP and
// the account's normalised address ("" when no account is named, e.g. a
// passkey sign-in: then only the IP counts).
type attempt struct {
	ip, account string
}

// attemptOf names an attempt from ip on the account typed as email.
func attemptOf(ip, email string) attempt {
	account := strings.ToLower(strings.TrimSpace(email))
	if _, folded, err := NormalizeEmail(email); err == nil {
		account = folded
	}
	return attempt{ip: ip, account: account}
}

func (a attempt) subject() ratelimit.Subject {
	return ratelimit.Subject{IP: a.ip, Key: a.account}
}

// reserve takes one failure's place for a before its credential is
// checked; false (nothing taken) when a's IP or account has no place left.
func (l *loginLimiter) reserve(ctx context.Context, a attempt) (bool, error) {
	return l.rl.Allow(ctx, audit.Platform, limitFailed, l.rules, a.subject())
}

// giveBack returns a reserved place whose credential could not be checked
// (a store failed): an outage is not the user's failure.
func (l *loginLimiter) giveBack(ctx context.Context, a attempt) error {
	return l.rl.Undo(ctx, audit.Platform, limitFailed, l.rules, a.subject())
}

// succeeded returns a's reserved place, the credential being right, and
// forgets the account's failures.
func (l *loginLimiter) succeeded(ctx context.Context, a attempt) error {
	if err := l.rl.Undo(ctx, audit.Platform, limitFailed, l.rules, a.subject()); err != nil {
		return err
	}
	return l.rl.Clear(ctx, audit.Platform, limitFailed, l.rules, ratelimit.Subject{Key: a.account})
}

// blocked reports whether a's IP or account has used up its failures,
// consuming nothing (for steps that count with failed).
func (l *loginLimiter) blocked(ctx context.Context, a attempt) (bool, error) {
	ok, err := l.rl.Check(ctx, audit.Platform, limitFailed, l.rules, a.subject())
	return !ok, err
}

// failed counts a failure of a, even past the limit.
func (l *loginLimiter) failed(ctx context.Context, a attempt) error {
	return l.rl.Hit(ctx, audit.Platform, limitFailed, l.rules, a.subject())
}

// firstRefusal reports whether a refusal of a is the first of the window,
// so that a burst of refused attempts is audited once, not per attempt.
func (l *loginLimiter) firstRefusal(ctx context.Context, a attempt) bool {
	ok, err := l.rl.Allow(ctx, audit.Platform, limitNotice, []ratelimit.Rule{{Amount: 1, Period: l.window, Per: ratelimit.PerKey}},
		ratelimit.Subject{Key: a.ip + "\x00" + a.account})
	return ok || err != nil
}

// retryAfter is the Retry-After of a refusal, in seconds: the window, the
// longest a refused client may have to wait.
func (l *loginLimiter) retryAfter() int {
	return int((l.window + time.Second - 1) / time.Second)
}
