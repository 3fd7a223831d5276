package identity

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/failure"
	hpmail "github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/quota"
	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/tenants"
)

// Stage keys of the login pipeline (allauth's LoginStageKey values).
const (
	StageVerifyEmail = "verify_email"
)

// Mail kinds the account flows send.
const (
	MailEmailConfirmation     = "email_confirmation"
	MailEmailConfirmationCode = "email_confirmation_code"
	MailAccountAlreadyExists  = "account_already_exists"
)

// MailData is what a mail template needs.
type MailData struct {
	Email            string
	Link             string
	Code             string
	PasswordResetURL string
	SignupURL        string
	// Provider names a third-party provider (connect/disconnect notices).
	Provider string
}

// Mailer queues a mail in the transaction of the change that causes it.
type Mailer interface {
	Queue(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, kind, to string, data MailData) error
}

// Request is what the flows need to know about the HTTP request.
type Request struct {
	// BaseURL is the tenant's base URL as the request addressed it, used to
	// make relative frontend URLs absolute.
	BaseURL string
	// IP is the client's address, as the tenant's proxy settings define it.
	IP string
	// Client is "browser" or "app".
	Client string
	// TrustCookie is the browser's MFA trust cookie, if any.
	TrustCookie string
}

// Accounts runs allauth's account flows: signup, password login, email
// verification, logout. Flows change the session; the API renders the
// authentication response from it afterwards.
type Accounts struct {
	Store    *Store
	Sessions *Sessions
	Keys     *Keys
	Hasher   PasswordHasher
	Mail     Mailer
	Redis    *redis.Client
	Limiter  RateLimiter
	// Pending is the tenants' budget of anonymous state in Redis, shared
	// by the session store and the provider redirect states.
	Pending *quota.Pending
	// MFA is the second-factor state the login pipeline consults (nil:
	// no MFA stage).
	MFA MFAState
	// Breach checks new passwords against known breaches for tenants with
	// HALLPASS_PASSWORD_BREACH_CHECK (nil: never checked).
	Breach *BreachChecker
	// Social holds the users' connected provider accounts.
	Social *social.Accounts
	Now    func() time.Time
}

func (a *Accounts) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// ErrConflict means the flow does not apply now (allauth's 409).
var ErrConflict = failure.NewSentinel(http.StatusConflict, "conflict", "not applicable in the current state")

// ErrSignupClosed means the tenant accepts no signups (403).
var ErrSignupClosed = failure.NewSentinel(http.StatusForbidden, "signup_closed", "signup is closed")

// ErrRateLimited means a rate limit was hit (429).
var ErrRateLimited = failure.NewSentinel(http.StatusTooManyRequests, "rate_limited", "rate limited")

// ErrNotSent means a resend was refused (allauth answers 403).
var ErrNotSent = failure.NewSentinel(http.StatusForbidden, "not_sent", "not sent")

// SignupInput is a validated-shape signup request (fields present as sent).
type SignupInput struct {
	Email, Username, Password          string
	HasEmail, HasUsername, HasPassword bool
	// Passkey is a passkey signup (MFA_PASSKEY_SIGNUP_ENABLED): no password;
	// the signup ends by registering a passkey.
	Passkey bool
}

// Signup creates an account and starts its login, as allauth's SignupView:
// the session ends up logged in, or holding the pending verify_email stage.
func (a *Accounts) Signup(ctx context.Context, t *tenants.Tenant, sess *Session, in SignupInput, req Request) error {
	s := t.Settings
	if sess.Authenticated() {
		return ErrConflict
	}
	if !s.SignupOpen {
		return ErrSignupClosed
	}
	if err := a.Limit(ctx, t, "signup", req, sess, ""); err != nil {
		return err
	}
	emailField, hasEmailField := field(s, "email")
	email, username, errs := signupIdentity(s, SocialSignupInput{Email: in.Email, HasEmail: in.HasEmail, Username: in.Username, HasUsername: in.HasUsername},
		hasEmailField, emailField.Required)
	pwField, wantsPassword := field(s, "password1")
	if in.Passkey {
		wantsPassword, in.Password = false, ""
	}
	if wantsPassword {
		if in.HasPassword && in.Password != "" {
			errs = append(errs, a.validateNewPassword(ctx, t, "password", in.Password)...)
		} else if pwField.Required {
			errs = append(errs, NewError("password", "required"))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	decoy := false
	if email != "" && s.UniqueEmail {
		taken, err := a.Store.EmailTaken(ctx, t.ID, email)
		if err != nil {
			return err
		}
		if taken {
			if !s.PreventEnumeration || (s.EmailVerification != tenants.EmailVerificationMandatory && !s.PreventEnumerationStrict) {
				errs = append(errs, NewError("email", "email_taken"))
			} else {
				decoy = true
			}
		}
	}
	if e, err := a.usernameFree(ctx, t, username); err != nil {
		return err
	} else if e != nil {
		errs = append(errs, e)
	}
	if len(errs) > 0 {
		return errs
	}
	// Hash even for the decoy, so its timing matches a real signup.
	hash := "!" // Django's unusable password
	if in.Password != "" {
		var err error
		if hash, err = a.Hasher.Hash(in.Password); err != nil {
			return err
		}
	}
	if decoy {
		return a.preventEnumeration(ctx, t, sess, email, req)
	}
	userID, err := a.Store.NextUserID(ctx, t.ID)
	if err != nil {
		return err
	}
	var user *User
	var addr *EmailAddress
	err = pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		if email != "" {
			if err := lockEmail(ctx, tx, t.ID, email); err != nil {
				return err
			}
			if s.UniqueEmail {
				if taken, err := emailTaken(ctx, tx, t.ID, email, 0); err != nil {
					return err
				} else if taken {
					return Errors{NewError("email", "email_taken")}
				}
			}
		}
		if username == "" && s.UserModelUsernameField != "" {
			var err error
			if username, err = a.uniqueUsername(ctx, tx, t, email); err != nil {
				return err
			}
		}
		var err error
		user, addr, err = insertUser(ctx, tx, t.ID, NewUser{ID: userID, Username: username, PasswordHash: hash, Email: email})
		if err != nil {
			return err
		}
		if err := a.startLogin(ctx, tx, t, sess, user, addr, email, true, req); err != nil {
			return err
		}
		sess.State.Login.PasskeySignup = in.Passkey
		return nil
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			return Errors{e}
		}
		return err
	}
	return a.continueLogin(ctx, t, sess, user, req, StageVerifyEmail)
}

// uniqueUsername derives a free username from an address, as allauth's
// populate_username does for signups without a username field.
func (a *Accounts) uniqueUsername(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, email string) (string, error) {
	base := usernameBase(email)
	if len(base) < t.Settings.UsernameMinLength {
		base = "user"
	}
	candidate := base
	for i := 0; i < 20; i++ {
		taken, err := usernameTaken(ctx, tx, t.ID, candidate)
		if err != nil {
			return "", err
		}
		banned := blacklisted(t.Settings.UsernameBlacklist, candidate)
		if !taken && !banned {
			return candidate, nil
		}
		candidate = fmt.Sprintf("%s%d", base, 1+i*i*7+int(a.now().UnixNano()%97))
	}
	return "", fmt.Errorf("identity: no free username for %q", base)
}

// preventEnumeration answers a signup with a taken address like a real one
// (a pending verify_email stage) and mails the address's owner instead.
func (a *Accounts) preventEnumeration(ctx context.Context, t *tenants.Tenant, sess *Session, email string, req Request) error {
	// The notice is about an existing account: it goes to the address as
	// that account holds it, not to the spelling typed.
	to := email
	if users, err := a.Store.UsersByEmail(ctx, t.ID, email); err != nil {
		return err
	} else if len(users) > 0 {
		to = users[0].MatchedEmail
	}
	err := pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		data := MailData{Email: to, PasswordResetURL: a.frontendURL(t, "account_reset_password", "", req), SignupURL: ""}
		return a.Mail.Queue(ctx, tx, t, MailAccountAlreadyExists, to, data)
	})
	if err != nil {
		return err
	}
	sess.State.Login = &PendingLogin{Email: email, Signup: true, Stage: StageVerifyEmail, StartedAt: a.now()}
	if t.Settings.EmailVerificationByCodeEnabled {
		// A process whose code nobody knows: every attempt is incorrect.
		sess.State.EmailCode = &EmailCodeProcess{ID: newProcessID(), Email: email, CodeHash: a.Keys.CodeHash(t.ID, NewUserCode(t.Settings.EmailVerificationByCodeFormat)+"x"),
			Expires: a.now().Add(time.Duration(t.Settings.EmailVerificationByCodeTimeout) * time.Second)}
	}
	sess.Changed()
	return nil
}

// LoginInput is a password login: one identifier and the password.
type LoginInput struct {
	Method   string // "email" or "username"
	Value    string
	Password string
}

// Login authenticates with a password, records the method, and runs the
// login stages.
func (a *Accounts) Login(ctx context.Context, t *tenants.Tenant, sess *Session, in LoginInput, req Request) error {
	if sess.Authenticated() {
		return ErrConflict
	}
	if err := a.Limit(ctx, t, "login", req, sess, ""); err != nil {
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
	rec := AuthRecord{Method: "password", At: epoch(a.now())}
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
				return a.startLoginCode(ctx, tx, t, sess, user, to, req)
			}
		}
		return a.startLogin(ctx, tx, t, sess, user, nil, email, false, req)
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
	return a.continueLogin(ctx, t, sess, user, req, StageVerifyEmail)
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
var dummyHash, _ = DefaultPasswordHasher().Hash("hallpass-timing-equaliser")

func (a *Accounts) authenticate(ctx context.Context, t *tenants.Tenant, in LoginInput, req Request) (*User, error) {
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
func (a *Accounts) passwordFailed(ctx context.Context, t *tenants.Tenant, u *User, req Request) error {
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
func (a *Accounts) startLogin(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, sess *Session, user *User, signupAddr *EmailAddress, loginEmail string, signup bool, req Request) error {
	return a.startLoginVerifying(ctx, tx, t, sess, user, signupAddr, loginEmail, signup, req, t.Settings.EmailVerification)
}

// startLoginVerifying is startLogin under an email verification mode
// (provider logins use SOCIALACCOUNT_EMAIL_VERIFICATION).
func (a *Accounts) startLoginVerifying(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, sess *Session, user *User, signupAddr *EmailAddress, loginEmail string, signup bool, req Request, verification string) error {
	sess.State.Login = &PendingLogin{UserID: user.ID, Email: loginEmail, Signup: signup, StartedAt: a.now()}
	sess.Changed()
	if verification == tenants.EmailVerificationNone {
		return nil
	}
	verified, target, err := a.verificationTarget(ctx, tx, t, user, signupAddr, loginEmail)
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
	if err := a.sendVerification(ctx, tx, t, sess, target, req); err != nil && !errors.Is(err, ErrRateLimited) {
		return err
	}
	if mandatory {
		sess.State.Login.Stage = StageVerifyEmail
	}
	sess.Changed()
	return nil
}

// verificationTarget tells whether the user has a verified address (the
// login address, when logging in by email) and which address to verify.
func (a *Accounts) verificationTarget(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, user *User, signupAddr *EmailAddress, loginEmail string) (bool, *EmailAddress, error) {
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
func (a *Accounts) sendVerification(ctx context.Context, tx pgx.Tx, t *tenants.Tenant, sess *Session, e *EmailAddress, req Request) error {
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
		sess.State.EmailCode = &EmailCodeProcess{ID: newProcessID(), UserID: e.UserID, EmailID: e.ID, Email: e.Email, CodeHash: a.Keys.CodeHash(t.ID, code),
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
func (a *Accounts) allowConfirmEmail(ctx context.Context, t *tenants.Tenant, email string) bool {
	rules := t.Settings.RateLimits["confirm_email"]
	if a.Limiter == nil || len(rules) == 0 {
		return true
	}
	ok, err := a.Limiter.Allow(ctx, t.ID, "confirm_email", rules, ratelimit.Subject{Key: emailKey(email)})
	return ok || err != nil
}

func (a *Accounts) completeLogin(ctx context.Context, t *tenants.Tenant, sess *Session, user *User) error {
	event := a.loginEvent(t, sess, user)
	if err := a.Sessions.Login(ctx, sess, user.ID, time.Duration(t.Settings.SessionCookieAge)*time.Second); err != nil {
		return err
	}
	if len(sess.State.Methods) > 0 && t.Settings.EmailNotifications && user.PrimaryEmail != "" {
		// A sign-in (not a signup) is worth a security notice.
		if err := pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
			return a.notify(ctx, tx, t, user, MailNewLogin)
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
func (a *Accounts) PendingStage(t *tenants.Tenant, sess *Session) *PendingLogin {
	p := sess.State.Login
	if p == nil || p.Stage == "" || a.now().Sub(p.StartedAt) > time.Duration(t.Settings.LoginTimeout)*time.Second {
		return nil
	}
	return p
}

// Logout ends the session.
func (a *Accounts) Logout(ctx context.Context, sess *Session) error {
	userID := sess.State.UserID
	if err := a.Sessions.Logout(ctx, sess); err != nil {
		return err
	}
	return a.recordLogout(ctx, sess, userID)
}

// frontendURL fills a HEADLESS_FRONTEND_URLS template: {key} path-escaped,
// or query-escaped after "?"; relative templates are made absolute with the
// request's base. "" when the tenant has no such URL.
func (a *Accounts) frontendURL(t *tenants.Tenant, name, key string, req Request) string {
	tmpl, ok := t.Settings.FrontendURLs[name]
	if !ok || tmpl == "" {
		return ""
	}
	if i := strings.Index(tmpl, "{key}"); i >= 0 {
		esc := url.PathEscape(key)
		if q := strings.IndexByte(tmpl, '?'); q >= 0 && q < i {
			esc = url.QueryEscape(key)
		}
		tmpl = strings.ReplaceAll(tmpl, "{key}", esc)
	}
	if strings.HasPrefix(tmpl, "/") && req.BaseURL != "" {
		u, err := url.Parse(req.BaseURL)
		if err == nil {
			tmpl = u.Scheme + "://" + u.Host + tmpl
		}
	}
	return tmpl
}

// signupIdentity reads a signup form's email and username under the
// tenant's rules: the email when readEmail (normalised; "required" when
// absent and emailRequired), the username when the tenant has that field.
func signupIdentity(s *tenants.Settings, in SocialSignupInput, readEmail, emailRequired bool) (email, username string, errs Errors) {
	if readEmail {
		if in.HasEmail && strings.TrimSpace(in.Email) != "" {
			var e *Error
			if email, e = NormalizeEmail("email", in.Email, s.EmailMaxLength); e != nil {
				errs = append(errs, e)
			}
		} else if emailRequired {
			errs = append(errs, NewError("email", "required"))
		}
	}
	if f, ok := field(s, "username"); ok {
		if in.HasUsername && strings.TrimSpace(in.Username) != "" {
			var e *Error
			if username, e = NormalizeUsername("username", in.Username, UsernameRules{MinLength: s.UsernameMinLength, Blacklist: s.UsernameBlacklist,
				PreserveCasing: s.PreserveUsernameCasing}); e != nil {
				errs = append(errs, e)
			}
		} else if f.Required {
			errs = append(errs, NewError("username", "required"))
		}
	}
	return email, username, errs
}

// usernameFree returns username_taken when another user holds username
// ("" is free).
func (a *Accounts) usernameFree(ctx context.Context, t *tenants.Tenant, username string) (*Error, error) {
	if username == "" {
		return nil, nil
	}
	taken, err := usernameTaken(ctx, a.Store.pool, t.ID, username)
	if err != nil || !taken {
		return nil, err
	}
	return NewError("username", "username_taken"), nil
}

func field(s *tenants.Settings, name string) (tenants.SignupField, bool) {
	for _, f := range s.SignupFields {
		if f.Name == name {
			return f, true
		}
	}
	return tenants.SignupField{}, false
}

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// NewAccounts wires the account services over Postgres, Redis and the
// transactional outbox; keys derive from the sealer's master key.
func NewAccounts(pool *pgxpool.Pool, rdb *redis.Client, sealer *seal.Sealer, defaultFrom string) *Accounts {
	sessions := NewSessions(pool, rdb)
	sessions.Pending = quota.NewPending(rdb, quota.DefaultPendingCeiling)
	return &Accounts{
		Pending:  sessions.Pending,
		Store:    NewStore(pool).withSessions(sessions),
		Sessions: sessions,
		Keys:     NewKeys(sealer.DeriveKey),
		Hasher:   DefaultPasswordHasher(),
		Mail:     &OutboxMailer{Outbox: hpmail.NewOutbox(sealer), DefaultFrom: defaultFrom},
		Redis:    rdb,
		Limiter:  ratelimit.NewLimiter(rdb),
		Social:   social.NewAccounts(pool),
	}
}
