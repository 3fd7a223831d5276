package identity

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// LoginInput is a password login: one identifier and the password.
type LoginInput struct {
	Method   string // "email" or "username"
	Value    string
	Password string
}

// Login authenticates with a password, records the method, and runs the
// login stages.
func (a *Passwords) Login(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, in LoginInput, req Request) error {
	if sess.Authenticated() {
		return ErrConflict
	}
	if err := a.sessionOps.Limit(ctx, t, "login", req, sess, ""); err != nil {
		return err
	}
	// login_failed is consumed before the password is checked, so parallel
	// guesses cannot overrun it, and given back when the password was right
	// (allauth's pre_authenticate / authentication_failed).
	failed := t.Settings.RateLimits["login_failed"]
	subj := subject(req, sess, in.Method+":"+loginKey(in))
	limited := a.Limiter != nil && len(failed) > 0
	if limited {
		ok, err := a.Limiter.Allow(ctx, t.ID, "login_failed", failed, subj)
		if err != nil {
			return err
		}
		if !ok {
			return Errors{NewError("", "too_many_login_attempts")}
		}
	}
	user, err := a.authenticate(ctx, t, in, req)
	if err != nil {
		if rerr := a.recordLoginFailure(ctx, t, in, req, err); rerr != nil {
			return rerr
		}
		var wrong Errors
		if limited && !errors.As(err, &wrong) {
			// Not a wrong password but a failure to check it (a store is
			// down): give the attempt back, or retries through an outage
			// would lock the account out.
			_ = a.Limiter.Undo(ctx, t.ID, "login_failed", failed, subj)
		}
		return err
	}
	if limited {
		if err := a.Limiter.Undo(ctx, t.ID, "login_failed", failed, subj); err != nil {
			return err
		}
		if err := a.Limiter.Clear(ctx, t.ID, "login_failed", failed, ratelimit.Subject{Key: subj.Key}); err != nil {
			return err
		}
	}
	rec := sessions.AuthRecord{Method: "password", At: epoch(a.now())}
	if in.Method == "email" {
		rec.Email = user.MatchedEmail
	} else {
		rec.Username = in.Value
	}
	sess.State.Methods = append(sess.State.Methods, rec)
	sess.Changed()
	if !user.IsActive {
		// allauth's respond_user_inactive: an unauthenticated 401, no stage.
		sess.State.Login = nil
		return nil
	}
	// The address as the account holds it (a login by email matched it):
	// a required code is mailed there, not to the spelling typed.
	email := user.MatchedEmail
	start := func(tx pgx.Tx) error {
		if t.Settings.LoginCodeRequiredAfter("password") {
			// ACCOUNT_LOGIN_BY_CODE_REQUIRED: a code to the address comes
			// first; it also proves the address, so no verify_email follows.
			to := email
			if to == "" {
				to = user.PrimaryEmail
			}
			if to != "" {
				return a.loginCodes.startLoginCode(ctx, tx, t, sess, user, to, req)
			}
		}
		return a.pipeline.startLogin(ctx, tx, t, sess, user, nil, email, false, req)
	}
	if t.Settings.EmailVerification == tenants.EmailVerificationNone && !t.Settings.LoginCodeRequiredAfter("password") {
		// Nothing to verify and no code to send: no transaction to open
		// (startLogin touches no row then).
		err = start(nil)
	} else {
		err = pgx.BeginFunc(ctx, a.Store.pool, start)
	}
	if err != nil {
		return err
	}
	return a.pipeline.continueLogin(ctx, t, sess, user, req, StageVerifyEmail)
}

// loginKey is the login identifier as the login_failed limit counts it:
// its EmailKey or UsernameKey, so that spellings of one account (case, an
// A-label for a U-label) share one count.
func loginKey(in LoginInput) string {
	if in.Method == "email" {
		return emailKey(in.Value)
	}
	return usernameKey(in.Value)
}

// MaxConsecutiveFailures is the lock threshold (NIST SP 800-63B allows at
// most 100 consecutive failed attempts). Once a user's consecutive wrong
// passwords reach it, the password is locked — but only for clients the
// user is not known to use, so that anyone who merely knows the account's
// address cannot keep its owner out:
//
//   - Locked: failed_logins >= MaxConsecutiveFailures. The count rises with
//     every wrong password (from anywhere) and returns to 0 on a successful
//     password login or a password reset. Other sign-ins (login by code,
//     passkeys, social login) neither count nor clear it.
//   - While locked, a password login is checked as usual only from an
//     address the user completed a sign-in from (any method, including the
//     signup) within the last 90 days: that IPv4 address, or that IPv6
//     address's /64 network, among the user's ten most recent
//     (user_login_addresses). From any other address the password is not
//     accepted, right or wrong: the answer is the wrong password's
//     (email_password_mismatch or username_password_mismatch, after the
//     same hashing work), so the lock tells an attacker neither that the
//     account exists nor that a guess was right (a distinct answer such as
//     too_many_login_attempts for the right password would be an oracle).
//   - Login by code, passkeys, social login and password reset are not
//     locked; they prove something besides the password.
//   - When the count reaches the threshold (exactly once per run of
//     failures: one statement raises it), the owner gets the account_locked
//     mail at their stored primary address, whatever
//     ACCOUNT_EMAIL_NOTIFICATIONS says, and the event user.login.locked is
//     audited.
//
// The rate limits (login_failed) apply as well, locked or not.
const MaxConsecutiveFailures = 100

// EventLoginLocked is the audit action of a password lock engaging.
const EventLoginLocked = "user.login.locked"

// MailAccountLocked tells the owner that password sign-in from new
// addresses is paused on their account.
const MailAccountLocked = "account_locked"

// dummyHash is verified when no user matches, so a login for an unknown
// account costs as long as one for a known account.
var dummyHash, _ = passwords.DefaultHasher().Hash("hallpass-timing-equaliser")

func (a *Passwords) authenticate(ctx context.Context, t *tenants.Tenant, in LoginInput, req Request) (*User, error) {
	mismatch := Errors{NewError("password", in.Method+"_password_mismatch")}
	var candidates []*User
	switch in.Method {
	case "email":
		users, err := a.Store.UsersByEmail(ctx, t.ID, in.Value)
		if err != nil {
			return nil, err
		}
		candidates = users
	case "username":
		u, err := a.Store.UserByUsername(ctx, t.ID, in.Value)
		if err != nil && !errors.Is(err, ErrUserNotFound) {
			return nil, err
		}
		if u != nil {
			candidates = []*User{u}
		}
	default:
		return nil, Errors{NewError("", "invalid_login")}
	}
	if len(candidates) == 0 {
		_, _, _ = a.Hasher.Verify(dummyHash, in.Password)
		return nil, mismatch
	}
	for _, u := range candidates {
		if u.FailedLogins >= MaxConsecutiveFailures {
			known, err := a.Store.knownLoginAddress(ctx, t.ID, u.ID, req.IP)
			if err != nil {
				return nil, err
			}
			if !known {
				// Locked for this address: the same work and answer as a
				// wrong password, whatever was typed.
				_, _, _ = a.Hasher.Verify(u.PasswordHash, in.Password)
				if err := a.passwordFailed(ctx, t, u, req); err != nil {
					return nil, err
				}
				continue
			}
		}
		ok, rehash, err := a.Hasher.Verify(u.PasswordHash, in.Password)
		if err != nil || !ok {
			if err := a.passwordFailed(ctx, t, u, req); err != nil {
				return nil, err
			}
			continue
		}
		if u.FailedLogins > 0 {
			if err := a.Store.resetFailures(ctx, t.ID, u.ID); err != nil {
				return nil, err
			}
		}
		if rehash {
			if h, err := a.Hasher.Hash(in.Password); err == nil {
				if err := a.Store.SetPasswordHash(ctx, t.ID, u.ID, h); err == nil {
					u.PasswordHash = h
				}
			}
		}
		return u, nil
	}
	return nil, mismatch
}

// passwordFailed counts a refused password for u; the failure that reaches
// MaxConsecutiveFailures also audits the lock and mails the owner, in the
// same transaction.
func (a *Passwords) passwordFailed(ctx context.Context, t *tenants.Tenant, u *User, req Request) error {
	return pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		n, err := a.Store.countFailure(ctx, tx, t.ID, u.ID)
		if err != nil || n != MaxConsecutiveFailures {
			return err
		}
		if err := a.record(ctx, tx, userEvent(t.ID, u.ID, req.IP, EventLoginLocked, userLabel(u),
			map[string]any{"failures": n, "client": req.Client})); err != nil {
			return err
		}
		if u.PrimaryEmail == "" {
			return nil
		}
		return a.Mail.Queue(ctx, tx, t, MailAccountLocked, u.PrimaryEmail, MailData{Email: u.PrimaryEmail})
	})
}

// startLogin runs the stage pipeline's first stage that applies. For
// issue-3 flows that is verify_email: with mandatory verification a user
// without a verified address (the one logged in with, if any) gets a
// verification mail and a pending stage.
func (a *Pipeline) startLogin(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, sess *sessions.Session, user *User, signupAddr *EmailAddress, loginEmail string, signup bool, req Request) error {
	return a.startLoginVerifying(ctx, tx, t, sess, user, signupAddr, loginEmail, signup, req, t.Settings.EmailVerification)
}

// startLoginVerifying is startLogin under an email verification mode
// (provider logins use SOCIALACCOUNT_EMAIL_VERIFICATION).
func (a *Pipeline) startLoginVerifying(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, sess *sessions.Session, user *User, signupAddr *EmailAddress, loginEmail string, signup bool, req Request, verification string) error {
	sess.State.Login = &sessions.PendingLogin{UserID: user.ID, Email: loginEmail, Signup: signup, StartedAt: a.now()}
	sess.Changed()
	if verification == tenants.EmailVerificationNone {
		return nil
	}
	verified, target, err := a.addresses.verificationTarget(ctx, tx, t, user, signupAddr, loginEmail)
	if err != nil {
		return err
	}
	if verified || target == nil {
		return nil
	}
	mandatory := verification == tenants.EmailVerificationMandatory
	if !mandatory && !signup {
		return nil // optional verification: mail only on signup
	}
	// Within the confirm_email cooldown the earlier mail stands; the stage
	// is still pending.
	if err := a.addresses.sendVerification(ctx, tx, t, sess, target, req); err != nil && !errors.Is(err, ErrRateLimited) {
		return err
	}
	if mandatory {
		sess.State.Login.Stage = StageVerifyEmail
	}
	sess.Changed()
	return nil
}

func (a *Pipeline) completeLogin(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, user *User) error {
	event := a.loginEvent(t, sess, user)
	if err := a.Sessions.Login(ctx, sess, user.ID, time.Duration(t.Settings.SessionCookieAge)*time.Second); err != nil {
		return err
	}
	a.sessionCreated(t, sess)
	if len(sess.State.Methods) > 0 && t.Settings.EmailNotifications && user.PrimaryEmail != "" {
		// A sign-in (not a signup) is worth a security notice.
		if err := pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
			return a.pw.notify(ctx, tx, t, user, MailNewLogin)
		}); err != nil {
			return err
		}
	}
	// The login's audit record and last_login in one round trip.
	b := &pgx.Batch{}
	if err := audit.Queue(b, event); err != nil {
		return err
	}
	b.Queue(sqlTouchLastLogin, t.ID, user.ID)
	if addr := ratelimit.IPNetwork(sess.IP); addr != "" {
		// Where the user signs in from spares them a password lock
		// (MaxConsecutiveFailures).
		b.Queue(sqlRememberLoginAddress, t.ID, user.ID, addr)
		b.Queue(sqlForgetLoginAddresses, t.ID, user.ID)
	}
	if err := a.Store.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("identity: record login: %w", err)
	}
	return nil
}

// PendingStage returns the session's pending login if it is still within
// ACCOUNT_LOGIN_TIMEOUT.
func (a *Pipeline) PendingStage(t *tenants.Tenant, sess *sessions.Session) *sessions.PendingLogin {
	p := sess.State.Login
	if p == nil || p.Stage == "" || a.now().Sub(p.StartedAt) > time.Duration(t.Settings.LoginTimeout)*time.Second {
		return nil
	}
	return p
}

// Logout ends the session of tenant t, recorded as session.ended (reason
// logout) when its user is still there and active.
func (a *Pipeline) Logout(ctx context.Context, t *tenants.Tenant, sess *sessions.Session) error {
	userID := sess.State.UserID
	if hook := a.sessionEnded(t, endedLogout); hook != nil {
		sess.OnEnd(hook)
	}
	if err := a.Sessions.Logout(ctx, sess); err != nil {
		return err
	}
	return a.recordLogout(ctx, sess, userID)
}
