package identity

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// Verification is what a verification key or code refers to.
type Verification struct {
	Address *EmailAddress
	User    *User
	// Authenticating is true when verifying completes a pending login stage.
	Authenticating bool
}

// verifyContext checks that email verification applies to this session,
// as allauth's VerifyEmailView does before reading input: in code mode the
// process is session-bound, so without it the answer is 409.
func (a *Addresses) verifyContext(t *tenants.Tenant, sess *sessions.Session) (*sessions.PendingLogin, *sessions.CodeProcess, error) {
	stage := a.pipeline.PendingStage(t, sess)
	if stage != nil && stage.Stage != StageVerifyEmail {
		stage = nil
	}
	if !t.Settings.EmailVerificationByCodeEnabled {
		return stage, nil, nil
	}
	if stage == nil && !sess.Authenticated() {
		return nil, nil, ErrConflict
	}
	p := sess.State.EmailCode
	if p == nil || a.now().After(p.Expires) {
		return nil, nil, ErrConflict
	}
	return stage, p, nil
}

// check validates a key (link mode) or code (code mode). A wrong code
// counts as an attempt; after the last one the process is dropped.
func (a *Addresses) check(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, key string, p *sessions.CodeProcess) (*EmailAddress, error) {
	if key == "" {
		return nil, Errors{NewError("key", "required")}
	}
	var addr *EmailAddress
	if p != nil {
		// An attempt is taken before the comparison (takeAttempt) and given
		// back when the code is right.
		n, err := a.takeAttempt(ctx, t.ID, p)
		if err != nil {
			return nil, err
		}
		limit := t.Settings.EmailVerificationByCodeMaxAttempts
		spent := func() {
			sess.State.EmailCode = nil
			// allauth also aborts the pending stage with the process.
			if sess.State.Login != nil && sess.State.Login.Stage == StageVerifyEmail {
				sess.State.Login = nil
			}
			sess.Changed()
		}
		if n > limit {
			// Parallel attempts took the last ones: the process is gone.
			spent()
			return nil, ErrConflict
		}
		if !a.Keys.CodeMatches(t.ID, key, p.CodeHash) || p.EmailID == 0 {
			p.Attempts = n
			sess.Changed()
			if n >= limit {
				spent()
			}
			return nil, Errors{NewError("key", "incorrect_code")}
		}
		if err := a.returnAttempt(ctx, t.ID, p); err != nil {
			return nil, err
		}
		if addr, err = a.Store.EmailAddress(ctx, t.ID, p.EmailID); err != nil {
			if errors.Is(err, ErrUserNotFound) {
				return nil, Errors{NewError("key", "incorrect_code")}
			}
			return nil, err
		}
	} else {
		ttl := time.Duration(t.Settings.EmailConfirmationExpireDays) * 24 * time.Hour
		var ok bool
		var lookupErr error
		addr, ok = a.Keys.ParseEmailVerificationKey(t.ID, key, ttl, a.now(), func(id int64) (*EmailAddress, error) {
			e, err := a.Store.EmailAddress(ctx, t.ID, id)
			if err != nil && !errors.Is(err, ErrUserNotFound) {
				lookupErr = err
			}
			return e, err
		})
		if lookupErr != nil {
			return nil, lookupErr
		}
		if !ok {
			return nil, Errors{NewError("key", "invalid_or_expired_key")}
		}
	}
	if t.Settings.UniqueEmail && !addr.Verified {
		// allauth's can_set_verified: another user verified it meanwhile.
		users, err := a.Store.UsersByEmail(ctx, t.ID, addr.Email)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			if u.ID != addr.UserID {
				addrs, err := a.Store.EmailAddresses(ctx, t.ID, u.ID)
				if err != nil {
					return nil, err
				}
				for _, x := range addrs {
					if x.Verified && sameEmail(x.Email, addr.Email) {
						return nil, Errors{NewError("key", "email_taken")}
					}
				}
			}
		}
	}
	return addr, nil
}

// InspectVerification answers GET auth/email/verify.
func (a *Addresses) InspectVerification(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, key string) (*Verification, error) {
	stage, p, err := a.verifyContext(t, sess)
	if err != nil {
		return nil, err
	}
	addr, err := a.check(ctx, t, sess, key, p)
	if err != nil {
		return nil, err
	}
	user, err := a.Store.User(ctx, t.ID, addr.UserID)
	if err != nil {
		return nil, err
	}
	return &Verification{Address: addr, User: user, Authenticating: stage != nil}, nil
}

// ConfirmVerification answers POST auth/email/verify: the address becomes
// verified; a pending verify_email stage of the same user then completes the
// login when ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION is set or in code mode, and
// is abandoned otherwise.
func (a *Addresses) ConfirmVerification(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, key string, req Request) error {
	stage, p, err := a.verifyContext(t, sess)
	if err != nil {
		return err
	}
	addr, err := a.check(ctx, t, sess, key, p)
	if err != nil {
		return err
	}
	if p != nil {
		if first, err := a.consumeOnce(ctx, t.ID, p.CodeHash, time.Until(p.Expires)+time.Minute); err != nil {
			return err
		} else if !first {
			return ErrConflict
		}
	}
	var ok bool
	err = pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		var err error
		if ok, err = markVerified(ctx, tx, t.ID, addr, t.Settings.UniqueEmail); err != nil || !ok {
			return err
		}
		if err := a.record(ctx, tx, userEvent(t.ID, addr.UserID, req.IP, EventEmailVerify, addr.Email, map[string]any{"by_code": p != nil})); err != nil {
			return err
		}
		verified := *addr
		verified.Verified = true
		if err := a.emit(ctx, tx, t, addr.UserID, events.EmailVerified, map[string]any{"email": emailData(&verified)}); err != nil {
			return err
		}
		if t.Settings.ChangeEmail && !addr.Primary {
			// ACCOUNT_CHANGE_EMAIL: the verified address replaces the old one.
			rows, err := tx.Query(ctx, `DELETE FROM email_addresses WHERE tenant_id = $1 AND user_id = $2 AND id <> $3
				RETURNING email, verified, is_primary`, t.ID, addr.UserID, addr.ID)
			if err != nil {
				return err
			}
			gone, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EmailAddress, error) {
				var e EmailAddress
				err := r.Scan(&e.Email, &e.Verified, &e.Primary)
				return e, err
			})
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE email_addresses SET is_primary = true WHERE tenant_id = $1 AND id = $2`, t.ID, addr.ID); err != nil {
				return err
			}
			user := &User{ID: addr.UserID, PrimaryEmail: addr.Email}
			if err := a.record(ctx, tx, userEvent(t.ID, addr.UserID, req.IP, EventEmailPrimary, addr.Email, map[string]any{"change_email": true})); err != nil {
				return err
			}
			previous := ""
			for _, g := range gone {
				if g.Primary {
					previous = g.Email
				}
			}
			verified.Primary = true
			if err := a.emit(ctx, tx, t, addr.UserID, events.EmailPrimaryChanged, map[string]any{"email": emailData(&verified), "previous": previous}); err != nil {
				return err
			}
			for i := range gone {
				if err := a.emit(ctx, tx, t, addr.UserID, events.EmailRemoved, map[string]any{"email": emailData(&gone[i])}); err != nil {
					return err
				}
			}
			return a.pw.notify(ctx, tx, t, user, MailEmailChanged)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !ok {
		return Errors{NewError("key", "email_taken")}
	}
	a.Store.userChanged(ctx, t.ID, addr.UserID)
	if p != nil {
		sess.State.EmailCode = nil
		sess.Changed()
	}
	if stage == nil {
		return nil
	}
	if stage.UserID != addr.UserID || !(t.Settings.LoginOnEmailConfirmation || t.Settings.EmailVerificationByCodeEnabled) {
		sess.State.Login = nil
		sess.Changed()
		return nil
	}
	user, err := a.Store.User(ctx, t.ID, addr.UserID)
	if err != nil {
		return err
	}
	stage.Stage = "" // verify_email passed
	return a.pipeline.continueLogin(ctx, t, sess, user, req, StageVerifyEmail)
}

// ResendVerificationCode answers POST auth/email/verify/resend: a new code
// for the session's verification process, within the resend allowance.
func (a *Addresses) ResendVerificationCode(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, req Request) error {
	if !t.Settings.EmailVerificationByCodeEnabled {
		return ErrConflict
	}
	_, p, err := a.verifyContext(t, sess)
	if err != nil {
		return err
	}
	if p.Resends >= t.Settings.EmailVerificationMaxResendCount {
		return ErrConflict
	}
	// The allowance is counted atomically (processCount): parallel resends
	// send no more mail than it allows.
	resends, err := a.processCount(ctx, t.ID, p, countResends)
	if err != nil {
		return err
	}
	if resends > t.Settings.EmailVerificationMaxResendCount {
		return ErrConflict
	}
	if p.EmailID == 0 {
		// The enumeration-prevention decoy resends nothing, but looks alike.
		p.Resends = resends
		sess.Changed()
		return nil
	}
	addr, err := a.Store.EmailAddress(ctx, t.ID, p.EmailID)
	if errors.Is(err, ErrUserNotFound) || (err == nil && addr.UserID != p.UserID) {
		// The address went (deleted since the code was sent): the process
		// has nothing left to verify.
		sess.State.EmailCode = nil
		sess.Changed()
		return ErrConflict
	}
	if err != nil {
		return err
	}
	err = pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		if err := a.sendVerification(ctx, tx, t, sess, addr, req); err != nil {
			return err
		}
		sess.State.EmailCode.Resends = resends
		return nil
	})
	if errors.Is(err, ErrRateLimited) {
		// Nothing was sent: the resend is not spent.
		if gerr := a.giveBack(ctx, t.ID, p, countResends); gerr != nil {
			return gerr
		}
	}
	if err != nil {
		return err
	}
	// A new code, the same process (allauth's resend keeps its state): its
	// attempts do not grow back.
	return a.keepCounts(ctx, t.ID, p, sess.State.EmailCode)
}

// verificationTarget tells whether the user has a verified address (the
// login address, when logging in by email) and which address to verify.
func (a *Addresses) verificationTarget(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, user *User, signupAddr *EmailAddress, loginEmail string) (bool, *EmailAddress, error) {
	if signupAddr != nil {
		return signupAddr.Verified, signupAddr, nil
	}
	rows, err := tx.Query(ctx, `SELECT id, user_id, email, verified, is_primary FROM email_addresses
		WHERE tenant_id = $1 AND user_id = $2 ORDER BY is_primary DESC, created_at, id`, t.ID, user.ID)
	if err != nil {
		return false, nil, err
	}
	addrs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (EmailAddress, error) {
		var e EmailAddress
		err := r.Scan(&e.ID, &e.UserID, &e.Email, &e.Verified, &e.Primary)
		return e, err
	})
	if err != nil {
		return false, nil, err
	}
	var target *EmailAddress
	for i := range addrs {
		e := &addrs[i]
		if loginEmail != "" && !sameEmail(e.Email, loginEmail) {
			continue
		}
		if e.Verified {
			return true, nil, nil
		}
		if target == nil {
			target = e
		}
	}
	return false, target, nil
}

// sendVerification queues the verification mail for an address: a code
// bound to the session in code mode, else a signed link. A resend within the
// confirm_email cooldown is skipped (allauth's rate limit).
func (a *Addresses) sendVerification(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, sess *sessions.Session, e *EmailAddress, req Request) error {
	s := t.Settings
	if !a.allowConfirmEmail(ctx, t, e.Email) {
		return ErrRateLimited
	}
	if s.EmailVerificationByCodeEnabled {
		code := NewUserCode(s.EmailVerificationByCodeFormat)
		prev := sess.State.EmailCode
		resends := 0
		if prev != nil && prev.EmailID == e.ID {
			resends = prev.Resends
		}
		sess.State.EmailCode = &sessions.CodeProcess{ID: newProcessID(), UserID: e.UserID, EmailID: e.ID, Email: e.Email, CodeHash: a.Keys.CodeHash(t.ID, code),
			Resends: resends, Expires: a.now().Add(time.Duration(s.EmailVerificationByCodeTimeout) * time.Second)}
		sess.Changed()
		return a.Mail.Queue(ctx, tx, t, MailEmailConfirmationCode, e.Email, MailData{Email: e.Email, Code: code})
	}
	key := a.Keys.EmailVerificationKey(t.ID, e, a.now())
	link := a.frontendURL(t, "account_confirm_email", key, req)
	if link == "" {
		// allauth falls back to its own confirmation view at this path.
		link = strings.TrimSuffix(req.BaseURL, "/") + "/accounts/confirm-email/" + url.PathEscape(key) + "/"
	}
	return a.Mail.Queue(ctx, tx, t, MailEmailConfirmation, e.Email, MailData{Email: e.Email, Link: link})
}

// allowConfirmEmail applies the confirm_email rate limit (one mail per
// address per cooldown). If the limiter fails the mail is sent: a lost
// limit is better than a lost verification.
func (a *Addresses) allowConfirmEmail(ctx context.Context, t *tenants.Tenant, email string) bool {
	rules := t.Settings.RateLimits["confirm_email"]
	if a.Limiter == nil || len(rules) == 0 {
		return true
	}
	ok, err := a.Limiter.Allow(ctx, t.ID, "confirm_email", rules, ratelimit.Subject{Key: emailKey(email)})
	return ok || err != nil
}
