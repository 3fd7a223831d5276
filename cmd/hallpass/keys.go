package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/hallpass/hallpass/tenants"
)

// keysUsage lists the keys subcommands, for usage errors.
const keysUsage = `keys: want one of
  keys list SLUG
  keys rotate SLUG [--alg ALG] [--publish-delay DURATION]
  keys retire SLUG KID
  keys reseal`

// defaultPublishDelay is how long a rotated-in key is published before it
// signs: the lifetime verifiers are expected to cache a JWKS for.
const defaultPublishDelay = 5 * time.Minute

// keys manages a tenant's JWT signing keys: list, rotate, retire; and reseal
// re-seals every tenant's private keys after a master-key rotation.
func (c *cli) keys(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError(keysUsage)
	}
	sub := args[0]
	fs := flag.NewFlagSet("keys "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	alg := fs.String("alg", "", "algorithm of the new key (default: the tenant's HEADLESS_JWT_ALGORITHM)")
	delay := fs.Duration("publish-delay", defaultPublishDelay, "how long the new key is published before it signs")
	// Positional arguments may come before or after the flags.
	var pos []string
	rest := args[1:]
	if sub == "retire" {
		// retire takes no flags, and a key id may itself start with "-"
		// (base64url): its two arguments are positional, whatever they hold.
		k := min(2, len(rest))
		pos, rest = append(pos, rest[:k]...), rest[k:]
	}
	for len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		pos, rest = append(pos, rest[0]), rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return usageError(err.Error())
	}
	pos = append(pos, fs.Args()...)
	want := map[string]int{"list": 1, "rotate": 1, "retire": 2, "reseal": 0}
	n, ok := want[sub]
	if !ok {
		return usageError(fmt.Sprintf("keys: unknown subcommand %q\n%s", sub, keysUsage))
	}
	if len(pos) < n {
		missing := "SLUG"
		switch {
		case sub == "retire" && len(pos) == 1:
			missing = "KID"
		case sub == "retire":
			missing = "SLUG and KID"
		}
		return usageError(fmt.Sprintf("keys %s: %s is required", sub, missing))
	}
	if len(pos) > n {
		return usageError(fmt.Sprintf("keys %s: unexpected argument %q", sub, pos[n]))
	}
	var flagErr error
	fs.Visit(func(f *flag.Flag) {
		if sub != "rotate" {
			flagErr = usageError(fmt.Sprintf("keys %s: --%s applies to rotate only", sub, f.Name))
		}
	})
	if flagErr != nil {
		return flagErr
	}
	if *delay < 0 {
		return usageError("keys rotate: --publish-delay must not be negative")
	}

	d, err := c.connect(ctx, false)
	if err != nil {
		return err
	}
	defer d.close()
	var pub tenants.Publisher
	if d.bus != nil {
		pub = d.bus
	}
	keys := tenants.NewKeys(d.pool, d.sealer, pub)
	const actor = "cli"
	if sub == "reseal" {
		n, err := keys.Reseal(ctx)
		if perr := c.printJSON(map[string]any{"resealed": n}); perr != nil {
			return perr
		}
		return err
	}
	t, err := d.store.Get(ctx, pos[0])
	if err != nil {
		return notFound(err, pos[0])
	}
	switch sub {
	case "list":
		list, err := keys.List(ctx, t)
		if err != nil {
			return err
		}
		out := make([]map[string]any, 0, len(list))
		for _, k := range list {
			out = append(out, keyJSON(k))
		}
		return c.printJSON(out)
	case "rotate":
		k, err := keys.Rotate(ctx, t, *alg, *delay, actor)
		if err != nil {
			return err
		}
		return c.printJSON(keyJSON(k))
	case "retire":
		if err := keys.Retire(ctx, t, pos[1], actor); err != nil {
			if errors.Is(err, tenants.ErrKeyNotFound) {
				return fmt.Errorf("tenant %q has no signing key %q", t.Slug, pos[1])
			}
			return err
		}
		list, err := keys.List(ctx, t)
		if err != nil {
			return err
		}
		for _, k := range list {
			if k.Kid == pos[1] {
				return c.printJSON(keyJSON(k))
			}
		}
		return nil
	}
	return nil
}

// keyJSON is the CLI's view of a signing key: metadata only, never key material.
func keyJSON(k *tenants.SigningKey) map[string]any {
	ts := func(t *time.Time) any {
		if t == nil {
			return nil
		}
		return t.UTC().Format(time.RFC3339)
	}
	return map[string]any{
		"kid":          k.Kid,
		"alg":          k.Alg,
		"state":        k.State,
		"source":       k.Source,
		"created_at":   k.CreatedAt.UTC().Format(time.RFC3339),
		"activate_at":  ts(k.ActivateAt),
		"activated_at": ts(k.ActivatedAt),
		"retired_at":   ts(k.RetiredAt),
		"not_after":    ts(k.NotAfter),
	}
}
