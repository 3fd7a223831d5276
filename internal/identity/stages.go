package identity

import (
	"context"
	"crypto/hmac"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/login"
	"github.com/hallpass/hallpass/internal/login/methods"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/tenants"
)

// Stage keys after the primary authentication (allauth's order).
const (
	StageMFAAuthenticate = login.StageMFAAuthenticate
	StageMFATrust        = login.StageMFATrust
)

// stageOrder is the login pipeline's stages, in the order the registered
// login methods declare them, each with when it applies.
var stageOrder = methods.All.Pipeline()

// MFAState is what the login pipeline needs to know of a user's second
// factors (the MFA store provides it).
type MFAState interface {
	// Types lists the user's authenticator types.
	Types(ctx context.Context, tenantID uuid.UUID, userID int64) ([]string, error)
	// ConfigFingerprint changes whenever the user's authenticators change;
	// trust cookies are bound to it.
	ConfigFingerprint(ctx context.Context, tenantID uuid.UUID, userID int64) (string, error)
}

// RequiresMFA reports whether the user must pass mfa_authenticate: MFA is
// installed and the user has TOTP or WebAuthn.
func (a *Pipeline) RequiresMFA(ctx context.Context, t *tenants.Tenant, userID int64) (bool, []string, error) {
	if a.MFA == nil || !slices.Contains(t.Settings.Apps, tenants.AppMFA) {
		return false, nil, nil
	}
	types, err := a.MFA.Types(ctx, t.ID, userID)
	if err != nil {
		return false, nil, err
	}
	return slices.Contains(types, "totp") || slices.Contains(types, "webauthn"), types, nil
}

// continueLogin runs the stages that follow `done` (the stage or step just
// passed), in the order the registered login methods declare them
// (methods.All.Pipeline): mfa_authenticate, then mfa_trust (browsers,
// MFA_TRUST_ENABLED, after MFA), then the login completes. Each stage says
// itself whether it applies (login.Stage.Applies); one that applies is left
// pending in the session.
func (a *Pipeline) continueLogin(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, user *User, req Request, done string) error {
	pl := sess.State.Login
	if pl == nil {
		pl = &sessions.PendingLogin{UserID: user.ID, StartedAt: a.now()}
		sess.State.Login = pl
	}
	if done == StageVerifyEmail && pl.Stage != "" {
		return nil // verify_email (or another earlier stage) is pending
	}
	pl.Stage = ""
	sess.Changed()
	order := stageOrder
	from := slices.IndexFunc(order, func(s login.Stage) bool { return s.Key == done }) + 1
	pending := login.Pending{
		Settings: t.Settings, Client: req.Client,
		Passkey: pl.Passkey, Signup: pl.Signup, MFADone: pl.MFADone, PasskeySignup: pl.PasskeySignup,
		NeedsSecondFactor: func(ctx context.Context) (bool, error) {
			need, _, err := a.RequiresMFA(ctx, t, user.ID)
			if err != nil || !need {
				return false, err
			}
			return !a.trustedBrowser(ctx, t, user.ID, req.TrustCookie), nil
		},
	}
	for _, stage := range order[from:] {
		if stage.Applies == nil {
			continue
		}
		applies, err := stage.Applies(ctx, pending)
		if err != nil {
			return err
		}
		if applies {
			pl.Stage = stage.Key
			return nil
		}
	}
	if !user.IsActive {
		sess.State.Login = nil
		return nil
	}
	return a.completeLogin(ctx, t, sess, user)
}

// Continue resumes a pending login after the stage `done` was passed (used
// by the MFA endpoints).
func (a *Pipeline) Continue(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, done string, req Request) error {
	login := a.PendingStage(t, sess)
	if login == nil || login.Stage != done {
		return ErrNotAuthenticated
	}
	user, err := a.Store.User(ctx, t.ID, login.UserID)
	if err != nil {
		return err
	}
	if done == StageMFAAuthenticate {
		login.MFADone = true
	}
	if done == StageMFASignupWebAuthn {
		login.PasskeySignup = false
	}
	return a.continueLogin(ctx, t, sess, user, req, done)
}

// RecordMethod appends an authentication record to the session's log.
func (a *Pipeline) RecordMethod(sess *sessions.Session, rec sessions.AuthRecord) {
	rec.At = epoch(a.now())
	sess.State.Methods = append(sess.State.Methods, rec)
	sess.Changed()
}

// TrustCookie returns the value of an "MFA trust" cookie for the user: who,
// until when, bound to the current set of authenticators (any change
// revokes it) and signed per tenant.
func (a *Pipeline) TrustCookie(ctx context.Context, t *tenants.Tenant, userID int64) (string, time.Time, error) {
	fp, err := a.MFA.ConfigFingerprint(ctx, t.ID, userID)
	if err != nil {
		return "", time.Time{}, err
	}
	until := a.now().Add(time.Duration(t.Settings.MFATrustCookieAge) * time.Second)
	uid, exp := strconv.FormatInt(userID, 10), strconv.FormatInt(until.Unix(), 10)
	mac := a.Keys.mac(t.ID, "mfa-trust", uid, exp, fp)
	return uid + "." + exp + "." + base64.RawURLEncoding.EncodeToString(mac), until, nil
}

// trustedBrowser checks a trust cookie: this user, not expired, signed for
// this tenant, and the user's authenticators unchanged since.
func (a *Pipeline) trustedBrowser(ctx context.Context, t *tenants.Tenant, userID int64, cookie string) bool {
	if cookie == "" || !t.Settings.MFATrustEnabled || len(cookie) > 256 {
		return false
	}
	parts := strings.Split(cookie, ".")
	if len(parts) != 3 || parts[0] != strconv.FormatInt(userID, 10) {
		return false
	}
	exp, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || a.now().Unix() > exp {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false
	}
	fp, err := a.MFA.ConfigFingerprint(ctx, t.ID, userID)
	if err != nil {
		return false
	}
	return hmac.Equal(sig, a.Keys.mac(t.ID, "mfa-trust", parts[0], parts[1], fp))
}

// StageMFASignupWebAuthn is the last stage of a passkey signup: the new
// user registers the passkey that will be their only credential.
const StageMFASignupWebAuthn = login.StageMFASignupWebAuthn

// LoginWithPasskey logs in the user a passkey assertion identified: the
// record is kept, verify_email still applies, no MFA stage follows.
func (a *Pipeline) LoginWithPasskey(ctx context.Context, t *tenants.Tenant, sess *sessions.Session, userID int64, rec sessions.AuthRecord, req Request) error {
	if sess.Authenticated() {
		return ErrConflict
	}
	user, err := a.Store.User(ctx, t.ID, userID)
	if err != nil {
		return err
	}
	a.RecordMethod(sess, rec)
	err = pgx.BeginFunc(ctx, a.Store.pool, func(tx pgx.Tx) error {
		return a.startLogin(ctx, tx, t, sess, user, nil, "", false, req)
	})
	if err != nil {
		return err
	}
	sess.State.Login.Passkey = true
	return a.continueLogin(ctx, t, sess, user, req, StageVerifyEmail)
}
