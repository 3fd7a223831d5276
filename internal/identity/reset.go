package identity

import (
	"context"
	"crypto/hmac"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// Flow id of password reset by code.
const FlowPasswordResetByCode = "password_reset_by_code"

// passwordResetTimeout is Django's PASSWORD_RESET_TIMEOUT (3 days).
const passwordResetTimeout = 3 * 24 * time.Hour

// PasswordResetKey returns a reset key for a user, in Django's shape
// (`<uidb36>-<timestamp b36>-<mac>`). The MAC covers the password hash and
// last login, so the key stops working once used (the password changes) or
// once the user logs in.
func (k *Keys) PasswordResetKey(t *tenants.Tenant, u *User, now time.Time) string {
	uid := strconv.FormatInt(u.ID, 36)
	ts := strconv.FormatInt(now.Unix(), 36)
	return uid + "-" + ts + "-" + hex.EncodeToString(k.resetMAC(t, u, uid, ts))
}

func (k *Keys) resetMAC(t *tenants.Tenant, u *User, uid, ts string) []byte {
	last := ""
	if u.LastLogin != nil {
		last = strconv.FormatInt(u.LastLogin.Unix(), 10)
	}
	return k.mac(t.ID, "password-reset", uid, ts, u.PasswordHash, last)[:16]
}

// resetKeyUser checks a reset key and returns its user.
func (a *Passwords) resetKeyUser(ctx context.Context, t *tenants.Tenant, key string) (*User, error) {
	bad := Errors{NewError("key", "invalid_password_reset")}
	parts := strings.Split(key, "-")
	if len(key) > 128 || len(parts) != 3 {
		return nil, bad
	}
	id, err1 := strconv.ParseInt(parts[0], 36, 64)
	ts, err2 := strconv.ParseInt(parts[1], 36, 64)
	mac, err3 := hex.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil || a.now().Sub(time.Unix(ts, 0)) > passwordResetTimeout {
		return nil, bad
	}
	u, err := a.Store.User(ctx, t.ID, id)
	if err != nil {
		if err == ErrUserNotFound {
			return nil, bad
		}
		return nil, err
	}
	if !u.IsActive || !hmac.Equal(mac, a.Keys.resetMAC(t, u, parts[0], parts[1])) {
		return nil, bad
	}
	return u, nil
}

// RequestPasswordReset answers POST auth/password/request. Link mode: a
// reset link to every active account holding the address (compared by
// EmailKey), each to the address as that account stored it. Code mode: a code
// and a pending password_reset_by_code process in the session. An unknown
// address gets the same answer and comparable work (enumeration prevention),
// or unknown_email when the tenant turned prevention off.
func (a *Passwords) RequestPasswordReset(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, rawEmail string, req Request) error {
	email, e := NormalizeEmail("email", rawEmail, t.Settings.EmailMaxLength)
	if e != nil {
		return Errors{e}
	}
	if err := a.sessionOps.Limit(ctx, t, "reset_password", req, sess, emailKey(email)); err != nil {
		return err
	}
	users, err := a.Store.UsersByEmail(ctx, t.ID, email)
	if err != nil {
		return err
	}
	var active []*User
	for _, u := range users {
		if u.IsActive {
			active = append(active, u)
		}
	}
	if len(active) == 0 && !t.Settings.PreventEnumeration {
		return Errors{NewError("email", "unknown_email")}
	}
	s := t.Settings
	return pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		if s.PasswordResetByCodeEnabled {
			code := NewUserCode(s.PasswordResetByCodeFormat)
			p := &sessions.CodeProcess{ID: newProcessID(), Email: email, CodeHash: a.Keys.CodeHash(t.ID, code+"-unknown"),
				Expires: a.now().Add(time.Duration(s.PasswordResetByCodeTimeout) * time.Second)}
			sess.State.ResetCode = p
			sess.Changed()
			if len(active) == 0 {
				return a.loginCodes.unknownAccount(ctx, tx, t, email, req)
			}
			// To the address the account holds, not the spelling typed.
			to := active[0].MatchedEmail
			p.UserID, p.CodeHash, p.Email = active[0].ID, a.Keys.CodeHash(t.ID, code), to
			return a.Mail.Queue(ctx, tx, t, MailPasswordResetCode, to, MailData{Email: to, Code: code})
		}
		if len(active) == 0 {
			return a.loginCodes.unknownAccount(ctx, tx, t, email, req)
		}
		for _, u := range active {
			key := a.Keys.PasswordResetKey(t, u, a.now())
			link := a.frontendURL(t, "account_reset_password_from_key", key, req)
			if link == "" {
				link = strings.TrimSuffix(req.BaseURL, "/") + "/accounts/password/reset/key/" + key + "/"
			}
			to := u.MatchedEmail // the address as this account holds it
			if err := a.Mail.Queue(ctx, tx, t, MailPasswordResetKey, to, MailData{Email: to, Link: link}); err != nil {
				return err
			}
		}
		return nil
	})
}

// resetCodeProcess returns the session's reset-by-code process or ErrConflict.
func (a *Passwords) resetCodeProcess(sess *sessions.Session) (*sessions.CodeProcess, error) {
	p := sess.State.ResetCode
	if p == nil || a.now().After(p.Expires) {
		return nil, ErrConflict
	}
	return p, nil
}

// checkResetCode compares a reset code, counting failures: an attempt is
// taken before the comparison (takeAttempt) and given back when the code
// is right. Once ACCOUNT_PASSWORD_RESET_BY_CODE_MAX_ATTEMPTS wrong codes
// were compared the process is dropped (ErrConflict from then on).
func (a *Passwords) checkResetCode(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, p *sessions.CodeProcess, code string) error {
	n, err := a.takeAttempt(ctx, t.ID, p)
	if err != nil {
		return err
	}
	limit := t.Settings.PasswordResetByCodeMaxAttempts
	if n > limit {
		sess.State.ResetCode = nil
		sess.Changed()
		return ErrConflict
	}
	if p.UserID != 0 && a.Keys.CodeMatches(t.ID, code, p.CodeHash) {
		return a.returnAttempt(ctx, t.ID, p)
	}
	p.Attempts = n
	if n >= limit {
		sess.State.ResetCode = nil
	}
	sess.Changed()
	return Errors{NewError("key", "incorrect_code")}
}

// InspectPasswordReset answers GET auth/password/reset: whose key (or code)
// this is. In code mode a right code marks the process confirmed.
func (a *Passwords) InspectPasswordReset(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, key string) (*User, error) {
	if key == "" {
		return nil, Errors{NewError("key", "required")}
	}
	if !t.Settings.PasswordResetByCodeEnabled {
		return a.resetKeyUser(ctx, t, key)
	}
	p, err := a.resetCodeProcess(sess)
	if err != nil {
		return nil, err
	}
	if err := a.checkResetCode(ctx, t, sess, p, key); err != nil {
		return nil, err
	}
	p.Confirmed = true
	sess.Changed()
	return a.Store.User(ctx, t.ID, p.UserID)
}

// ResetPassword answers POST auth/password/reset: the new password is set,
// every session of the user ends, and with ACCOUNT_LOGIN_ON_PASSWORD_RESET
// this session logs in (method password_reset).
func (a *Passwords) ResetPassword(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, key, password string, req Request) error {
	if err := a.sessionOps.Limit(ctx, t, "reset_password_from_key", req, sess, ""); err != nil {
		return err
	}
	var user *User
	var p *sessions.CodeProcess
	var err error
	if key == "" {
		return Errors{NewError("key", "required")}
	}
	if t.Settings.PasswordResetByCodeEnabled {
		if p, err = a.resetCodeProcess(sess); err != nil {
			return err
		}
		if err := a.checkResetCode(ctx, t, sess, p, key); err != nil {
			return err
		}
		if user, err = a.Store.User(ctx, t.ID, p.UserID); err != nil {
			return err
		}
	} else if user, err = a.resetKeyUser(ctx, t, key); err != nil {
		return err
	}
	if password == "" {
		return Errors{NewError("password", "required")}
	}
	if errs := a.validateNewPassword(ctx, t, "password", password); len(errs) > 0 {
		return errs
	}
	hash, err := a.Hasher.Hash(password)
	if err != nil {
		return err
	}
	email := user.PrimaryEmail
	if p != nil {
		email = p.Email
	}
	err = pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		// The guard on the old hash makes a key usable once even when two
		// requests race with it.
		tag, err := tx.Exec(ctx, `UPDATE users SET password_hash = $3, failed_logins = 0 WHERE tenant_id = $1 AND id = $2 AND password_hash = $4`,
			t.ID, user.ID, hash, user.PasswordHash)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return Errors{NewError("key", "invalid_password_reset")}
		}
		if p != nil {
			// Receiving the code proves the address.
			rows, err := tx.Query(ctx, `UPDATE email_addresses SET verified = true WHERE tenant_id = $1 AND user_id = $2 AND email_folded = $3
				AND NOT verified RETURNING email, is_primary`, t.ID, user.ID, emailKey(p.Email))
			if err != nil {
				return err
			}
			done, err := collectVerified(rows)
			if err != nil {
				return err
			}
			if err := a.emitVerified(ctx, tx, t, user.ID, done); err != nil {
				return err
			}
		}
		if err := a.emit(ctx, tx, t, user.ID, events.PasswordReset, nil); err != nil {
			return err
		}
		if err := a.record(ctx, tx, userEvent(t.ID, user.ID, req.IP, EventPasswordReset, userLabel(user),
			map[string]any{"by_code": p != nil, "client": req.Client})); err != nil {
			return err
		}
		return a.notify(ctx, tx, t, user, MailPasswordReset)
	})
	if err != nil {
		return err
	}
	sess.State.ResetCode = nil
	sess.Changed()
	if err := a.Sessions.EndUserSessions(ctx, t.ID, user.ID, nil); err != nil {
		return err
	}
	if sess.State.UserID == user.ID {
		// This session was among those ended; forget it rather than save it back.
		if err := a.Sessions.Logout(ctx, sess); err != nil {
			return err
		}
	}
	if !t.Settings.LoginOnPasswordReset || sess.Authenticated() {
		return nil
	}
	user.PasswordHash = hash
	sess.State.Methods = append(sess.State.Methods, sessions.AuthRecord{Method: "password_reset", At: epoch(a.now()), Email: email})
	err = pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		return a.pipeline.startLogin(ctx, tx, t, sess, user, nil, email, false, req)
	})
	if err != nil {
		return err
	}
	return a.pipeline.continueLogin(ctx, t, sess, user, req, StageVerifyEmail)
}

// ResetCodePending reports whether a password_reset_by_code process is
// pending in the session (for the flows list).
func (a *Passwords) ResetCodePending(sess *sessions.Session) bool {
	p := sess.State.ResetCode
	return p != nil && !a.now().After(p.Expires)
}
