package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/tenants"
)

// demoSettings configure the demo tenant like allauth's React SPA example:
// email login, mandatory verification, both clients.
const demoSettings = `{
  "ACCOUNT_LOGIN_METHODS": ["email"],
  "ACCOUNT_SIGNUP_FIELDS": ["email*", "password1*"],
  "ACCOUNT_EMAIL_VERIFICATION": "mandatory",
  "ACCOUNT_LOGIN_BY_CODE_ENABLED": true,
  "MFA_SUPPORTED_TYPES": ["totp", "recovery_codes", "webauthn"],
  "MFA_PASSKEY_LOGIN_ENABLED": true,
  "HEADLESS_FRONTEND_URLS": {
    "account_confirm_email": "http://localhost:3000/account/verify-email/{key}",
    "account_reset_password": "http://localhost:3000/account/password/reset",
    "account_reset_password_from_key": "http://localhost:3000/account/password/reset/key/{key}",
    "account_signup": "http://localhost:3000/account/signup"
  }
}`

// demoAdminEmail is the platform admin `make run` creates.
const demoAdminEmail = "admin@hallpass.localhost"

// demo seeds the demo tenant and a platform admin if missing, and prints how
// to reach them. Running it again changes nothing.
func (c *cli) demo(ctx context.Context) error {
	d, err := c.connect(ctx, false)
	if err != nil {
		return err
	}
	defer d.close()
	if _, err := d.store.Get(ctx, "demo"); errors.Is(err, tenants.ErrNotFound) {
		if _, err := d.store.Create(ctx, tenants.CreateInput{Slug: "demo", Name: "Demo", Settings: []byte(demoSettings)}, "demo-seed"); err != nil {
			return fmt.Errorf("seed demo tenant: %w", err)
		}
		fmt.Fprintln(c.stdout, "created tenant demo")
	} else if err != nil {
		return err
	}
	users := console.NewUsers(d.pool)
	n, err := users.CountPlatformAdmins(ctx)
	if err != nil {
		return err
	}
	if n == 0 {
		user, password, err := createAdmin(ctx, users, demoAdminEmail, "")
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "\nplatform admin: %s\npassword:       %s\n(shown once; only its argon2id hash is stored)\n", user.Email, password)
	} else {
		fmt.Fprintf(c.stdout, "platform admin exists (%d); its password was shown when it was created\n", n)
	}
	base := c.cfg.PublicURL + "/t/demo"
	fmt.Fprintf(c.stdout, "\ndemo tenant API (app client):     %s/_allauth/app/v1/\n", base)
	fmt.Fprintf(c.stdout, "demo tenant API (browser client): %s/_allauth/browser/v1/\n", base)
	fmt.Fprintf(c.stdout, "try:  curl -s %s/_allauth/app/v1/config\n\n", base)
	return nil
}
