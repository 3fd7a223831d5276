package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/hallpass/hallpass/tenants"
)

func (c *cli) tenant(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError("tenant: want create, update, get or list")
	}
	fs := flag.NewFlagSet("tenant "+args[0], flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	name := fs.String("name", "", "display name (create)")
	settingsPath := fs.String("settings", "", "settings JSON file, or - for standard input")
	djangoPath := fs.String("from-django-settings", "", "a Django project's settings dumped as JSON (create; docs/MIGRATION.md)")
	slug, rest := "", args[1:]
	if len(rest) > 0 && rest[0] != "" && rest[0][0] != '-' {
		slug, rest = rest[0], rest[1:]
	}
	if err := fs.Parse(rest); err != nil {
		return usageError(err.Error())
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("tenant %s: unexpected argument %q", args[0], fs.Arg(0)))
	}
	needSlug := args[0] != "list"
	if needSlug && slug == "" {
		return usageError(fmt.Sprintf("tenant %s: SLUG is required", args[0]))
	}
	// Read input before connecting, so a bad file fails fast and writes nothing.
	var settings []byte
	if *settingsPath != "" {
		var err error
		if settings, err = c.readInput(*settingsPath); err != nil {
			return err
		}
	}
	if *djangoPath != "" {
		if args[0] != "create" || *settingsPath != "" {
			return usageError("tenant: --from-django-settings goes with create, without --settings")
		}
		raw, err := c.readInput(*djangoPath)
		if err != nil {
			return err
		}
		var dropped []string
		if settings, dropped, err = fromDjangoSettings(raw); err != nil {
			return err
		}
		if len(dropped) > 0 {
			fmt.Fprintf(c.stderr, "hallpass: not carried over (not allauth's, or Python code): %s\n", strings.Join(dropped, ", "))
		}
	}
	d, err := c.connect(ctx, false)
	if err != nil {
		return err
	}
	defer d.close()
	const actor = "cli"
	switch args[0] {
	case "create":
		t, err := d.store.Create(ctx, tenants.CreateInput{Slug: slug, Name: *name, Settings: settings}, actor)
		if err != nil {
			return explainSettings(err)
		}
		return c.printJSON(tenantJSON(t))
	case "update":
		if *settingsPath == "" && *name == "" {
			return usageError("tenant update: give --settings FILE|- and/or --name NAME")
		}
		var t *tenants.Tenant
		if *settingsPath != "" {
			if t, err = d.store.UpdateSettings(ctx, slug, settings, actor); err != nil {
				return explainSettings(err)
			}
		}
		if *name != "" {
			if t, err = d.store.Rename(ctx, slug, *name, actor); err != nil {
				return err
			}
		}
		return c.printJSON(tenantJSON(t))
	case "get":
		t, err := d.store.Get(ctx, slug)
		if err != nil {
			return notFound(err, slug)
		}
		return c.printJSON(tenantJSON(t))
	case "list":
		var out []map[string]any
		after := ""
		for {
			page, err := d.store.List(ctx, tenants.ListOptions{After: after, Limit: 500})
			if err != nil {
				return err
			}
			for _, t := range page {
				out = append(out, map[string]any{"id": t.ID, "slug": t.Slug, "name": t.Name,
					"settings_version": t.SettingsVersion, "created_at": t.CreatedAt.UTC().Format(time.RFC3339)})
			}
			if len(page) < 500 {
				break
			}
			after = page[len(page)-1].Slug
		}
		if out == nil {
			out = []map[string]any{}
		}
		return c.printJSON(out)
	}
	return usageError(fmt.Sprintf("tenant: unknown subcommand %q", args[0]))
}

func (c *cli) readInput(path string) ([]byte, error) {
	const limit = 1 << 20
	var r io.Reader = c.stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, fmt.Errorf("%s: larger than 1 MiB", path)
	}
	return b, nil
}

// tenantJSON is the CLI's view of a tenant: the overrides as set (secrets
// redacted) and the effective document with allauth's defaults.
func tenantJSON(t *tenants.Tenant) map[string]any {
	domains := t.Domains
	if domains == nil {
		domains = []tenants.Domain{}
	}
	return map[string]any{
		"id":               t.ID,
		"slug":             t.Slug,
		"name":             t.Name,
		"settings_version": t.SettingsVersion,
		"settings":         tenants.RedactSecrets(t.Overrides),
		"effective":        tenants.RedactSecrets(t.Settings.Document()),
		"domains":          domains,
		"created_at":       t.CreatedAt.UTC().Format(time.RFC3339),
		"updated_at":       t.UpdatedAt.UTC().Format(time.RFC3339),
	}
}

func (c *cli) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// explainSettings makes settings errors read well on a terminal: one line per key.
func explainSettings(err error) error {
	var many tenants.SettingsErrors
	if errors.As(err, &many) && len(many) > 1 {
		msg := "invalid settings:"
		for _, e := range many {
			msg += "\n  " + e.Error()
		}
		return errors.New(msg)
	}
	var one *tenants.SettingsError
	if errors.As(err, &one) {
		return fmt.Errorf("invalid settings: %w", one)
	}
	return err
}

func notFound(err error, slug string) error {
	if errors.Is(err, tenants.ErrNotFound) {
		return fmt.Errorf("tenant %q not found", slug)
	}
	return err
}
