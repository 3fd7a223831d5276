package main

import (
	"github.com/hallpass/hallpass/api/server"
	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/mail"
	"github.com/hallpass/hallpass/tenants"
)

// mountConsole serves the management console at /console/ on the platform
// host. Call it in buildServer before srv.Finish().
func (c *cli) mountConsole(srv *server.Server, d *deps) error {
	var inbox *mail.DevInbox
	if c.cfg.SMTPURL == "" {
		inbox = mail.NewDevInbox(d.pool, d.log)
	}
	con, err := console.New(console.Config{
		Pool:       d.pool,
		Store:      d.store,
		Keys:       tenants.NewKeys(d.pool, d.sealer, d.bus),
		Inbox:      inbox,
		PublicURL:  c.cfg.PublicURL,
		BaseDomain: c.cfg.BaseDomain,
		Log:        d.log,
	})
	if err != nil {
		return err
	}
	con.Mount(srv.Platform)
	return nil
}
