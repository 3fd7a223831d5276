package identity

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/failure"
	"github.com/hallpass/hallpass/internal/login"
	hpmail "github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/quota"
	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/userdata"
	"github.com/hallpass/hallpass/tenants"
)

// Stage keys of the login pipeline (allauth's LoginStageKey values).
const (
	StageVerifyEmail = login.StageVerifyEmail
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

// Deps are the dependencies the account services share. Every service
// holds the same *Deps, so a dependency set on it (a test's Now, Hasher or
// Breach) applies to all of them.
type Deps struct {
	Store    *Store
	Sessions *sessions.Store
	Keys     *Keys
	Hasher   passwords.Hasher
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
	Breach *passwords.BreachChecker
	// Social holds the users' connected provider accounts.
	Social *social.Accounts
	Now    func() time.Time
	// Events records what happens to users for the tenant's backend, in
	// the transaction of each change (nil: nothing; see SetEvents).
	Events *events.Log

	// tenantByID resolves tenants for events of operations given an id.
	tenantByID TenantByID

	// exprFailures logs the tenants' expressions that fail at run time.
	exprFailures userdata.FailureLog

	// The services, for the flows that cross from one to another.
	pipeline     *Pipeline
	sessionOps   *SessionOps
	pw           *Passwords
	signups      *Signups
	loginCodes   *LoginCodes
	addresses    *Addresses
	socialLogins *SocialLogins
}

// Accounts runs allauth's account flows, one service per responsibility.
// Flows change the session; the API renders the authentication response
// from it afterwards. The shared dependencies are reachable through the
// embedded *Deps (accounts.Sessions, accounts.MFA, ...).
type Accounts struct {
	*Deps
	// Pipeline runs the login stages after the primary authentication,
	// completes logins and logs out.
	Pipeline *Pipeline
	// SessionOps guards and lists the signed-in user's sessions.
	SessionOps *SessionOps
	// Passwords is password login, reauthentication, change and reset.
	Passwords *Passwords
	// Signups is the signup flow.
	Signups *Signups
	// LoginCodes is login by a mailed code.
	LoginCodes *LoginCodes
	// Addresses manages email addresses and their verification.
	Addresses *Addresses
	// SocialLogins is login, signup and connecting with providers.
	SocialLogins *SocialLogins
	// Profiles reads and changes the tenant-defined user data (profile,
	// public and private metadata) and builds what expressions see.
	Profiles *Profiles
}

// Pipeline runs the login pipeline: starting a login, its stages
// (verify_email, mfa_authenticate, mfa_trust, mfa_signup_webauthn, in the
// order of login.Methods), completing it, and logging out.
type Pipeline struct{ *Deps }

// SessionOps guards the signed-in user's session (recent authentication,
// rate limits) and lists or ends the user's sessions.
type SessionOps struct{ *Deps }

// Passwords is password login, reauthentication by password, password
// change and password reset (by key or by code).
type Passwords struct{ *Deps }

// Signups is allauth's signup flow.
type Signups struct{ *Deps }

// LoginCodes is login by a code mailed to the user.
type LoginCodes struct{ *Deps }

// Addresses manages a user's email addresses and their verification.
type Addresses struct{ *Deps }

// SocialLogins is login, signup and connecting with third-party providers.
type SocialLogins struct{ *Deps }

// newAccounts wires the services over d.
func newAccounts(d *Deps) *Accounts {
	d.pipeline, d.sessionOps, d.pw = &Pipeline{d}, &SessionOps{d}, &Passwords{d}
	d.signups, d.loginCodes, d.addresses, d.socialLogins = &Signups{d}, &LoginCodes{d}, &Addresses{d}, &SocialLogins{d}
	return &Accounts{Deps: d, Pipeline: d.pipeline, SessionOps: d.sessionOps, Passwords: d.pw, Signups: d.signups,
		LoginCodes: d.loginCodes, Addresses: d.addresses, SocialLogins: d.socialLogins, Profiles: &Profiles{d}}
}

func (a *Deps) now() time.Time {
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

// frontendURL fills a HEADLESS_FRONTEND_URLS template: {key} path-escaped,
// or query-escaped after "?"; relative templates are made absolute with the
// request's base. "" when the tenant has no such URL.
func (a *Deps) frontendURL(t *tenants.Tenant, name, key string, req Request) string {
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

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// NewAccounts wires the account services over Postgres, Redis and the
// transactional outbox; keys derive from the sealer's master key.
func NewAccounts(pool *pgxpool.Pool, rdb *redis.Client, sealer *seal.Sealer, defaultFrom string) *Accounts {
	store := sessions.NewStore(pool, rdb)
	store.Pending = quota.NewPending(rdb, quota.DefaultPendingCeiling)
	return newAccounts(&Deps{
		Pending:  store.Pending,
		Store:    NewStore(pool).withSessions(store),
		Sessions: store,
		Keys:     NewKeys(sealer.DeriveKey),
		Hasher:   passwords.DefaultHasher(),
		Mail:     &OutboxMailer{Outbox: hpmail.NewOutbox(sealer), DefaultFrom: defaultFrom},
		Redis:    rdb,
		Limiter:  ratelimit.NewLimiter(rdb),
		Social:   social.NewAccounts(pool),
	})
}
