package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"time"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/api/mfa"
	"github.com/hallpass/hallpass/api/server"
	apisocial "github.com/hallpass/hallpass/api/social"
	"github.com/hallpass/hallpass/api/tokens"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/mail"
	mfadomain "github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/sessions"
	"github.com/hallpass/hallpass/internal/social"
	tokensdomain "github.com/hallpass/hallpass/internal/tokens"
	"github.com/hallpass/hallpass/tenants"
	"github.com/hallpass/hallpass/web"
)

// tenantCacheTTL bounds staleness if a node misses a pub/sub invalidation.
const tenantCacheTTL = 30 * time.Second

func (c *cli) serve(ctx context.Context) error {
	tuneGC(os.Getenv)
	d, err := c.connect(ctx, true)
	if err != nil {
		return err
	}
	defer d.close()
	ln, err := net.Listen("tcp", c.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.cfg.Listen, err)
	}
	srv, cancelBus := c.buildServer(ctx, d)
	defer cancelBus()
	stopAdmin, err := c.startAdmin(d)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer stopAdmin()
	worker, err := c.mailWorker(d)
	if err != nil {
		return err
	}
	workerCtx, stopWorker := context.WithCancel(context.WithoutCancel(ctx))
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		if err := worker.Run(workerCtx); err != nil && workerCtx.Err() == nil {
			d.log.Error("mail worker stopped", "err", err)
		}
	}()
	// Expired sessions, long-expired refresh tokens, and mail and audit
	// events past their retention are deleted in the background (one
	// process at a time, by an advisory lock).
	janitorDone := make(chan struct{})
	go func() {
		defer close(janitorDone)
		(&sessions.Janitor{Pool: d.pool, Log: d.log, SentMailRetention: c.cfg.SentMailRetention,
			UnsentMailRetention: c.cfg.UnsentMailRetention, AuditRetention: c.cfg.AuditRetention}).Run(workerCtx)
	}()
	defer func() { stopWorker(); <-workerDone; <-janitorDone }()
	d.log.Info("hallpass serving", "listen", ln.Addr().String(), "public_url", c.cfg.PublicURL, "base_domain", c.cfg.BaseDomain)
	return srv.Serve(ctx, ln, 25*time.Second)
}

// buildServer wires the tenant cache, its invalidation bus, the local
// session cache and the HTTP apps; the returned func stops the first and last.
func (c *cli) buildServer(ctx context.Context, d *deps) (*server.Server, context.CancelFunc) {
	cache := tenants.NewCache(d.store, tenantCacheTTL)
	busCtx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	go d.bus.Run(busCtx, cache, ready)
	select {
	case <-ready:
	case <-time.After(3 * time.Second):
		d.log.Warn("tenant bus not subscribed yet; continuing")
	}
	accounts := identity.NewAccounts(d.pool, d.redis, d.sealer, "no-reply@"+c.cfg.BaseDomain)
	accounts.Breach = passwords.NewBreachChecker(c.cfg.HIBPURL, d.log)
	strategy := &tokensdomain.Strategy{Keys: tenants.NewKeys(d.pool, d.sealer, d.bus), Sealer: d.sealer, Sessions: accounts.Sessions,
		BaseDomain: c.cfg.BaseDomain}
	accounts.Pending.SetCeiling(c.cfg.TenantPendingLimit)
	states := social.NewStateStore(d.redis)
	states.Pending = accounts.Pending
	mfaStore := mfadomain.NewStore(d.pool, d.sealer)
	accounts.MFA = mfaStore
	headless := &api.Headless{Accounts: accounts, Tokens: strategy}
	stopLocal := func() {}
	if c.cfg.SessionLocalCache > 0 {
		stopLocal = accounts.Sessions.StartLocalCache(busCtx, sessions.LocalCacheConfig{MaxEntries: c.cfg.SessionLocalCache})
	}
	srv := server.New(server.Config{
		Resolver: tenants.NewResolver(cache, c.cfg.Addressing),
		Log:      d.log,
		Headless: headless,
		Tokens:   &tokens.Handlers{Strategy: strategy, Headless: headless},
		MFA:      &mfa.Handlers{Headless: headless, Store: mfaStore, Sealer: d.sealer},
		Social: &apisocial.Handlers{Headless: headless, States: states,
			AllowPrivateNetworks: c.cfg.SocialPrivateNetworks},
		TrustedProxies: c.cfg.TrustedProxies,
		BenchCeiling:   benchCeilingEnabled(),
		Ready: []server.Check{
			{Name: "postgres", Ping: d.store.Ping},
			{Name: "redis", Ping: func(ctx context.Context) error { return d.redis.Ping(ctx).Err() }},
		},
	})
	srv.Platform.Get("/static/*", web.Handler())
	if err := c.mountConsole(srv, d); err != nil {
		d.log.Error("console not mounted", "err", err)
	}
	srv.Finish()
	return srv, func() { cancel(); stopLocal() }
}

// mailWorker delivers the outbox over SMTP, or into the dev inbox (logged)
// when HALLPASS_SMTP_URL is unset.
func (c *cli) mailWorker(d *deps) (*mail.Worker, error) {
	var sender mail.Sender
	if c.cfg.SMTPURL == "" {
		d.log.Info("HALLPASS_SMTP_URL unset: mail goes to the dev inbox and the log")
		sender = mail.NewDevInbox(d.pool, d.log)
	} else {
		s, err := mail.NewSMTPSender(c.cfg.SMTPURL)
		if err != nil {
			return nil, fmt.Errorf("HALLPASS_SMTP_URL: %w", err)
		}
		sender = s
	}
	return mail.NewWorker(d.pool, d.sealer, sender, d.log), nil
}

// serveGCPercent is the server's GOGC unless the environment sets one: a
// request allocates little that lives, so trading some heap for half the
// collections keeps p99 low under load (docs/PERFORMANCE.md).
const serveGCPercent = 200

// tuneGC applies serveGCPercent when GOGC is not set.
func tuneGC(getenv func(string) string) {
	if getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
}
