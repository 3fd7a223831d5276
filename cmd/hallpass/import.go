package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/hallpass/hallpass/internal/djangoimport"
	"github.com/hallpass/hallpass/internal/portable"
	"github.com/hallpass/hallpass/tenants"
)

// importCmd runs `hallpass import SOURCE ...`.
func (c *cli) importCmd(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return usageError("import: want django")
	}
	switch args[0] {
	case "django":
		return c.importDjango(ctx, args[1:])
	}
	return usageError(fmt.Sprintf("import: unknown source %q (want django)", args[0]))
}

// importDjango runs `hallpass import django --tenant SLUG --source DSN
// [--user-table auth_user] [--dry-run] [--batch 5000]`: the report goes to
// standard output as JSON, progress to standard error.
func (c *cli) importDjango(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("import django", flag.ContinueOnError)
	fs.SetOutput(c.stderr)
	slug := fs.String("tenant", "", "the tenant to import into (its slug)")
	source := fs.String("source", "", "the Django project's Postgres DSN (postgres://...)")
	userTable := fs.String("user-table", "auth_user", "the user model's table (a custom user model's)")
	dryRun := fs.Bool("dry-run", false, "read and check everything, write nothing")
	batch := fs.Int("batch", 5000, "users per transaction")
	if err := fs.Parse(args); err != nil {
		return usageError(err.Error())
	}
	switch {
	case fs.NArg() > 0:
		return usageError(fmt.Sprintf("import django: unexpected argument %q", fs.Arg(0)))
	case *slug == "" || *source == "":
		return usageError("import django: --tenant SLUG and --source DSN are required")
	case *batch < 1 || *batch > 100000:
		return usageError("import django: --batch must be 1 to 100000")
	}
	d, err := c.connect(ctx, false)
	if err != nil {
		return err
	}
	defer d.close()
	tenant, err := d.store.Get(ctx, *slug)
	if err != nil {
		return notFound(err, *slug)
	}
	w := portable.NewWriter(d.pool, d.sealer)
	w.DryRun = *dryRun
	defer w.Close(ctx)
	rep, err := djangoimport.Run(ctx, w, tenant, djangoimport.Options{
		Source: *source, UserTable: *userTable, Batch: *batch, Progress: newProgress(c.stderr, "importing users"),
	})
	if err != nil {
		if errors.Is(err, tenants.ErrNotFound) {
			return notFound(err, *slug)
		}
		return fmt.Errorf("import django: %w", err)
	}
	return c.printJSON(rep)
}

// newProgress is a progress bar with rate and ETA when w is a terminal,
// else a plain line at most every few seconds.
func newProgress(w io.Writer, what string) djangoimport.Progress {
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return &barProgress{w: w, what: what}
	}
	return &lineProgress{w: w, what: what, every: 5 * time.Second}
}

// barProgress draws schollz/progressbar on a terminal.
type barProgress struct {
	w    io.Writer
	what string
	bar  *progressbar.ProgressBar
}

func (p *barProgress) Start(total int) {
	p.bar = progressbar.NewOptions(total, progressbar.OptionSetWriter(p.w), progressbar.OptionSetDescription(p.what),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("users"),
		progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish())
}

func (p *barProgress) Add(n int) { _ = p.bar.Add(n) }

func (p *barProgress) Finish() { _ = p.bar.Finish() }

// lineProgress writes "importing users: 15000/100000 (15%), 4210/s, ETA 20s"
// lines: after the first batch, then at most every period, and at the end.
type lineProgress struct {
	w           io.Writer
	what        string
	every       time.Duration
	total, done int
	start, last time.Time
}

func (p *lineProgress) Start(total int) {
	p.total, p.start = total, time.Now()
	fmt.Fprintf(p.w, "%s: %d to read\n", p.what, total)
}

func (p *lineProgress) Add(n int) {
	p.done += n
	if now := time.Now(); p.last.IsZero() || now.Sub(p.last) >= p.every {
		p.last = now
		p.line()
	}
}

func (p *lineProgress) Finish() { p.line() }

func (p *lineProgress) line() {
	elapsed := time.Since(p.start).Seconds()
	rate := 0.0
	if elapsed > 0 {
		rate = float64(p.done) / elapsed
	}
	pct, eta := 100, "0s"
	if p.total > 0 {
		pct = p.done * 100 / p.total
	}
	if rate > 0 && p.total > p.done {
		eta = (time.Duration(float64(p.total-p.done)/rate) * time.Second).String()
	}
	fmt.Fprintf(p.w, "%s: %d/%d (%d%%), %.0f/s, ETA %s\n", p.what, p.done, p.total, pct, rate, eta)
}
