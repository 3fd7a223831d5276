package identity

import (
	"context"
	"strconv"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// RateLimiter counts hits per tenant, action and subject (Redis, with a
// per-node fallback).
type RateLimiter interface {
	Allow(ctx context.Context, tenantID uuid.UUID, action string, rules []ratelimit.Rule, s ratelimit.Subject) (bool, error)
	Check(ctx context.Context, tenantID uuid.UUID, action string, rules []ratelimit.Rule, s ratelimit.Subject) (bool, error)
	Hit(ctx context.Context, tenantID uuid.UUID, action string, rules []ratelimit.Rule, s ratelimit.Subject) error
	Clear(ctx context.Context, tenantID uuid.UUID, action string, rules []ratelimit.Rule, s ratelimit.Subject) error
	Undo(ctx context.Context, tenantID uuid.UUID, action string, rules []ratelimit.Rule, s ratelimit.Subject) error
}

// subject is who a rate-limited request counts against.
func subject(req Request, sess *sessions.Session, key string) ratelimit.Subject {
	s := ratelimit.Subject{IP: req.IP, Key: key}
	if sess != nil && sess.Authenticated() {
		s.User = strconv.FormatInt(sess.State.UserID, 10)
	}
	return s
}

// Limit consumes one hit of an ACCOUNT_RATE_LIMITS action; ErrRateLimited
// when exhausted. Without a limiter or rules, everything is allowed.
func (a *SessionOps) Limit(ctx context.Context, t *tenants.Tenant, action string, req Request, sess *sessions.Session, key string) error {
	rules := t.Settings.RateLimits[action]
	if a.Limiter == nil || len(rules) == 0 {
		return nil
	}
	ok, err := a.Limiter.Allow(ctx, t.ID, action, rules, subject(req, sess, key))
	if err != nil {
		return err
	}
	if !ok {
		return ErrRateLimited
	}
	return nil
}
