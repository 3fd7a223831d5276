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

	"github.com/hallpass/hallpass/internal/failure"
	"github.com/hallpass/hallpass/internal/login"
	hpmail "github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/quota"
	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/internal/social"
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

// Accounts runs allauth's account flows: signup, password login, email
// verification, logout. Flows change the session; the API renders the
// authentication response from it afterwards.
type Accounts struct {
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

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// NewAccounts wires the account services over Postgres, Redis and the
// transactional outbox; keys derive from the sealer's master key.
func NewAccounts(pool *pgxpool.Pool, rdb *redis.Client, sealer *seal.Sealer, defaultFrom string) *Accounts {
	store := sessions.NewStore(pool, rdb)
	store.Pending = quota.NewPending(rdb, quota.DefaultPendingCeiling)
	return &Accounts{
		Pending:  store.Pending,
		Store:    NewStore(pool).withSessions(store),
		Sessions: store,
		Keys:     NewKeys(sealer.DeriveKey),
		Hasher:   passwords.DefaultHasher(),
		Mail:     &OutboxMailer{Outbox: hpmail.NewOutbox(sealer), DefaultFrom: defaultFrom},
		Redis:    rdb,
		Limiter:  ratelimit.NewLimiter(rdb),
		Social:   social.NewAccounts(pool),
	}
}
