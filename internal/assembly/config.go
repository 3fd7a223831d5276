// Package assembly builds the whole Hallpass server — stores, domain
// services, the Fiber apps with the headless API and the console, and the
// background workers — from one Config and the process's connections.
// `hallpass serve`, the API test harness, the fault suite, the console
// tests and the benchmarks all build their servers here, so a test runs the
// object graph production runs; they differ only in Config's options.
package assembly

import (
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/hallpass/hallpass/api/manage"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/quota"
	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/internal/webhooks"
	"github.com/hallpass/hallpass/tenants"
)

// Config is everything a server is built from. `hallpass serve` reads it
// from HALLPASS_* variables (cmd/hallpass/config.go); the zero value of
// every field is production's default, so a test sets only what it means
// to change.
type Config struct {
	// NoEvents records no events (internal/events) and so sends no
	// webhooks: the baseline of the events benchmark.
	NoEvents bool
	// PublicURL is the platform's public base URL (HALLPASS_PUBLIC_URL),
	// e.g. "https://auth.example.com": the console lives there, and tenants
	// are reached under it by /t/{slug}/.
	PublicURL string
	// BaseDomain makes tenant hosts {slug}.{BaseDomain}
	// (HALLPASS_BASE_DOMAIN; "localhost" when empty). The platform's own
	// mail comes from no-reply@BaseDomain.
	BaseDomain string
	// TrustedProxies lists the platform's reverse proxies, IPs or CIDRs
	// (HALLPASS_TRUSTED_PROXIES): only their X-Forwarded-* headers count.
	TrustedProxies []string
	// RequestTimeout bounds each request, its Postgres and Redis calls
	// included (server.DefaultRequestTimeout when 0).
	RequestTimeout time.Duration
	// ManageRateLimit is each API key's budget on the management API
	// (HALLPASS_MANAGE_RATE_LIMIT; manage.DefaultRateLimit when zero).
	ManageRateLimit manage.RateLimit
	// HIBPURL is the base of the Pwned Passwords API asked for tenants with
	// HALLPASS_PASSWORD_BREACH_CHECK (HALLPASS_HIBP_URL;
	// passwords.DefaultBreachURL when empty).
	HIBPURL string
	// TenantPendingLimit is how many anonymous states one tenant may hold
	// in Redis at once (HALLPASS_TENANT_PENDING_LIMIT;
	// quota.DefaultPendingCeiling when 0).
	TenantPendingLimit int
	// SessionLocalCache bounds the sessions kept in the process's memory
	// (HALLPASS_SESSION_LOCAL_CACHE; sessions.DefaultLocalCacheEntries
	// when 0, and negative turns the local layer off).
	SessionLocalCache int
	// SocialPrivateNetworks lets tenants' identity providers live on
	// loopback or private addresses
	// (HALLPASS_SOCIAL_ALLOW_PRIVATE_NETWORKS).
	SocialPrivateNetworks bool
	// WebhookPrivateNetworks lets webhook endpoints use http and reach
	// loopback and private addresses
	// (HALLPASS_WEBHOOK_ALLOW_PRIVATE_NETWORKS).
	WebhookPrivateNetworks bool
	// TenantsPerUser is how many tenants a console user who is not a
	// platform admin may create (HALLPASS_CONSOLE_TENANTS_PER_USER; 0
	// leaves tenant creation to platform admins).
	TenantsPerUser int
	// Retention of sent mail, of mail never sent and of audit events
	// (HALLPASS_OUTBOX_RETENTION, HALLPASS_OUTBOX_UNSENT_RETENTION,
	// HALLPASS_AUDIT_RETENTION); 0 keeps the janitor's defaults.
	SentMailRetention, UnsentMailRetention, AuditRetention time.Duration
	// MailSender delivers the outbox (HALLPASS_SMTP_URL's sender); nil keeps
	// mail in the dev inbox, which the console then shows.
	MailSender mail.Sender
	// TenantCacheTTL bounds how long a node serves a tenant's settings if
	// it missed their invalidation (DefaultTenantCacheTTL when 0).
	TenantCacheTTL time.Duration
	// BenchCeiling adds the raw GET /bench/ceiling route the load generator
	// measures against (HALLPASS_BENCH_CEILING=1; never in production).
	BenchCeiling bool

	// Options for tests; production leaves them zero.

	// SessionCacheNamespace separates clusters of nodes sharing one Redis
	// (each test server is a cluster of its own).
	SessionCacheNamespace string
	// LimiterTimeout is how long the rate limiter waits for Redis before it
	// counts in memory (ratelimit's default when 0); a loaded test machine
	// needs longer so that exact counts stay exact.
	LimiterTimeout time.Duration
	// PasswordHasher replaces passwords.DefaultHasher for new
	// passwords and the console's timing dummy (cheap tests).
	PasswordHasher *passwords.Hasher
	// SocialEndpoints point providers, by provider id, at stand-ins; the map
	// is the server's own, so a test may add to it before its first
	// provider request.
	SocialEndpoints map[string]social.Endpoints
	// Webhooks tunes the webhook delivery (webhooks' defaults when zero):
	// tests retry within moments, the fault suite rescues a dead node's
	// deliveries within seconds. Its Pool, Sealer, URLs, Outbox, MailFrom,
	// ConsoleURL and Log are set by Build; an empty Queue is "webhooks",
	// or one of its own per SessionCacheNamespace.
	Webhooks webhooks.Config
	// MailPollInterval and MailBackoffBase tune the outbox worker (mail's
	// defaults when 0): tests want their mail within a fraction of a second.
	MailPollInterval, MailBackoffBase time.Duration
}

// DefaultTenantCacheTTL is Config.TenantCacheTTL's default: the longest a
// node keeps a tenant's settings when it missed their pub/sub invalidation.
const DefaultTenantCacheTTL = 30 * time.Second

// busReadyWait is how long Build waits for the tenant bus's first
// subscription before it goes on without (a slow Redis at boot).
const busReadyWait = 3 * time.Second

func (c Config) withDefaults() Config {
	if c.BaseDomain == "" {
		c.BaseDomain = "localhost"
	}
	if c.HIBPURL == "" {
		c.HIBPURL = passwords.DefaultBreachURL
	}
	if c.TenantPendingLimit <= 0 {
		c.TenantPendingLimit = quota.DefaultPendingCeiling
	}
	if c.SessionLocalCache == 0 {
		c.SessionLocalCache = sessions.DefaultLocalCacheEntries
	}
	if c.TenantCacheTTL <= 0 {
		c.TenantCacheTTL = DefaultTenantCacheTTL
	}
	return c
}

// Deps are the process's connections and secrets the server is built on;
// the caller opens them before Build and closes them after Server.Close.
type Deps struct {
	// Pool is the Postgres pool (PoolConfig's settings in production).
	Pool *pgxpool.Pool
	// Redis is the Redis client (RedisOptions' settings in production).
	Redis *redis.Client
	// Sealer seals secrets at rest under the master key.
	Sealer *seal.Sealer
	// Log receives the server's logs (slog.Default when nil).
	Log *slog.Logger
	// Bus carries tenant changes between nodes (a bus on
	// tenants.DefaultChannel over Redis when nil).
	Bus *tenants.Bus
}
