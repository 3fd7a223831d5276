package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"runtime/debug"
	"time"

	"github.com/hallpass/hallpass/internal/assembly"
	"github.com/hallpass/hallpass/internal/mail"
)

func (c *cli) serve(ctx context.Context) error {
	tuneGC(os.Getenv)
	d, err := c.connect(ctx, true)
	if err != nil {
		return err
	}
	defer d.close()
	cfg, err := c.assemblyConfig(d)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", c.cfg.Listen, err)
	}
	srv, err := assembly.Build(ctx, cfg, assembly.Deps{Pool: d.pool, Redis: d.redis, Sealer: d.sealer, Log: d.log, Bus: d.bus})
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer srv.Close()
	stopAdmin, err := c.startAdmin(d)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer stopAdmin()
	srv.Start()
	d.log.Info("hallpass serving", "listen", ln.Addr().String(), "public_url", c.cfg.PublicURL, "base_domain", c.cfg.BaseDomain)
	return srv.Serve(ctx, ln, 25*time.Second)
}

// assemblyConfig is the server's configuration as the environment gives it:
// the outbox goes over SMTP, or into the dev inbox (logged) when
// HALLPASS_SMTP_URL is unset.
func (c *cli) assemblyConfig(d *deps) (assembly.Config, error) {
	cfg := assembly.Config{
		PublicURL:              c.cfg.PublicURL,
		BaseDomain:             c.cfg.BaseDomain,
		TrustedProxies:         c.cfg.TrustedProxies,
		HIBPURL:                c.cfg.HIBPURL,
		TenantPendingLimit:     c.cfg.TenantPendingLimit,
		SessionLocalCache:      c.cfg.SessionLocalCache,
		SocialPrivateNetworks:  c.cfg.SocialPrivateNetworks,
		WebhookPrivateNetworks: c.cfg.WebhookPrivateNetworks,
		TenantsPerUser:         c.cfg.TenantsPerUser,
		SentMailRetention:      c.cfg.SentMailRetention,
		UnsentMailRetention:    c.cfg.UnsentMailRetention,
		AuditRetention:         c.cfg.AuditRetention,
		RequestTimeout:         c.cfg.RequestTimeout,
		ManageRateLimit:        c.cfg.ManageRateLimit,
		BenchCeiling:           benchCeilingEnabled(),
	}
	if cfg.SessionLocalCache == 0 {
		cfg.SessionLocalCache = -1 // HALLPASS_SESSION_LOCAL_CACHE=0: off
	}
	if c.cfg.SMTPURL == "" {
		d.log.Info("HALLPASS_SMTP_URL unset: mail goes to the dev inbox and the log")
		return cfg, nil
	}
	s, err := mail.NewSMTPSender(c.cfg.SMTPURL)
	if err != nil {
		return cfg, fmt.Errorf("HALLPASS_SMTP_URL: %w", err)
	}
	cfg.MailSender = s
	return cfg, nil
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
