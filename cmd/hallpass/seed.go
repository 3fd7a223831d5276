package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/seed"
	"github.com/hallpass/hallpass/tenants"
)

// seed bulk-loads synthetic tenants and users with COPY (see internal/seed),
// for load tests at realistic table sizes:
//
//	hallpass seed --tenants 10000 --users 1000000 [--password PW] [--settings FILE|-]
//
// It replaces the tenants whose slug starts with --prefix (and everything
// they own); other tenants are untouched. Every user gets the same password
// (hashed once, with the server's default hasher).
func (c *cli) seed(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	prefix := fs.String("prefix", "seed-", "slug prefix of the seeded tenants ({prefix}00000, …); existing ones are replaced")
	nTenants := fs.Int("tenants", 100, fmt.Sprintf("tenants to create (1..%d)", seed.MaxTenants))
	nUsers := fs.Int("users", 10_000, fmt.Sprintf("users, spread evenly over the tenants (0..%d); user j of tenant T is u{j}@T.test", seed.MaxUsers))
	sessions := fs.Int("sessions-per-user", 1, "authenticated sessions per user (0..10; random tokens nobody holds)")
	password := fs.String("password", "seed-password", "every user's password")
	settingsPath := fs.String("settings", "", "settings JSON file for every seeded tenant, or - for standard input (default {})")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("seed: unexpected argument %q", fs.Arg(0)))
	}
	settings := []byte(`{}`)
	if *settingsPath != "" {
		var err error
		if settings, err = c.readInput(*settingsPath); err != nil {
			return err
		}
	}
	if _, err := tenants.ParseSettings(settings); err != nil {
		return explainSettings(err)
	}
	if err := tenants.ValidateSlug(seed.Slug(*prefix, *nTenants-1)); err != nil && *nTenants >= 1 {
		return usageError(fmt.Sprintf("seed: --prefix %q: %v", *prefix, err))
	}
	hash, err := passwords.DefaultHasher().Hash(*password)
	if err != nil {
		return err
	}
	d, err := c.connect(ctx, false)
	if err != nil {
		return err
	}
	defer d.close()
	st, err := seed.Load(ctx, d.pool, seed.Options{Prefix: *prefix, Tenants: *nTenants, Users: *nUsers,
		SessionsPerUser: *sessions, Settings: settings, PasswordHash: hash})
	if err != nil {
		return err
	}
	return c.printJSON(map[string]any{"tenants": st.Tenants, "users": st.Users, "sessions": st.Sessions,
		"seconds": st.Took.Round(time.Millisecond).Seconds(), "first_tenant": seed.Slug(*prefix, 0),
		"first_user": seed.Email(seed.Slug(*prefix, 0), 0)})
}
