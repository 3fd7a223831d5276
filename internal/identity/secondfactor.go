package identity

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/tenants"
)

// Kinds of second factor a user tries.
const (
	// FactorCode is a TOTP or recovery code (its errors are on "code").
	FactorCode = "code"
	// FactorWebAuthn is a WebAuthn assertion (its errors are on
	// "credential").
	FactorWebAuthn = "webauthn"
)

// defaultAuditWindow is how long the audit trail stays quiet about a
// user's further wrong second factors after recording one, when the
// tenant's login_failed rules give no period (rate limits off).
const defaultAuditWindow = 5 * time.Minute

// Internal limiter actions that make an audit event once per window.
const (
	auditMFAFailedAction  = "audit_mfa_failed"
	auditMFALimitedAction = "audit_mfa_limited"
)

// SecondFactorTry is one try of a user's second factor (a TOTP or recovery
// code, or a WebAuthn assertion) at sign-in or reauthentication, counted as
// allauth's check_rate_limit counts it (allauth/mfa/base/internal/flows.py):
// it consumes the tenant's login_failed rules for the key
// "mfa-auth-user-<id>" before the factor is checked, so parallel guesses
// cannot overrun them, and a factor that passes clears the user's count.
// With allauth's defaults ("10/m/ip,5/300s/key") that is five wrong
// factors per user per five minutes, whatever the number of sign-ins,
// sessions, nodes or addresses they come from.
//
// The audit trail records a burst of wrong factors once, not per guess:
// the first wrong factor of a window, and the first refusal by the limit.
type SecondFactorTry struct {
	a       *Pipeline
	t       *tenants.Tenant
	userID  int64
	req     Request
	kind    string
	purpose string
	rules   []ratelimit.Rule
	subject ratelimit.Subject
}

// TrySecondFactor starts a try of userID's second factor of kind
// (FactorCode, FactorWebAuthn), at sign-in or at reauthentication. When the
// limit is reached it answers allauth's too_many_login_attempts (400, on
// the factor's field) and the factor must not be checked. Otherwise the
// caller checks the factor and ends the try with Passed, Failed or Abort
// (which do nothing on a nil try: a factor that names no user).
func (a *Pipeline) TrySecondFactor(ctx context.Context, t *tenants.Tenant, userID int64, req Request, kind string, reauthentication bool) (*SecondFactorTry, error) {
	purpose := "login"
	if reauthentication {
		purpose = "reauthentication"
	}
	try := &SecondFactorTry{a: a, t: t, userID: userID, req: req, kind: kind, purpose: purpose,
		subject: ratelimit.Subject{IP: req.IP, Key: "mfa-auth-user-" + strconv.FormatInt(userID, 10)}}
	if a.Limiter != nil {
		try.rules = t.Settings.RateLimits[ratelimit.ActionLoginFailed]
	}
	if len(try.rules) == 0 {
		return try, nil
	}
	ok, err := a.Limiter.Allow(ctx, t.ID, ratelimit.ActionLoginFailed, try.rules, try.subject)
	if err != nil {
		return nil, err
	}
	if !ok {
		if err := try.audit(ctx, auditMFALimitedAction, "too_many_login_attempts"); err != nil {
			return nil, err
		}
		return nil, Errors{NewError(try.param(), "too_many_login_attempts")}
	}
	return try, nil
}

// param is the input field the factor's errors belong to.
func (s *SecondFactorTry) param() string {
	if s.kind == FactorWebAuthn {
		return "credential"
	}
	return "code"
}

// Passed ends a try whose factor passed: the try is given back and the
// user's count cleared (allauth's clear_rl), so the next sign-in starts
// afresh.
func (s *SecondFactorTry) Passed(ctx context.Context) error {
	if s == nil || len(s.rules) == 0 {
		return nil
	}
	if err := s.a.Limiter.Undo(ctx, s.t.ID, ratelimit.ActionLoginFailed, s.rules, s.subject); err != nil {
		return err
	}
	return s.a.Limiter.Clear(ctx, s.t.ID, ratelimit.ActionLoginFailed, s.rules, ratelimit.Subject{Key: s.subject.Key})
}

// Failed ends a try whose factor was wrong: the try stays counted, and the
// audit trail gets a user.mfa.failed event if it is the user's first wrong
// factor in the window (see auditWindow).
func (s *SecondFactorTry) Failed(ctx context.Context) error {
	if s == nil {
		return nil
	}
	return s.audit(ctx, auditMFAFailedAction, "incorrect_code")
}

// Abort ends a try whose factor could not be checked (a store failed): the
// try is given back, as it says nothing about the factor.
func (s *SecondFactorTry) Abort(ctx context.Context) {
	if s != nil && len(s.rules) > 0 {
		_ = s.a.Limiter.Undo(ctx, s.t.ID, ratelimit.ActionLoginFailed, s.rules, s.subject)
	}
}

// auditWindow is the longest period of the tenant's login_failed rules
// (five minutes without rules): one event of each reason per user per
// window.
func (s *SecondFactorTry) auditWindow() time.Duration {
	w := time.Duration(0)
	for _, r := range s.t.Settings.RateLimits[ratelimit.ActionLoginFailed] {
		w = max(w, r.Period)
	}
	if w == 0 {
		w = defaultAuditWindow
	}
	return w
}

// audit records user.mfa.failed with reason, unless one with that reason
// was recorded for the user within the window. The gate is a limiter
// counter of one per window, so it holds across requests and nodes.
func (s *SecondFactorTry) audit(ctx context.Context, gate, reason string) error {
	window := s.auditWindow()
	if s.a.Limiter != nil {
		first, err := s.a.Limiter.Allow(ctx, s.t.ID, gate, []ratelimit.Rule{{Amount: 1, Period: window, Per: ratelimit.PerKey}},
			ratelimit.Subject{Key: s.subject.Key})
		if err != nil && !errors.Is(err, context.Canceled) {
			first = true // better one event too many than none
		}
		if !first {
			return nil
		}
	}
	if err := audit.Record(ctx, s.a.Store.pool, userEvent(s.t.ID, s.userID, s.req.IP, EventMFAFailed, "",
		map[string]any{"kind": s.kind, "purpose": s.purpose, "client": s.req.Client, "reason": reason,
			"window_seconds": int64(window / time.Second)})); err != nil {
		return err
	}
	if s.purpose != "login" {
		return nil
	}
	return s.a.loginFailed(ctx, s.t, s.userID, "mfa", reason)
}
