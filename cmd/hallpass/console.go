package main

import (
	"github.com/hallpass/hallpass/api/server"
	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/internal/ratelimit"
	"github.com/hallpass/hallpass/tenants"
)

// mountConsole serves the management console at /console/ on the platform
// host. Call it in buildServer before srv.Finish().
func (c *cli) mountConsole(srv *server.Server, d *deps) error {
	var inbox *mail.DevInbox
	if c.cfg.SMTPURL == "" {
		inbox = mail.NewDevInbox(d.pool, d.log)
	}
	from := "no-reply@" + c.cfg.BaseDomain
	// serve requires Redis, so both are set there; without Redis the users
	// pages hide.
	var accounts *identity.Accounts
	var limiter *ratelimit.Limiter
	if d.redis != nil {
		accounts = identity.NewAccounts(d.pool, d.redis, d.sealer, from)
		limiter = ratelimit.NewLimiter(d.redis)
	}
	con, err := console.New(console.Config{
		Pool:       d.pool,
		Store:      d.store,
		Sealer:     d.sealer,
		Keys:       tenants.NewKeys(d.pool, d.sealer, d.bus),
		Inbox:      inbox,
		Accounts:   accounts,
		Outbox:     mail.NewOutbox(d.sealer),
		MailFrom:   from,
		PublicURL:  c.cfg.PublicURL,
		BaseDomain: c.cfg.BaseDomain,
		Limiter:    limiter,
		Log:        d.log,
		// Who may create tenants: platform admins, and others up to this many.
		TenantsPerUser: c.cfg.TenantsPerUser,
	})
	if err != nil {
		return err
	}
	con.Mount(srv.Platform)
	return nil
}
