package main

import (
	"context"
	"fmt"

	"github.com/hallpass/hallpass/migrations"
)

func (c *cli) migrate(ctx context.Context) error {
	if err := c.cfg.require("HALLPASS_DATABASE_URL"); err != nil {
		return err
	}
	applied, err := migrations.Up(ctx, c.cfg.DatabaseURL)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(c.stdout, "migrations: up to date")
	}
	for _, m := range applied {
		fmt.Fprintf(c.stdout, "migrations: applied %d (%s)\n", m.Version, m.Source)
	}
	return nil
}
