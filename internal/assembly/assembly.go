package assembly

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/api/manage"
	apimfa "github.com/hallpass/hallpass/api/mfa"
	"github.com/hallpass/hallpass/api/server"
	apisocial "github.com/hallpass/hallpass/api/social"
	"github.com/hallpass/hallpass/api/tokens"
	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/events"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/importjobs"
	"github.com/hallpass/hallpass/internal/leasebus"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/portable"
	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/internal/social"
	tokensdomain "github.com/hallpass/hallpass/internal/tokens"
	"github.com/hallpass/hallpass/internal/webhooks"
	"github.com/hallpass/hallpass/tenants"
	"github.com/hallpass/hallpass/web"
	accountpages "github.com/hallpass/hallpass/web/accounts"
	"github.com/hallpass/hallpass/web/accounts/mfapages"
	"github.com/hallpass/hallpass/web/accounts/socialpages"
)

// Server is one assembled node: everything a request reaches, and the
// background work a node does. Build starts what serving needs (the tenant
// bus, the local session cache, the API key cache and its audit writer);
// Start adds the workers; Close stops all of it.
type Server struct {
	// HTTP holds the Fiber apps: HTTP.Platform is the one that listens,
	// with the console mounted; HTTP.Tenant serves each tenant's base.
	HTTP *server.Server
	// Store is the tenants store; its changes reach every node over Bus.
	Store *tenants.Store
	// Cache holds resolved tenants; Bus invalidates it.
	Cache *tenants.Cache
	// Bus carries tenant changes between nodes.
	Bus *tenants.Bus
	// Keys manages the tenants' JWT signing keys, for the API and the
	// console alike.
	Keys *tenants.Keys
	// Accounts runs the account flows, for the API and the console alike:
	// second factors (MFA), connected providers and the breach check wired.
	Accounts *identity.Accounts
	// MFA holds the tenant users' authenticators.
	MFA *mfa.Store
	// Events records what happens to tenant users (internal/events), in
	// the transaction of each change; its Fanout queues the deliveries.
	// nil when Config.NoEvents.
	Events *events.Log
	// Users is the operator's operations on tenant users (disable, delete,
	// end sessions, …), one instance for the console and the management
	// API alike.
	Users *identity.UserAdmin
	// Limiter counts rate limits in Redis (the API's and the console's).
	Limiter *ratelimit.Limiter
	// Tokens is the JWT token strategy.
	Tokens *tokensdomain.Strategy
	// Social serves the provider endpoints and callbacks.
	Social *apisocial.Handlers
	// Pages are the hosted account pages (tenants with HEADLESS_ONLY
	// false), on HTTP.Tenant.
	Pages *accountpages.Pages
	// Console is the management console, mounted on HTTP.Platform.
	Console *console.Console
	// APIKeys holds the management API's keys, with the node's cache of
	// them (revocations reach every node's cache over Redis).
	APIKeys *apikeys.Authenticator
	// Audit writes the events of management API requests in batches, off
	// the requests' path; Close flushes it.
	Audit *audit.Writer
	// Manage is the management API, mounted on HTTP.Platform at /api/v1.
	Manage *manage.API
	// Inbox keeps the mail when there is no MailSender (nil otherwise).
	Inbox *mail.DevInbox
	// Mail is the outbox worker Start runs.
	Mail *mail.Worker
	// Janitor deletes expired sessions and data past retention; Start runs it.
	Janitor *sessions.Janitor
	// Imports runs the management API's bulk user imports; Start runs it.
	Imports *importjobs.Runner
	// Webhooks manages the tenants' webhook endpoints and delivers their
	// events; Start makes this node deliver.
	Webhooks *webhooks.Service

	log        *slog.Logger
	consoleCfg console.Config
	busReady   chan struct{}
	// bg ends the background goroutines; wg waits for them.
	bg        context.Context
	stopBg    context.CancelFunc
	wg        sync.WaitGroup
	stopLocal func()
	stopKeys  func()
	startOnce sync.Once
	closeOnce sync.Once
}

// Build assembles a server from cfg on deps. It starts the tenant bus (and
// waits briefly for its first subscription) and the local session cache;
// the caller runs Start for the workers, serves HTTP.Platform (or Serve),
// and calls Close when done. ctx bounds the build only: the background
// work lasts until Close.
func Build(ctx context.Context, cfg Config, deps Deps) (*Server, error) {
	if deps.Pool == nil || deps.Redis == nil || deps.Sealer == nil {
		return nil, errors.New("assembly: Deps need a Postgres pool, a Redis client and a sealer")
	}
	cfg = cfg.withDefaults()
	addressing, err := tenants.NewAddressing(cfg.PublicURL, cfg.BaseDomain)
	if err != nil {
		return nil, fmt.Errorf("assembly: public URL %q, base domain %q: %w", cfg.PublicURL, cfg.BaseDomain, err)
	}
	log := deps.Log
	if log == nil {
		log = slog.Default()
	}
	pool, rdb, sealer := deps.Pool, deps.Redis, deps.Sealer
	bus := deps.Bus
	if bus == nil {
		bus = tenants.NewBus(rdb, "", log)
	}
	if bus.RetryFor == 0 {
		// A change Redis did not take is retried until no node can hold
		// an older copy.
		bus.RetryFor = cfg.TenantCacheTTL
	}
	mailFrom := "no-reply@" + cfg.BaseDomain

	s := &Server{log: log, Bus: bus, busReady: make(chan struct{})}
	s.Store = tenants.NewStore(pool, sealer, bus)
	s.Cache = tenants.NewCache(s.Store, cfg.TenantCacheTTL)
	s.Keys = tenants.NewKeys(pool, sealer, bus)
	s.Limiter = ratelimit.NewLimiter(rdb)
	if cfg.LimiterTimeout > 0 {
		s.Limiter.SetTimeout(cfg.LimiterTimeout)
	}

	// Webhooks: their endpoints, and the deliveries every event queues in
	// its change's transaction (Events' Fanout).
	whCfg := cfg.Webhooks
	whCfg.Pool, whCfg.Sealer, whCfg.Log = pool, sealer, log
	whCfg.URLs = webhooks.URLPolicy{AllowPrivate: cfg.WebhookPrivateNetworks}
	whCfg.Outbox, whCfg.MailFrom, whCfg.ConsoleURL = mail.NewOutbox(sealer), mailFrom, strings.TrimSuffix(cfg.PublicURL, "/")
	// The owners mailed when an endpoint is disabled are the console's
	// (the console is built below; this runs at delivery time).
	whCfg.Owners = func(ctx context.Context, tenantID uuid.UUID) ([]string, error) {
		members, err := s.Console.Users().Members(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		var out []string
		for _, m := range members {
			if m.Role == console.RoleOwner {
				out = append(out, m.Email)
			}
		}
		return out, nil
	}
	if whCfg.Queue == "" && cfg.SessionCacheNamespace != "" {
		// Test servers sharing one database each work their own queue.
		whCfg.Queue = webhookQueue(cfg.SessionCacheNamespace)
	}
	if s.Webhooks, err = webhooks.New(whCfg); err != nil {
		return nil, err
	}

	// The domain: one Accounts, with every collaborator production has.
	accounts := identity.NewAccounts(pool, rdb, sealer, mailFrom)
	accounts.Limiter = s.Limiter
	accounts.Breach = passwords.NewBreachChecker(cfg.HIBPURL, log)
	accounts.Pending.SetCeiling(cfg.TenantPendingLimit)
	if cfg.PasswordHasher != nil {
		accounts.Hasher = *cfg.PasswordHasher
	}
	s.MFA = mfa.NewStore(pool, sealer)
	accounts.MFA = s.MFA
	s.Accounts = accounts
	if !cfg.NoEvents {
		// Webhooks is the log's Fanout: each event's deliveries are
		// queued in its change's transaction.
		s.Events = &events.Log{Fanout: s.Webhooks}
		accounts.SetEvents(s.Events, s.Store.GetByID)
		s.MFA.Events = accounts.UserEvent
	}
	s.Users = identity.NewUserAdmin(accounts, s.MFA.RemoveAll)
	s.Tokens = &tokensdomain.Strategy{Keys: s.Keys, Sealer: sealer, Sessions: accounts.Sessions, BaseDomain: cfg.BaseDomain,
		Claims: func(ctx context.Context, t *tenants.Tenant, userID int64) (map[string]any, error) {
			claims, err := accounts.Profiles.Claims(ctx, t, userID)
			if errors.Is(err, identity.ErrUserNotFound) {
				return nil, nil // the session goes with the user: the token is refused
			}
			return claims, err
		}}

	// The HTTP apps: the headless API on the tenant app, the console and
	// the static assets on the platform app.
	headless := &api.Headless{Accounts: accounts, Tokens: s.Tokens}
	states := social.NewStateStore(rdb)
	states.Pending = accounts.Pending
	s.Social = &apisocial.Handlers{Headless: headless, States: states, AllowPrivateNetworks: cfg.SocialPrivateNetworks,
		Endpoints: cfg.SocialEndpoints, Cache: social.NewCache()}
	s.Pages = &accountpages.Pages{Accounts: accounts, Log: log, Branding: accountpages.SettingsBranding,
		Modules: []accountpages.Module{&mfapages.Pages{Store: s.MFA, Sealer: sealer}, &socialpages.Pages{}}}
	s.HTTP = server.New(server.Config{
		Resolver:       tenants.NewResolver(s.Cache, addressing),
		Log:            log,
		Headless:       headless,
		Tokens:         &tokens.Handlers{Strategy: s.Tokens, Headless: headless},
		MFA:            &apimfa.Handlers{Headless: headless, Store: s.MFA, Sealer: sealer},
		Social:         s.Social,
		Pages:          s.Pages,
		TrustedProxies: cfg.TrustedProxies,
		RequestTimeout: cfg.RequestTimeout,
		BenchCeiling:   cfg.BenchCeiling,
		Ready: []server.Check{
			{Name: "postgres", Ping: s.Store.Ping},
			{Name: "redis", Ping: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }},
		},
	})
	s.HTTP.Platform.Get("/static/*", web.Handler())

	s.APIKeys = apikeys.NewAuthenticator(apikeys.NewStore(pool), apikeys.AuthenticatorConfig{
		Bus: leasebus.New(rdb, "apikeys", leasebus.Config{Namespace: cfg.SessionCacheNamespace}), Log: log})
	sender := cfg.MailSender
	if sender == nil {
		s.Inbox = mail.NewDevInbox(pool, log)
		sender = s.Inbox
	}
	s.consoleCfg = console.Config{
		Pool:           pool,
		Store:          s.Store,
		Sealer:         sealer,
		Keys:           s.Keys,
		APIKeys:        s.APIKeys,
		Inbox:          s.Inbox,
		Accounts:       accounts,
		MFA:            s.MFA,
		Users:          s.Users,
		Outbox:         mail.NewOutbox(sealer),
		Webhooks:       s.Webhooks,
		MailFrom:       mailFrom,
		PublicURL:      strings.TrimSuffix(cfg.PublicURL, "/"),
		BaseDomain:     cfg.BaseDomain,
		TenantsPerUser: cfg.TenantsPerUser,
		Limiter:        s.Limiter,
		Hasher:         cfg.PasswordHasher,
		Log:            log,
	}
	if s.Console, err = console.New(s.consoleCfg); err != nil {
		return nil, err
	}
	s.Console.Mount(s.HTTP.Platform)
	s.Audit = audit.NewWriter(pool, log)
	importStore := importjobs.NewStore(pool, sealer)
	s.Imports = &importjobs.Runner{Store: importStore, Tenants: s.Store, Writer: portable.NewWriter(pool, sealer), Log: log}
	s.Manage = manage.New(manage.Config{Keys: s.APIKeys, Tenants: s.Cache, Store: s.Store,
		CursorKey: sealer.DeriveKey("manage-cursor"), Log: log, Limiter: s.Limiter, RateLimit: cfg.ManageRateLimit, Redis: rdb, Sealer: sealer,
		SigningKeys: s.Keys, Pool: pool, Addressing: addressing, Audit: s.Audit,
		Users: s.Users, MFA: s.MFA, PublicURL: strings.TrimSuffix(cfg.PublicURL, "/"), Imports: importStore, Webhooks: s.Webhooks})
	s.Manage.Mount(s.HTTP.Platform)
	s.HTTP.ErrorsUnder(manage.Prefix, s.Manage.ErrorHandler())
	s.HTTP.Finish()

	s.Mail = mail.NewWorker(pool, sealer, sender, log)
	s.Mail.PollInterval, s.Mail.BackoffBase = cfg.MailPollInterval, cfg.MailBackoffBase
	s.Janitor = &sessions.Janitor{Pool: pool, Log: log, SentMailRetention: cfg.SentMailRetention,
		UnsentMailRetention: cfg.UnsentMailRetention, AuditRetention: cfg.AuditRetention}

	// Serving needs the tenant bus (settings changed on another node) and
	// the local session cache (its invalidations).
	s.bg, s.stopBg = context.WithCancel(context.WithoutCancel(ctx))
	s.goBg(func(ctx context.Context) { bus.Run(ctx, s.Cache, s.busReady) })
	select {
	case <-s.busReady:
	case <-time.After(busReadyWait):
		log.Warn("tenant bus not subscribed yet; continuing")
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	}
	s.Audit.Start(s.bg)
	s.stopKeys = s.APIKeys.Start(s.bg)
	s.stopLocal = func() {}
	if cfg.SessionLocalCache > 0 {
		s.stopLocal = accounts.Sessions.StartLocalCache(s.bg, sessions.LocalCacheConfig{
			MaxEntries: cfg.SessionLocalCache, Namespace: cfg.SessionCacheNamespace})
	} else if cfg.SessionCacheNamespace != "" {
		accounts.Sessions.SetLocalNamespace(cfg.SessionCacheNamespace)
	}
	return s, nil
}

// goBg runs f in the background until Close.
func (s *Server) goBg(f func(ctx context.Context)) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f(s.bg)
	}()
}

// Start runs the workers: the outbox worker, which sends the mail every
// node's requests queue, and the janitor, which deletes expired sessions
// and data past retention (one process at a time, by an advisory lock).
// Calls after the first do nothing.
func (s *Server) Start() {
	s.startOnce.Do(func() {
		s.goBg(func(ctx context.Context) {
			if err := s.Mail.Run(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("mail worker stopped", "err", err)
			}
		})
		s.goBg(s.Janitor.Run)
		s.goBg(s.Imports.Run)
		// Close stops the delivery itself, gracefully, before the rest.
		if err := s.Webhooks.Start(context.WithoutCancel(s.bg)); err != nil {
			s.log.Error("webhook delivery not started", "err", err)
		}
	})
}

// webhookQueue is the River queue of a cluster named namespace.
func webhookQueue(namespace string) string {
	sum := sha256.Sum256([]byte(namespace))
	return "webhooks_" + hex.EncodeToString(sum[:8])
}

// BusReady is closed once the tenant bus's first subscription is confirmed:
// from then on this node hears of every tenant change.
func (s *Server) BusReady() <-chan struct{} { return s.busReady }

// ConsoleConfig is the configuration the console was built with, for tests
// that build a console of their own on this server's collaborators.
func (s *Server) ConsoleConfig() console.Config { return s.consoleCfg }

// Serve accepts connections on ln until ctx ends, then stops accepting and
// waits up to grace for requests in flight (server.Server.Serve).
func (s *Server) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	return s.HTTP.Serve(ctx, ln, grace)
}

// Close stops the background work Build and Start began (the tenant bus,
// the local session cache, the API key cache, the workers) and waits for
// it, then writes the key uses and audit events still queued. It leaves Deps
// open and does not stop serving: Serve's context does that.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		// Deliveries in flight finish (their attempts are logged) within
		// a few seconds, else are cancelled and retried by another node.
		stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := s.Webhooks.Stop(stopCtx); err != nil {
			s.log.Warn("webhook delivery stop", "err", err)
		}
		cancel()
		s.stopBg()
		if s.stopLocal != nil {
			s.stopLocal()
		}
		if s.stopKeys != nil {
			s.stopKeys()
		}
		s.wg.Wait()
		// Uses and audit events still queued are written before the
		// caller closes the pool.
		s.Audit.Close()
	})
}
