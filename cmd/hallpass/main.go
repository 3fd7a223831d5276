// Command hallpass runs the Hallpass server and manages it: serve, migrate,
// tenants, platform admins, API keys. It reads its configuration from HALLPASS_*
// environment variables.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `hallpass — multi-tenant authentication platform (django-allauth headless API)

Usage:
  hallpass serve                                  run the API and console
  hallpass migrate                                apply database migrations
  hallpass demo                                   seed the demo tenant and a platform admin (idempotent)
  hallpass tenant create SLUG [--name NAME] [--settings FILE|- | --from-django-settings FILE|-]
  hallpass tenant update SLUG --settings FILE|-   merge keys into the tenant's settings (null removes a key)
  hallpass tenant get SLUG
  hallpass tenant list
  hallpass admin create EMAIL [--password-stdin]  create a platform admin (password printed once)
  hallpass keys list SLUG                         the tenant's JWT signing keys (no private material)
  hallpass keys rotate SLUG [--alg ALG] [--publish-delay 5m]  publish a new key; it signs after the delay
  hallpass keys retire SLUG KID                   stop signing with a key (it stays in the JWKS until its tokens expire)
  hallpass apikey create (--tenant SLUG | --platform) --scopes S1,S2 [--name N] [--expires 90d|720h|2027-01-01] [--json]
                                                  mint a management API key; the secret alone on stdout's first line
  hallpass apikey list [--tenant SLUG | --platform]  API keys (never their secrets)
  hallpass apikey revoke ID                       revoke an API key; every running node refuses it when this returns
  hallpass routes                                 the headless route catalog as JSON (each route and the settings that enable it)
  hallpass keys reseal                            re-seal every signing key under the current HALLPASS_MASTER_KEY
  hallpass import django --tenant SLUG --source DSN [--user-table auth_user] [--dry-run] [--batch 5000]
                                                  import a Django allauth project's users (JSON report on stdout)
  hallpass export --tenant SLUG --passphrase-file F [--out FILE] [--settings-secrets omit|sealed]
                                                  the tenant's settings and users as JSON Lines (docs/EXPORT.md)
  hallpass import hallpass --tenant SLUG FILE --passphrase-file F [--batch N] [--settings apply|skip]
                                                  restore an export into a tenant (verified whole first)
  hallpass seed [--tenants N] [--users N] [--settings FILE|-]  bulk-load synthetic tenants and users (COPY), for load tests

Configuration: HALLPASS_* environment variables (see README.md).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr))
}

// run executes one CLI invocation and returns the process exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "hallpass:", err)
		return 2
	}
	cli := &cli{cfg: cfg, stdin: stdin, stdout: stdout, stderr: stderr}
	var cmdErr error
	switch args[0] {
	case "serve":
		cmdErr = cli.serve(ctx)
	case "migrate":
		cmdErr = cli.migrate(ctx)
	case "demo":
		cmdErr = cli.demo(ctx)
	case "tenant":
		cmdErr = cli.tenant(ctx, args[1:])
	case "admin":
		cmdErr = cli.admin(ctx, args[1:])
	case "keys":
		cmdErr = cli.keys(ctx, args[1:])
	case "apikey":
		cmdErr = cli.apikey(ctx, args[1:])
	case "routes":
		cmdErr = cli.routes()
	case "seed":
		cmdErr = cli.seed(ctx, args[1:])
	case "export":
		cmdErr = cli.export(ctx, args[1:])
	case "import":
		if len(args) > 1 && args[1] == "hallpass" {
			cmdErr = cli.importHallpass(ctx, args[2:])
		} else {
			cmdErr = cli.importCmd(ctx, args[1:])
		}
	default:
		fmt.Fprintf(stderr, "hallpass: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if cmdErr != nil {
		fmt.Fprintln(stderr, "hallpass:", cmdErr)
		if _, ok := cmdErr.(usageError); ok {
			return 2
		}
		return 1
	}
	return 0
}

// usageError is a mistake in the command line (exit code 2).
type usageError string

func (e usageError) Error() string { return string(e) }

// cli carries one invocation's configuration and streams.
type cli struct {
	cfg    config
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}
