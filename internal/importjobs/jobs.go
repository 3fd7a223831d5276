// Package importjobs keeps the management API's bulk user imports
// (POST /tenants/{slug}/users/import) in Postgres and runs them: a job
// outlives the request that queued it and the node that ran it (a running
// job whose lease ran out is taken again; the import is idempotent by the
// users' source ids). It owns the import_jobs table.
package importjobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/export"
	"github.com/hallpass/hallpass/internal/seal"
)

// Job statuses.
const (
	Queued    = "queued"
	Running   = "running"
	Succeeded = "succeeded"
	Failed    = "failed"
)

// ErrNotFound is a job that does not exist in the tenant.
var ErrNotFound = errors.New("import job not found")

// Job is one bulk import.
type Job struct {
	TenantID uuid.UUID
	ID       uuid.UUID
	Status   string
	// Report is what the job did so far.
	Report     export.Report
	Error      string
	Attempts   int
	CreatedAt  time.Time
	StartedAt  *time.Time
	FinishedAt *time.Time
}

// Store reads and writes jobs.
type Store struct {
	pool   *pgxpool.Pool
	sealer *seal.Sealer
}

// NewStore returns the jobs store; sealer seals the bodies at rest.
func NewStore(pool *pgxpool.Pool, sealer *seal.Sealer) *Store {
	return &Store{pool: pool, sealer: sealer}
}

func bodyContext(tenantID, id uuid.UUID) string {
	return "tenant:" + tenantID.String() + ":import_job:" + id.String()
}

// Create queues a job for body (JSON Lines of users).
func (s *Store) Create(ctx context.Context, tenantID uuid.UUID, actor string, body []byte) (*Job, error) {
	id := uuid.New()
	sealed, err := s.sealer.Seal(body, bodyContext(tenantID, id))
	if err != nil {
		return nil, err
	}
	j := &Job{TenantID: tenantID, ID: id, Status: Queued, Report: export.Report{Skipped: []export.Skipped{}}}
	if err := s.pool.QueryRow(ctx, `INSERT INTO import_jobs (tenant_id, id, actor, body) VALUES ($1, $2, $3, $4) RETURNING created_at`,
		tenantID, id, actor, sealed).Scan(&j.CreatedAt); err != nil {
		return nil, fmt.Errorf("importjobs: create: %w", err)
	}
	return j, nil
}

// Get reads a tenant's job.
func (s *Store) Get(ctx context.Context, tenantID, id uuid.UUID) (*Job, error) {
	j := Job{TenantID: tenantID, ID: id}
	var report []byte
	err := s.pool.QueryRow(ctx, `SELECT status, report, error, attempts, created_at, started_at, finished_at
		FROM import_jobs WHERE tenant_id = $1 AND id = $2`, tenantID, id).
		Scan(&j.Status, &report, &j.Error, &j.Attempts, &j.CreatedAt, &j.StartedAt, &j.FinishedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("importjobs: get: %w", err)
	}
	if err := json.Unmarshal(report, &j.Report); err != nil {
		return nil, fmt.Errorf("importjobs: report: %w", err)
	}
	if j.Report.Skipped == nil {
		j.Report.Skipped = []export.Skipped{}
	}
	return &j, nil
}

// claim takes the oldest queued job, or a running one whose lease ran out,
// and leases it; nil when there is none.
func (s *Store) claim(ctx context.Context, lease time.Duration) (*Job, []byte, error) {
	j := &Job{}
	var sealed *string
	err := s.pool.QueryRow(ctx, `UPDATE import_jobs j SET status = 'running', attempts = attempts + 1,
			started_at = coalesce(started_at, now()), lease_until = now() + $1::interval
		FROM (SELECT tenant_id, id FROM import_jobs WHERE status = 'queued' OR (status = 'running' AND lease_until < now())
			ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED) next
		WHERE j.tenant_id = next.tenant_id AND j.id = next.id
		RETURNING j.tenant_id, j.id, j.attempts, j.body`, lease.String()).Scan(&j.TenantID, &j.ID, &j.Attempts, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("importjobs: claim: %w", err)
	}
	if sealed == nil {
		return j, nil, nil
	}
	body, err := s.sealer.Open(*sealed, bodyContext(j.TenantID, j.ID))
	if err != nil {
		return j, nil, fmt.Errorf("the job's body does not open: %w", err)
	}
	return j, body, nil
}

// progress records a running job's report and renews its lease.
func (s *Store) progress(ctx context.Context, j *Job, rep export.Report, lease time.Duration) error {
	raw, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	_, err = s.pool.Exec(ctx, `UPDATE import_jobs SET report = $3, lease_until = now() + $4::interval
		WHERE tenant_id = $1 AND id = $2`, j.TenantID, j.ID, raw, lease.String())
	return err
}

// finish ends a job: its report, its error ("" for success), and its body
// cleared.
func (s *Store) finish(ctx context.Context, j *Job, rep export.Report, failure string) error {
	raw, err := json.Marshal(rep)
	if err != nil {
		return err
	}
	status := Succeeded
	if failure != "" {
		status = Failed
	}
	_, err = s.pool.Exec(ctx, `UPDATE import_jobs SET status = $3, report = $4, error = $5, body = NULL, lease_until = NULL,
		finished_at = now() WHERE tenant_id = $1 AND id = $2`, j.TenantID, j.ID, status, raw, failure)
	return err
}
