package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/leasebus"
)

// apikeyUsage lists the apikey subcommands, for usage errors.
const apikeyUsage = `apikey: want one of
  apikey create (--tenant SLUG | --platform) --scopes S1,S2 [--name N] [--expires 90d|720h|2027-01-01] [--json]
  apikey list [--tenant SLUG | --platform]
  apikey revoke ID`

// apikey manages the management API's keys: create (the secret is printed
// once), list, revoke (every running node refuses the key before the
// command returns).
func (c *cli) apikey(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError(apikeyUsage)
	}
	sub := args[0]
	fs := flag.NewFlagSet("apikey "+sub, flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	tenant := fs.String("tenant", "", "the tenant the key acts on")
	platform := fs.Bool("platform", false, "a platform key (any tenant, and the tenants themselves)")
	scopes := fs.String("scopes", "", "comma-separated scopes")
	name := fs.String("name", "", "a name to tell the key by")
	expires := fs.String("expires", "", "expiry: 90d, 720h, 2027-01-01 (default: never)")
	asJSON := fs.Bool("json", false, "print the new key as JSON on stdout")
	var pos []string
	rest := args[1:]
	for len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		pos, rest = append(pos, rest[0]), rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return usageError(err.Error())
	}
	pos = append(pos, fs.Args()...)
	allowed := map[string]map[string]bool{
		"create": {"tenant": true, "platform": true, "scopes": true, "name": true, "expires": true, "json": true},
		"list":   {"tenant": true, "platform": true},
		"revoke": {},
	}
	flags, ok := allowed[sub]
	if !ok {
		return usageError(fmt.Sprintf("apikey: unknown subcommand %q\n%s", sub, apikeyUsage))
	}
	var flagErr error
	fs.Visit(func(f *flag.Flag) {
		if !flags[f.Name] && flagErr == nil {
			flagErr = usageError(fmt.Sprintf("apikey %s: --%s does not apply", sub, f.Name))
		}
	})
	if flagErr != nil {
		return flagErr
	}
	wantPos := 0
	if sub == "revoke" {
		wantPos = 1
	}
	if len(pos) < wantPos {
		return usageError("apikey revoke: ID is required")
	}
	if len(pos) > wantPos {
		return usageError(fmt.Sprintf("apikey %s: unexpected argument %q", sub, pos[wantPos]))
	}
	if *tenant != "" && *platform {
		return usageError(fmt.Sprintf("apikey %s: give --tenant SLUG or --platform, not both", sub))
	}

	switch sub {
	case "create":
		if *tenant == "" && !*platform {
			return usageError("apikey create: give --tenant SLUG or --platform")
		}
		if *scopes == "" {
			return usageError("apikey create: --scopes is required (" + scopeNames(*platform) + ")")
		}
		sc, err := apikeys.ParseScopes(*scopes, *platform)
		if err != nil {
			return usageError(fmt.Sprintf("apikey create: %v (allowed: %s)", strings.TrimPrefix(err.Error(), "apikeys: "), scopeNames(*platform)))
		}
		exp, err := apikeys.ParseExpiry(*expires, time.Now())
		if err != nil {
			return usageError("apikey create: " + strings.TrimPrefix(err.Error(), "apikeys: "))
		}
		return c.apikeyCreate(ctx, *tenant, sc, *name, exp, *asJSON)
	case "list":
		return c.apikeyList(ctx, *tenant, *platform)
	default:
		id, err := uuid.Parse(pos[0])
		if err != nil {
			return usageError(fmt.Sprintf("apikey revoke: %q is not a key id", pos[0]))
		}
		return c.apikeyRevoke(ctx, id)
	}
}

func scopeNames(platform bool) string {
	list := apikeys.TenantScopes
	if platform {
		list = apikeys.PlatformScopes
	}
	names := make([]string, len(list))
	for i, s := range list {
		names[i] = string(s)
	}
	return strings.Join(names, ",")
}

// cliActor is the audit actor of the CLI's changes.
var cliActor = audit.Actor{Name: "cli"}

func (c *cli) apikeyCreate(ctx context.Context, slug string, scopes []apikeys.Scope, name string, exp *time.Time, asJSON bool) error {
	d, err := c.connect(ctx, false)
	if err != nil {
		return err
	}
	defer d.close()
	nk := apikeys.NewKey{Name: name, ExpiresAt: exp}
	for _, s := range scopes {
		nk.Scopes = append(nk.Scopes, string(s))
	}
	where := "the platform"
	if slug != "" {
		t, err := d.store.Get(ctx, slug)
		if err != nil {
			return notFound(err, slug)
		}
		nk.TenantID, where = t.ID, "tenant "+t.Slug
	}
	k, secret, err := apikeys.NewStore(d.pool).Create(ctx, cliActor, nk)
	if err != nil {
		return err
	}
	if asJSON {
		return c.printJSON(map[string]any{"id": k.ID, "key": secret, "prefix": k.Prefix, "scopes": k.Scopes, "expires_at": k.ExpiresAt})
	}
	if _, err := fmt.Fprintln(c.stdout, secret); err != nil {
		return err
	}
	expiry := "never"
	if k.ExpiresAt != nil {
		expiry = k.ExpiresAt.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(c.stderr, "API key %s for %s\n  id:      %s\n  name:    %s\n  scopes:  %s\n  expires: %s\nThe secret above is shown once and stored only as a hash.\n",
		k.Prefix, where, k.ID, k.Name, joinScopes(k.Scopes), expiry)
	return nil
}

func joinScopes(scopes []apikeys.Scope) string {
	names := make([]string, len(scopes))
	for i, s := range scopes {
		names[i] = string(s)
	}
	return strings.Join(names, ",")
}

func (c *cli) apikeyList(ctx context.Context, slug string, platform bool) error {
	d, err := c.connect(ctx, false)
	if err != nil {
		return err
	}
	defer d.close()
	store := apikeys.NewStore(d.pool)
	var keys []apikeys.Key
	switch {
	case slug != "":
		t, err := d.store.Get(ctx, slug)
		if err != nil {
			return notFound(err, slug)
		}
		keys, err = store.List(ctx, t.ID)
		if err != nil {
			return err
		}
	case platform:
		if keys, err = store.List(ctx, uuid.Nil); err != nil {
			return err
		}
	default:
		if keys, err = store.ListAll(ctx); err != nil {
			return err
		}
	}
	slugs := map[uuid.UUID]string{}
	out := make([]map[string]any, 0, len(keys))
	for _, k := range keys {
		tenant := ""
		if !k.Platform() {
			s, ok := slugs[k.TenantID]
			if !ok {
				if t, err := d.store.GetByID(ctx, k.TenantID); err == nil {
					s = t.Slug
				}
				slugs[k.TenantID] = s
			}
			tenant = s
		}
		out = append(out, apikeyJSON(k, tenant))
	}
	return c.printJSON(out)
}

// apikeyJSON is what the CLI shows of a key: never its secret or hash.
func apikeyJSON(k apikeys.Key, tenant string) map[string]any {
	var t any
	if !k.Platform() {
		t = tenant
	}
	return map[string]any{"id": k.ID, "prefix": k.Prefix, "tenant": t, "platform": k.Platform(), "name": k.Name,
		"scopes": k.Scopes, "created_by": k.CreatedBy, "created_at": k.CreatedAt.UTC(), "expires_at": utcOrNil(k.ExpiresAt),
		"last_used_at": utcOrNil(k.LastUsed), "revoked_at": utcOrNil(k.RevokedAt)}
}

func utcOrNil(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC()
}

// apikeyRevoke revokes the key id; it needs Redis, whose bus tells every
// running node to drop the key, and returns once they all did.
func (c *cli) apikeyRevoke(ctx context.Context, id uuid.UUID) error {
	d, err := c.connect(ctx, true)
	if err != nil {
		return err
	}
	defer d.close()
	keys := apikeys.NewAuthenticator(apikeys.NewStore(d.pool), apikeys.AuthenticatorConfig{
		Bus: leasebus.New(d.redis, "apikeys", leasebus.Config{}), Log: d.log})
	k, err := keys.Revoke(ctx, cliActor, uuid.Nil, id)
	if errors.Is(err, apikeys.ErrNotFound) {
		return fmt.Errorf("no API key %s", id)
	}
	if err != nil {
		return err
	}
	slug := ""
	if !k.Platform() {
		if t, err := d.store.GetByID(ctx, k.TenantID); err == nil {
			slug = t.Slug
		}
	}
	return c.printJSON(apikeyJSON(k, slug))
}
