package importjobs

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/hallpass/hallpass/internal/export"
	"github.com/hallpass/hallpass/tenants"
)

// MaxAttempts is how many times a job is taken before it is failed (a
// node that stops while running it costs one).
const MaxAttempts = 3

// Runner runs queued jobs, one at a time per node.
type Runner struct {
	Store *Store
	// Tenants finds a job's tenant (tenants.Store).
	Tenants interface {
		GetByID(ctx context.Context, id uuid.UUID) (*tenants.Tenant, error)
	}
	// Writer writes the users (portable.Writer).
	Writer export.UserWriter
	Log    *slog.Logger
	// Poll is how often an idle runner looks for work (default 1 s);
	// Lease how long a job is a node's without news (default 2 min);
	// Batch the users per transaction (default 1000).
	Poll, Lease time.Duration
	Batch       int
}

func (r *Runner) defaults() {
	if r.Poll <= 0 {
		r.Poll = time.Second
	}
	if r.Lease <= 0 {
		r.Lease = 2 * time.Minute
	}
	if r.Batch <= 0 {
		r.Batch = 1000
	}
	if r.Log == nil {
		r.Log = slog.Default()
	}
}

// Run runs jobs until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	r.defaults()
	t := time.NewTicker(r.Poll)
	defer t.Stop()
	for {
		for {
			ran, err := r.RunOnce(ctx)
			if err != nil && ctx.Err() == nil {
				r.Log.Error("import job", "err", err)
			}
			if !ran || err != nil {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce runs the next job, if any, to its end; it reports whether there was one.
func (r *Runner) RunOnce(ctx context.Context) (bool, error) {
	r.defaults()
	j, body, err := r.Store.claim(ctx, r.Lease)
	if err != nil || j == nil {
		if j != nil {
			return true, r.Store.finish(ctx, j, export.Report{}, err.Error())
		}
		return false, err
	}
	if body == nil || j.Attempts > MaxAttempts {
		return true, r.Store.finish(ctx, j, export.Report{}, fmt.Sprintf("the job stopped %d times before its end", j.Attempts-1))
	}
	t, err := r.Tenants.GetByID(ctx, j.TenantID)
	if err != nil {
		return true, r.Store.finish(ctx, j, export.Report{}, "the tenant cannot be read: "+err.Error())
	}
	rep, err := export.WriteUsers(ctx, export.NewLineReader(bytes.NewReader(body)), t, r.Writer, r.Batch, func(rep export.Report) {
		if perr := r.Store.progress(ctx, j, rep, r.Lease); perr != nil {
			r.Log.Warn("import job progress", "job", j.ID, "err", perr)
		}
	})
	if ctx.Err() != nil {
		return true, ctx.Err() // the lease runs out; another node (or this one) takes the job again
	}
	failure := ""
	if err != nil {
		failure = err.Error()
	}
	r.Log.Info("import job done", "tenant", j.TenantID, "job", j.ID, "created", rep.Created, "updated", rep.Updated,
		"skipped", len(rep.Skipped), "err", failure)
	return true, r.Store.finish(ctx, j, rep, failure)
}
