package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/hallpass/hallpass/console"
	"github.com/hallpass/hallpass/internal/passwords"
	"github.com/hallpass/hallpass/internal/testenv"
)

// A console user adds a passkey in Chromium (a virtual authenticator stands
// in for the device's, through web/static/webauthn.js), signs in with it
// alone from the sign-in page, and then uses it as the second step after the
// password. The console is reached as localhost: WebAuthn needs a domain.
func TestConsolePasskeyEndToEnd(t *testing.T) {
	p := startPlatform(t, "localhost")
	b := startBrowser(t, testenv.Chromium(t), artifactsDir(t))

	email := testenv.Slug("e2e-passkey") + "@example.com"
	const password = "e2e passkey horse battery"
	hash, err := passwords.DefaultHasher().Hash(password)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := console.NewUsers(testenv.Pool(t)).CreatePlatformAdmin(context.Background(), email, hash, "e2e"); err != nil {
		t.Fatal(err)
	}
	signOut := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](`document.querySelector('[data-testid="sign-out"]').click()`)(ctx, tg)
		return err
	})

	b.run("add a virtual authenticator", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, webauthn.Enable, webauthn.EnableParams{}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
			Options: &webauthn.VirtualAuthenticatorOptions{Protocol: webauthn.AuthenticatorProtocolCtap2,
				Ctap2version: webauthn.Ctap2versionCtap21, Transport: webauthn.AuthenticatorTransportInternal,
				HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true}})
		return err
	}))
	b.run("sign in with the password",
		chromedp.Navigate(p.URL+"/console/login"),
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-tenant"]`)),
	)
	var table string
	b.run("add a passkey",
		chromedp.Navigate(p.URL+"/console/account/security"),
		chromedp.WaitVisible(chromedp.CSS(`#reauth-password`)),
		b.shot("passkey-01-security"),
		chromedp.SendKeys(chromedp.CSS(`#reauth-password`), password),
		chromedp.Submit(chromedp.CSS(`#reauth-password`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="webauthn-register"]`)),
		chromedp.SendKeys(chromedp.CSS(`#passkey-name`), "E2E key"),
		chromedp.Click(chromedp.CSS(`[data-testid="webauthn-register"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#recovery-codes`)),
		b.shot("passkey-02-recovery-codes"),
		chromedp.Navigate(p.URL+"/console/account/security"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="passkeys-table"]`)),
		textInto(chromedp.CSS(`[data-testid="passkeys-table"]`), &table),
		b.shot("passkey-03-listed"),
	)
	if !strings.Contains(table, "E2E key") {
		t.Fatalf("passkeys table: %q", table)
	}
	b.run("sign in with the passkey alone",
		signOut,
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="webauthn-login"]`)),
		b.shot("passkey-04-sign-in"),
		chromedp.Click(chromedp.CSS(`[data-testid="webauthn-login"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-tenant"]`)),
	)
	b.run("password, then the passkey as the second step",
		signOut,
		chromedp.WaitVisible(chromedp.CSS(`#email`)),
		chromedp.SendKeys(chromedp.CSS(`#email`), email),
		chromedp.SendKeys(chromedp.CSS(`#password`), password),
		chromedp.Submit(chromedp.CSS(`#password`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="webauthn-login"]`)),
		b.shot("passkey-05-second-step"),
		chromedp.Click(chromedp.CSS(`[data-testid="webauthn-login"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-tenant"]`)),
	)
}
