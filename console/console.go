package console

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/clientip"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/internal/webhooks"
	"github.com/hallpass/hallpass/tenants"
)

// Paths the console lives under on the platform host.
const (
	// Root is the console's base path; the session cookie is scoped to it.
	Root = "/console/"
	// staticPrefix serves the embedded assets (web.Static).
	staticPrefix = Root + "static/"
	// CookieName holds the session token.
	CookieName = "hp_console"
	// loginCookieName holds the sign-in form's CSRF token (there is no
	// session yet to hold it).
	loginCookieName = "hp_console_login"
)

// Config is what the console needs from main.
type Config struct {
	Pool  *pgxpool.Pool
	Store *tenants.Store
	// Sealer seals console users' second factors (TOTP secrets, recovery
	// code hashes, passkeys) and enrollments in progress.
	Sealer *seal.Sealer
	// Keys manages the tenants' JWT signing keys; nil hides the keys pages.
	Keys *tenants.Keys
	// APIKeys holds the management API's keys (its Revoke reaches every
	// node's cache); nil hides the API keys pages.
	APIKeys *apikeys.Authenticator
	// Inbox shows the mail kept when no SMTP server is configured; nil
	// hides the dev inbox pages.
	Inbox *mail.DevInbox
	// Accounts reaches the tenants' own users (their sessions, and the
	// verification mail); nil hides the users pages.
	Accounts *identity.Accounts
	// MFA holds the tenant users' second factors, the store Accounts'
	// login pipeline reads (with Accounts; a store over Pool when nil).
	MFA *mfa.Store
	// Users is the operator's operations on tenant users, the same the
	// management API calls (with Accounts; built over Accounts when nil).
	Users *identity.UserAdmin
	// Webhooks manages the tenants' webhook endpoints; nil hides the
	// webhooks pages.
	Webhooks *webhooks.Service
	// Outbox queues the invitation mail; nil hides inviting.
	Outbox *mail.Outbox
	// MailFrom is the sender of the console's own mail
	// ("no-reply@" + BaseDomain by default).
	MailFrom string
	// TXT looks up the DNS records that prove a custom domain's ownership
	// (net.DefaultResolver by default).
	TXT TXTResolver
	// PublicURL is the platform's public base URL (quickstart, cookies'
	// Secure flag), e.g. "https://auth.example.com".
	PublicURL string
	// BaseDomain makes tenant hosts {slug}.{BaseDomain}.
	BaseDomain string
	// TenantsPerUser is who may create tenants: platform admins always;
	// another console user only while they own fewer than TenantsPerUser
	// tenants (HALLPASS_CONSOLE_TENANTS_PER_USER). 0, the default, leaves
	// tenant creation to platform admins, who invite customers as owners.
	TenantsPerUser int
	Log            *slog.Logger
	// IdleTimeout and AbsoluteTimeout bound sessions (30 min and 12 h by default).
	IdleTimeout, AbsoluteTimeout time.Duration
	// LoginLimit is how many failed sign-ins one client IP, and one
	// account, may have per LoginWindow (10 per 10 minutes by default).
	LoginLimit  int
	LoginWindow time.Duration
	// Limiter counts console sign-in failures (per client IP and per
	// account) and second-factor tries (per user), shared by every node
	// (ratelimit.NewLimiter over the platform's Redis); nil counts in this
	// node's memory only.
	Limiter *ratelimit.Limiter
	// Hasher verifies console passwords (passwords.DefaultHasher by default).
	Hasher *passwords.Hasher
	// Now is the clock (time.Now by default); tests move it.
	Now func() time.Time
}

// Console serves the management UI.
type Console struct {
	cfg      Config
	store    *tenants.Store
	keys     *tenants.Keys
	inbox    *mail.DevInbox
	accounts *identity.Accounts
	// admin is what the console does to a tenant's users (nil without
	// Accounts); tenantMFA reads their second factors.
	admin     *identity.UserAdmin
	tenantMFA *mfa.Store
	users     *Users
	sessions  *Sessions
	limiter   *loginLimiter
	hasher    passwords.Hasher
	// mfa holds console users' second factors; flows their pending
	// sign-ins; sealer seals enrollments in progress; relyingParty is the
	// console's WebAuthn relying party (PublicURL), nil when PublicURL's
	// host is no domain name.
	mfa          *mfa.ConsoleStore
	flows        *loginFlows
	sealer       *seal.Sealer
	relyingParty *webauthn.Config
	// dummyHash is verified against when the email is unknown, so a wrong
	// email costs the same time as a wrong password.
	dummyHash string
	log       *slog.Logger
	now       func() time.Time
	secure    bool
	public    *url.URL
	catalog   *catalog
}

// New checks the configuration and builds the console.
func New(cfg Config) (*Console, error) {
	if cfg.Pool == nil || cfg.Store == nil || cfg.Sealer == nil {
		return nil, errors.New("console: Pool, Store and Sealer are required")
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LoginLimit <= 0 {
		cfg.LoginLimit = 10
	}
	if cfg.Limiter == nil {
		cfg.Limiter = ratelimit.NewLimiter(nil)
	}
	if cfg.LoginWindow <= 0 {
		cfg.LoginWindow = 10 * time.Minute
	}
	if cfg.BaseDomain == "" {
		cfg.BaseDomain = "localhost"
	}
	if cfg.MailFrom == "" {
		cfg.MailFrom = "no-reply@" + cfg.BaseDomain
	}
	if cfg.TXT == nil {
		cfg.TXT = net.DefaultResolver
	}
	hasher := passwords.DefaultHasher()
	if cfg.Hasher != nil {
		hasher = *cfg.Hasher
	}
	dummy, err := dummyHashFor(hasher)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	pub, err := url.Parse(strings.TrimRight(cfg.PublicURL, "/"))
	if err != nil || pub.Scheme == "" || pub.Host == "" {
		return nil, fmt.Errorf("console: PublicURL %q must be an absolute URL", cfg.PublicURL)
	}
	cat, err := newCatalog()
	if err != nil {
		return nil, err
	}
	// Passkeys need a domain name (WebAuthn has no relying party for an IP
	// address): without one the console offers TOTP and recovery codes only.
	rp := &webauthn.Config{RPID: pub.Hostname(), RPDisplayName: "Hallpass console", RPOrigins: []string{pub.Scheme + "://" + pub.Host}}
	if _, err := webauthn.New(rp); err != nil {
		cfg.Log.Info("console: passkeys unavailable", "public_url", pub.String(), "err", err)
		rp = nil
	}
	var admin *identity.UserAdmin
	var tenantMFA *mfa.Store
	if cfg.Accounts != nil {
		admin = cfg.Users
		if admin == nil {
			admin = identity.NewUserAdmin(cfg.Accounts, mfa.RemoveAll)
		}
		tenantMFA = cfg.MFA
		if tenantMFA == nil {
			tenantMFA = mfa.NewStore(cfg.Pool, cfg.Sealer)
		}
	}
	return &Console{
		cfg:          cfg,
		store:        cfg.Store,
		keys:         cfg.Keys,
		inbox:        cfg.Inbox,
		accounts:     cfg.Accounts,
		admin:        admin,
		tenantMFA:    tenantMFA,
		users:        NewUsers(cfg.Pool),
		sessions:     NewSessions(cfg.Pool, cfg.IdleTimeout, cfg.AbsoluteTimeout, cfg.Now),
		limiter:      newLoginLimiter(cfg.Limiter, cfg.LoginLimit, cfg.LoginWindow),
		hasher:       hasher,
		mfa:          mfa.NewConsoleStore(cfg.Pool, cfg.Sealer, cfg.Now),
		flows:        &loginFlows{pool: cfg.Pool, now: cfg.Now},
		sealer:       cfg.Sealer,
		relyingParty: rp,
		dummyHash:    dummy,
		log:          cfg.Log.With("component", "console"),
		now:          cfg.Now,
		secure:       pub.Scheme == "https",
		public:       pub,
		catalog:      cat,
	}, nil
}

// dummyHashes holds one timing dummy per hasher: the hash of a random
// password nobody knows, verified against when a sign-in names no account.
// One per process serves every console in it (as identity's dummy serves
// every Accounts), so building a server costs no argon2 run.
var dummyHashes sync.Map // passwords.Hasher → string

func dummyHashFor(h passwords.Hasher) (string, error) {
	if d, ok := dummyHashes.Load(h); ok {
		return d.(string), nil
	}
	d, err := h.Hash(randomToken())
	if err != nil {
		return "", err
	}
	actual, _ := dummyHashes.LoadOrStore(h, d)
	return actual.(string), nil
}

// Users is the console user store the console signs people in against.
func (h *Console) Users() *Users { return h.users }

// Sessions is the console's session store.
func (h *Console) Sessions() *Sessions { return h.sessions }

// actor names the signed-in user in audit events and settings history.
func actor(u *User) string { return "console:" + u.ID.String() }

// operator is who acts in r, for the operations that record their own
// audit event.
func operator(r *request) audit.Actor {
	return audit.Actor{Name: actor(r.user), IP: clientip.Peer(r.c)}
}
