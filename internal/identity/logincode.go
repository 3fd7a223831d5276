package identity

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// Stage key of login by code.
const StageLoginByCode = "login_by_code"

// Mail kinds of codes and resets.
const (
	MailLoginCode         = "login_code"
	MailUnknownAccount    = "unknown_account"
	MailPasswordResetKey  = "password_reset_key"
	MailPasswordResetCode = "password_reset_code"
)

// firstActiveByEmail returns the active user an address belongs to (those
// with it verified first), or nil.
func (a *LoginCodes) firstActiveByEmail(ctx context.Context, t *tenants.Tenant, email string) (*User, error) {
	users, err := a.Store.UsersByEmail(ctx, t.ID, email)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		if u.IsActive {
			return u, nil
		}
	}
	return nil, nil
}

// RequestLoginCode answers POST auth/code/request: a code is mailed to the
// address and the session gets a pending login_by_code stage. For an unknown
// address the answer looks the same (enumeration prevention), unless the
// tenant turned that off, in which case it is unknown_email.
func (a *LoginCodes) RequestLoginCode(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, rawEmail string, req Request) error {
	if sess.Authenticated() {
		return ErrConflict
	}
	email, e := NormalizeEmail("email", rawEmail, t.Settings.EmailMaxLength)
	if e != nil {
		return Errors{e}
	}
	if err := a.sessionOps.Limit(ctx, t, "request_login_code", req, sess, emailKey(email)); err != nil {
		return err
	}
	user, err := a.firstActiveByEmail(ctx, t, email)
	if err != nil {
		return err
	}
	if user == nil && !t.Settings.PreventEnumeration {
		return Errors{NewError("email", "unknown_email")}
	}
	if user != nil {
		// The code goes to the address the account holds, not to the
		// spelling typed (which may differ in case or IDNA form).
		email = user.MatchedEmail
	}
	return pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		return a.startLoginCode(ctx, tx, t, sess, user, email, req)
	})
}

// startLoginCode creates the code process and mails it (to a known user,
// at email, which must be the address as the user stored it) or an
// unknown-account notice (when enabled) to the address typed — the same
// work either way.
func (a *LoginCodes) startLoginCode(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, sess *sessions.Session, user *User, email string, req Request) error {
	s := t.Settings
	code := NewUserCode(s.LoginByCodeFormat)
	p := &sessions.CodeProcess{ID: newProcessID(), Email: email, CodeHash: a.Keys.CodeHash(t.ID, code), Expires: a.now().Add(time.Duration(s.LoginByCodeTimeout) * time.Second)}
	var err error
	if user != nil {
		p.UserID = user.ID
		err = a.Mail.Queue(ctx, tx, t, MailLoginCode, email, MailData{Email: email, Code: code})
	} else {
		p.CodeHash = a.Keys.CodeHash(t.ID, code+"-unknown") // nobody can know this code
		err = a.unknownAccount(ctx, tx, t, email, req)
	}
	if err != nil {
		return err
	}
	sess.State.LoginCode = p
	sess.State.Login = &sessions.PendingLogin{UserID: p.UserID, Email: email, Stage: StageLoginByCode, StartedAt: a.now()}
	sess.Changed()
	return nil
}

// unknownAccount mails an address without an account, when the tenant has
// ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS; otherwise it does comparable work.
func (a *LoginCodes) unknownAccount(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, email string, req Request) error {
	if !t.Settings.EmailUnknownAccounts {
		_, err := tx.Exec(ctx, `SELECT pg_notify('hallpass_noop', '')`)
		return err
	}
	return a.Mail.Queue(ctx, tx, t, MailUnknownAccount, email, MailData{Email: email, SignupURL: a.frontendURL(t, "account_signup", "", req)})
}

// loginCodeProcess returns the pending login_by_code process, or ErrConflict.
func (a *LoginCodes) loginCodeProcess(t *tenants.Tenant, sess *sessions.Session) (*sessions.CodeProcess, error) {
	stage := a.pipeline.PendingStage(t, sess)
	p := sess.State.LoginCode
	if stage == nil || stage.Stage != StageLoginByCode || p == nil || a.now().After(p.Expires) {
		return nil, ErrConflict
	}
	return p, nil
}

// ConfirmLoginCode answers POST auth/code/confirm. A wrong code counts as an
// attempt; after ACCOUNT_LOGIN_BY_CODE_MAX_ATTEMPTS the process is dropped.
// Attempts are taken atomically before the code is compared (takeAttempt),
// so parallel guesses compare at most that many codes.
// The right code logs the user in (the address counts as verified: the code
// reached it) unless a further stage is pending.
func (a *LoginCodes) ConfirmLoginCode(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, code string, req Request) error {
	p, err := a.loginCodeProcess(t, sess)
	if err != nil {
		return err
	}
	if code == "" {
		return Errors{NewError("code", "required")}
	}
	n, err := a.takeAttempt(ctx, t.ID, p)
	if err != nil {
		return err
	}
	spent := func() {
		sess.State.LoginCode, sess.State.Login = nil, nil
		sess.Changed()
	}
	if n > t.Settings.LoginByCodeMaxAttempts {
		// Parallel attempts took the last ones: the process is gone, as it
		// is after the last wrong code.
		spent()
		return ErrConflict
	}
	if p.UserID == 0 || !a.Keys.CodeMatches(t.ID, code, p.CodeHash) {
		p.Attempts = n
		sess.Changed()
		if err := a.recordLoginCodeFailure(ctx, t, p, req); err != nil {
			return err
		}
		if n >= t.Settings.LoginByCodeMaxAttempts {
			spent()
		}
		return Errors{NewError("code", "incorrect_code")}
	}
	if first, err := a.consumeOnce(ctx, t.ID, p.CodeHash, time.Until(p.Expires)+time.Minute); err != nil {
		return err
	} else if !first {
		return ErrConflict // the same code already completed this login
	}
	user, err := a.Store.User(ctx, t.ID, p.UserID)
	if err != nil {
		return err
	}
	sess.State.LoginCode = nil
	sess.State.Methods = append(sess.State.Methods, sessions.AuthRecord{Method: "code", At: epoch(a.now()), Email: p.Email})
	sess.Changed()
	var verified bool
	if err := pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE email_addresses SET verified = true WHERE tenant_id = $1 AND user_id = $2 AND email_folded = $3 AND NOT verified
			RETURNING email, is_primary`, t.ID, user.ID, emailKey(p.Email))
		if err != nil {
			return err
		}
		done, err := collectVerified(rows)
		if err != nil {
			return err
		}
		verified = len(done) > 0
		return a.emitVerified(ctx, tx, t, user.ID, done)
	}); err != nil {
		return err
	}
	if verified { // what the tenant's expressions read (user.emails) changed
		a.Store.userChanged(ctx, t.ID, user.ID)
	}
	// The code reached the address: verify_email does not apply.
	sess.State.Login = &sessions.PendingLogin{UserID: user.ID, Email: p.Email, StartedAt: a.now()}
	return a.pipeline.continueLogin(ctx, t, sess, user, req, StageVerifyEmail)
}

// ResendLoginCode answers POST auth/code/resend.
func (a *LoginCodes) ResendLoginCode(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, req Request) error {
	p, err := a.loginCodeProcess(t, sess)
	if err != nil {
		return err
	}
	if p.Resends >= t.Settings.LoginByCodeMaxResendCount {
		return ErrConflict
	}
	if err := a.sessionOps.Limit(ctx, t, "request_login_code", req, sess, emailKey(p.Email)); err != nil {
		return err
	}
	// The allowance is counted atomically (processCount): parallel resends
	// send no more mail than it allows.
	resends, err := a.processCount(ctx, t.ID, p, countResends)
	if err != nil {
		return err
	}
	if resends > t.Settings.LoginByCodeMaxResendCount {
		return ErrConflict
	}
	var user *User
	if p.UserID != 0 {
		if user, err = a.Store.User(ctx, t.ID, p.UserID); err != nil {
			return err
		}
	}
	err = pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		if err := a.startLoginCode(ctx, tx, t, sess, user, p.Email, req); err != nil {
			return err
		}
		sess.State.LoginCode.Resends = resends
		return nil
	})
	if err != nil {
		return err
	}
	// A new code, the same process: its attempts do not grow back.
	return a.keepCounts(ctx, t.ID, p, sess.State.LoginCode)
}
