package identity

import (
	"context"
	"errors"
	"strconv"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// Security events of tenant users, as audit actions. Each is recorded in
// the transaction of the change when there is one; none carries a secret
// (no password, token, key or code), only ids, addresses and methods.
const (
	EventLogin          = "user.login"
	EventLoginFailed    = "user.login.failed"
	EventLogout         = "user.logout"
	EventPasswordChange = "user.password.change"
	EventPasswordSet    = "user.password.set"
	EventPasswordReset  = "user.password.reset"
	EventEmailAdd       = "user.email.add"
	EventEmailRemove    = "user.email.remove"
	EventEmailVerify    = "user.email.verify"
	EventEmailPrimary   = "user.email.primary"
	// EventMFAFailed is a burst of wrong second factors (codes or WebAuthn
	// assertions) at sign-in or reauthentication: recorded for the first
	// wrong one in a window (reason incorrect_code) and for the first try
	// the limit refuses (reason too_many_login_attempts), not per guess
	// (SecondFactorTry).
	EventMFAFailed = "user.mfa.failed"
	// EventSocialConnect and EventSocialDisconnect are a provider account
	// connected to, or removed from, the user's account.
	EventSocialConnect    = "user.social.connect"
	EventSocialDisconnect = "user.social.disconnect"
)

// recordLoginCodeFailure audits a wrong emailed login code: for the user the
// code was sent to, or anonymously for the process an unknown address got
// (recorded either way, so both cost the same).
func (a *LoginCodes) recordLoginCodeFailure(ctx context.Context, t *tenants.Tenant, p *sessions.CodeProcess, req Request) error {
	details := map[string]any{"method": "code", "reason": "incorrect_code", "client": req.Client}
	e := audit.Event{TenantID: t.ID, Actor: "anonymous", Action: EventLoginFailed, IP: req.IP, Details: details}
	if p.UserID != 0 {
		e = userEvent(t.ID, p.UserID, req.IP, EventLoginFailed, p.Email, details)
	}
	if err := audit.Record(ctx, a.Store.pool, e); err != nil {
		return err
	}
	if p.UserID == 0 {
		return nil
	}
	return a.loginFailed(ctx, t, p.UserID, "code", "incorrect_code")
}

// userEvent is the audit event of a tenant user acting on their own
// account, from ip; target is what was acted on ("" = the user).
func userEvent(tenantID uuid.UUID, userID int64, ip, action, target string, details map[string]any) audit.Event {
	d := map[string]any{"user_id": userID}
	for k, v := range details {
		d[k] = v
	}
	id := strconv.FormatInt(userID, 10)
	if target == "" {
		target = "user " + id
	}
	return audit.Event{TenantID: tenantID, Actor: "user:" + id, Action: action, Target: target, IP: ip, Details: d}
}

// userLabel names a user in the trail as the console does: the primary
// address, else the username, else the id.
func userLabel(u *User) string {
	switch {
	case u.PrimaryEmail != "":
		return u.PrimaryEmail
	case u.Username != "":
		return u.Username
	}
	return "user " + strconv.FormatInt(u.ID, 10)
}

// loginEvent is the event of a login about to complete on sess: the method
// of the newest authentication record ("signup" or "email_verification"
// when there is none), and whether the login ends a signup. Call it before
// the session is cycled, which clears the pending login.
func (a *Pipeline) loginEvent(t *tenants.Tenant, sess *sessions.Session, user *User) audit.Event {
	signup := sess.State.Login != nil && sess.State.Login.Signup
	method := "email_verification"
	if signup {
		method = "signup"
	}
	if n := len(sess.State.Methods); n > 0 {
		method = sess.State.Methods[n-1].Method
	}
	return userEvent(t.ID, user.ID, sess.IP, EventLogin, userLabel(user),
		map[string]any{"method": method, "signup": signup, "client": sess.Client})
}

// recordLoginFailure records a refused password login: one event per
// account the identifier matched (the password was wrong, or the account
// is locked), or one anonymous event naming no identifier when it matched
// none (what was typed there may be a password). Failures to check the
// password (a store down) are not the user's and are not recorded.
func (a *Passwords) recordLoginFailure(ctx context.Context, t *tenants.Tenant, in LoginInput, req Request, cause error) error {
	var errs Errors
	if !errors.As(cause, &errs) || len(errs) == 0 {
		return nil
	}
	details := map[string]any{"method": in.Method, "reason": errs[0].Code, "client": req.Client}
	var users []*User
	switch in.Method {
	case "email":
		var err error
		if users, err = a.Store.UsersByEmail(ctx, t.ID, in.Value); err != nil {
			return err
		}
	case "username":
		u, err := a.Store.UserByUsername(ctx, t.ID, in.Value)
		if err != nil && !errors.Is(err, ErrUserNotFound) {
			return err
		}
		if u != nil {
			users = append(users, u)
		}
	}
	if len(users) == 0 {
		details["reason"] = "unknown_account"
		return audit.Record(ctx, a.Store.pool, audit.Event{TenantID: t.ID, Actor: "anonymous", Action: EventLoginFailed,
			IP: req.IP, Details: details})
	}
	for _, u := range users {
		if err := audit.Record(ctx, a.Store.pool, userEvent(t.ID, u.ID, req.IP, EventLoginFailed, userLabel(u), details)); err != nil {
			return err
		}
		if err := a.loginFailed(ctx, t, u.ID, in.Method, errs[0].Code); err != nil {
			return err
		}
	}
	return nil
}

// recordLogout records the end of userID's session sess (0: nobody was
// logged in, nothing to record).
func (a *Pipeline) recordLogout(ctx context.Context, sess *sessions.Session, userID int64) error {
	if userID == 0 {
		return nil
	}
	return audit.Record(ctx, a.Store.pool, userEvent(sess.TenantID, userID, sess.IP, EventLogout, "", map[string]any{"client": sess.Client}))
}

// record writes e with x (a transaction, or the pool when nil).
func (a *Deps) record(ctx context.Context, x audit.Execer, e audit.Event) error {
	if x == nil {
		x = a.Store.pool
	}
	return audit.Record(ctx, x, e)
}
