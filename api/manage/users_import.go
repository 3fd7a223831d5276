package manage

import (
	"bytes"
	"errors"
	"mime"
	"net/http"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"

	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/internal/apikeys"
	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/importjobs"
)

// Bulk user import (issue 22): the body is JSON Lines of users (docs/EXPORT.md,
// "User lines"), the answer a job that a worker runs after the request;
// its status and report are read by id.

// ImportMediaTypes are the content types a bulk import's body may be sent as.
var ImportMediaTypes = []string{"application/x-ndjson", "application/jsonl"}

// ImportSkippedOut is one line an import did not write.
type ImportSkippedOut struct {
	Line     int64  `json:"line"`
	SourceID string `json:"source_id,omitempty"`
	Reason   string `json:"reason"`
}

// ImportReportOut is what an import job did so far.
type ImportReportOut struct {
	Lines          int64              `json:"lines"`
	Created        int                `json:"created"`
	Updated        int                `json:"updated"`
	Emails         int                `json:"emails"`
	SocialAccounts int                `json:"social_accounts"`
	Authenticators int                `json:"authenticators"`
	Batches        int                `json:"batches"`
	Skipped        []ImportSkippedOut `json:"skipped"`
}

// ImportJobOut is a bulk import job.
type ImportJobOut struct {
	ID         string          `json:"id"`
	Status     string          `json:"status" doc:"queued, running, succeeded or failed"`
	Report     ImportReportOut `json:"report"`
	Error      string          `json:"error"`
	CreatedAt  time.Time       `json:"created_at"`
	StartedAt  *time.Time      `json:"started_at"`
	FinishedAt *time.Time      `json:"finished_at"`
}

// importOperations lists the bulk import operations.
func (h userHandlers) importOperations() []Operation {
	const imports = "/tenants/{slug}/users/import"
	return []Operation{
		{ID: "importUsers", Method: http.MethodPost, Path: imports, Scope: apikeys.UsersWrite,
			Summary:  "Import users from JSON Lines (one user per line, as a tenant export's user lines); answers a job that runs after the request",
			BodyType: ImportMediaTypes[0], Status: http.StatusAccepted, Response: ImportJobOut{}, Handle: h.importUsers},
		{ID: "getUserImport", Method: http.MethodGet, Path: imports + "/{job}", Scope: apikeys.UsersRead,
			Summary: "Get a bulk import job: its status, counts and skipped lines",
			Status:  http.StatusOK, Response: ImportJobOut{}, Handle: h.getUserImport},
	}
}

var errNoSuchImport = NotFound("import job")

func (h userHandlers) importUsers(c *fiber.Ctx, r *Request) error {
	mt, _, err := mime.ParseMediaType(c.Get(fiber.HeaderContentType))
	if err != nil || (mt != ImportMediaTypes[0] && mt != ImportMediaTypes[1]) {
		return &Error{Status: fiber.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Detail: "The body must be JSON Lines (Content-Type: application/x-ndjson)."}
	}
	body := api.RawBody(c)
	if len(bytes.TrimSpace(body)) == 0 {
		return BadRequest("empty_body", "The body holds no user lines.")
	}
	if h.cfg.Imports == nil {
		return &Error{Status: fiber.StatusServiceUnavailable, Code: "unavailable", Detail: "Bulk imports are not available on this server."}
	}
	job, err := h.cfg.Imports.Create(c.UserContext(), r.Tenant.ID, r.Key.Actor(), bytes.Clone(body))
	if err != nil {
		return err
	}
	if h.cfg.Audit != nil {
		actor := r.Actor(c)
		h.cfg.Audit.Record(audit.Event{TenantID: r.Tenant.ID, Actor: actor.Name, IP: actor.IP, Action: "user.import.queue",
			Target: job.ID.String(), Details: map[string]any{"bytes": len(body)}})
	}
	return c.Status(http.StatusAccepted).JSON(importJobOut(job))
}

func (h userHandlers) getUserImport(c *fiber.Ctx, r *Request) error {
	id, err := uuid.Parse(c.Params("job"))
	if err != nil || h.cfg.Imports == nil {
		return errNoSuchImport
	}
	job, err := h.cfg.Imports.Get(c.UserContext(), r.Tenant.ID, id)
	if errors.Is(err, importjobs.ErrNotFound) {
		return errNoSuchImport
	}
	if err != nil {
		return err
	}
	return c.JSON(importJobOut(job))
}

func importJobOut(j *importjobs.Job) ImportJobOut {
	rep := j.Report
	out := ImportJobOut{ID: j.ID.String(), Status: j.Status, Error: j.Error, CreatedAt: j.CreatedAt.UTC(),
		StartedAt: utcPtr(j.StartedAt), FinishedAt: utcPtr(j.FinishedAt),
		Report: ImportReportOut{Lines: rep.Lines, Created: rep.Created, Updated: rep.Updated, Emails: rep.Emails,
			SocialAccounts: rep.SocialAccounts, Authenticators: rep.Authenticators, Batches: rep.Batches,
			Skipped: make([]ImportSkippedOut, 0, len(rep.Skipped))}}
	for _, s := range rep.Skipped {
		out.Report.Skipped = append(out.Report.Skipped, ImportSkippedOut(s))
	}
	return out
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
