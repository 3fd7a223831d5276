package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hallpass/hallpass/internal/export"
	"github.com/hallpass/hallpass/internal/portable"
	"github.com/hallpass/hallpass/tenants"
)

// export writes a tenant's portable export (internal/export, docs/EXPORT.md):
//
//	hallpass export --tenant SLUG [--out FILE] --passphrase-file F [--settings-secrets omit|sealed]
//
// With --out the file is written next to FILE and renamed when complete, so
// FILE never holds a partial export; without it the export goes to
// standard output. A summary goes to standard error.
func (c *cli) export(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	slug := fs.String("tenant", "", "the tenant's slug (required)")
	out := fs.String("out", "", "the file to write (default: standard output)")
	passFile := fs.String("passphrase-file", "", "a file holding the passphrase that seals the export's secrets (required; at least 8 bytes)")
	secrets := fs.String("settings-secrets", export.SecretsOmit, "settings secrets (OAuth client secrets, keys): omit or sealed")
	page := fs.Int("page", export.DefaultPage, "users read per page")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	if fs.NArg() > 0 {
		return usageError(fmt.Sprintf("export: unexpected argument %q", fs.Arg(0)))
	}
	if *slug == "" || *passFile == "" {
		return usageError("export: --tenant and --passphrase-file are required")
	}
	if *secrets != export.SecretsOmit && *secrets != export.SecretsSealed {
		return usageError("export: --settings-secrets must be omit or sealed")
	}
	pass, err := readPassphrase(*passFile)
	if err != nil {
		return err
	}
	d, err := c.connect(ctx, false)
	if err != nil {
		return err
	}
	defer d.close()
	t, err := d.store.Get(ctx, *slug)
	if err != nil {
		return notFound(err, *slug)
	}
	dst, finish := c.stdout, func(error) error { return nil }
	if *out != "" {
		f, err := os.CreateTemp(filepath.Dir(*out), ".hallpass-export-*")
		if err != nil {
			return err
		}
		dst = f
		finish = func(failed error) error {
			cerr := f.Close()
			if failed == nil && cerr == nil {
				if cerr = os.Chmod(f.Name(), 0o600); cerr == nil {
					cerr = os.Rename(f.Name(), *out)
				}
			}
			if failed != nil || cerr != nil {
				_ = os.Remove(f.Name())
			}
			return cerr
		}
	}
	start := time.Now()
	w, err := export.NewWriter(dst, export.Options{Tenant: t.Slug, Passphrase: pass, SettingsSecrets: *secrets})
	if err == nil {
		err = export.WriteTenant(ctx, d.pool, d.sealer, t, w, export.TenantOptions{Page: *page})
	}
	if ferr := finish(err); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	summary, _ := json.Marshal(map[string]any{"tenant": t.Slug, "counts": w.Counts(), "seconds": time.Since(start).Round(time.Millisecond).Seconds(), "out": *out})
	fmt.Fprintln(c.stderr, string(summary))
	return nil
}

// importHallpass restores a tenant export into an existing tenant:
//
//	hallpass import hallpass --tenant SLUG FILE --passphrase-file F [--batch N] [--settings apply|skip]
//
// The whole file is verified first (passphrase, every line, the digest, the
// trailer): a truncated or altered file writes nothing. Then the settings
// are merged into the tenant's (each top-level key of the file replaces the
// tenant's; secrets the export left out keep the tenant's values) and the users are written in batches, each in one transaction;
// a re-run updates the users it already wrote.
func (c *cli) importHallpass(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("import hallpass", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	slug := fs.String("tenant", "", "the tenant to import into (required; it must exist)")
	passFile := fs.String("passphrase-file", "", "a file holding the export's passphrase (required)")
	batch := fs.Int("batch", 5000, "users per transaction")
	settings := fs.String("settings", "apply", "the file's settings: apply (merge into the tenant's) or skip")
	// FILE may come anywhere among the flags.
	var files []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return usageError(err.Error())
		}
		if fs.NArg() == 0 {
			break
		}
		files, rest = append(files, fs.Arg(0)), fs.Args()[1:]
	}
	if len(files) > 1 {
		return usageError(fmt.Sprintf("import hallpass: unexpected argument %q", files[1]))
	}
	file := ""
	if len(files) == 1 {
		file = files[0]
	}
	if *slug == "" || *passFile == "" || file == "" {
		return usageError("import hallpass: --tenant, --passphrase-file and FILE are required")
	}
	if *settings != "apply" && *settings != "skip" || *batch < 1 {
		return usageError("import hallpass: --settings must be apply or skip, --batch at least 1")
	}
	pass, err := readPassphrase(*passFile)
	if err != nil {
		return err
	}
	// Pass 1: verify everything before connecting.
	r, closeFile, err := openExport(file, pass)
	if err != nil {
		return err
	}
	counts, err := r.Verify()
	closeFile()
	if err != nil {
		return fmt.Errorf("%s: %w; nothing was imported", file, err)
	}
	d, err := c.connect(ctx, false)
	if err != nil {
		return err
	}
	defer d.close()
	t, err := d.store.Get(ctx, *slug)
	if err != nil {
		return notFound(err, *slug)
	}
	// Pass 2: the same file again (its digest is checked again as it is read).
	r, closeFile, err = openExport(file, pass)
	if err != nil {
		return err
	}
	defer closeFile()
	if *settings == "apply" && len(r.Settings()) > 0 {
		doc := r.Settings()
		if r.Header().SettingsSecrets == export.SecretsOmit {
			tenants.CarrySecrets(doc, t.Overrides)
		}
		patch, _ := json.Marshal(doc)
		if t, err = d.store.UpdateSettings(ctx, *slug, patch, "cli:import"); err != nil {
			return fmt.Errorf("the file's settings do not apply to tenant %q (nothing was imported; --settings skip leaves them out): %w", *slug, explainSettings(err))
		}
	}
	start := time.Now()
	rep, err := export.WriteUsers(ctx, r, t, portable.NewWriter(d.pool, d.sealer), *batch, nil)
	out := map[string]any{"tenant": *slug, "file": counts, "report": rep, "seconds": time.Since(start).Round(time.Millisecond).Seconds()}
	if err != nil {
		out["error"] = err.Error()
	}
	if perr := c.printJSON(out); err == nil {
		err = perr
	}
	return err
}

func openExport(file string, pass []byte) (*export.Reader, func(), error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, err
	}
	r, err := export.NewReader(f, pass)
	if err != nil {
		_ = f.Close()
		return nil, nil, fmt.Errorf("%s: %w; nothing was imported", file, err)
	}
	return r, func() { _ = f.Close() }, nil
}

// readPassphrase reads a passphrase file, without its final line break.
func readPassphrase(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("passphrase file: %w", err)
	}
	b = bytes.TrimSuffix(bytes.TrimSuffix(b, []byte("\n")), []byte("\r"))
	if len(b) < export.MinPassphrase {
		return nil, fmt.Errorf("passphrase file %s: the passphrase must be at least %d bytes", path, export.MinPassphrase)
	}
	return b, nil
}
