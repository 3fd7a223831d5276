package portable

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/tenants"
)

// Writer writes batches of users into a tenant.
type Writer struct {
	pool   *pgxpool.Pool
	sealer *seal.Sealer
	// DryRun runs every check and statement of a batch and rolls it back:
	// the report is what a real run would do, and nothing is written.
	DryRun bool
}

// NewWriter returns a Writer on the platform's database; sealer seals the
// authenticators' secrets as internal/mfa does.
func NewWriter(pool *pgxpool.Pool, sealer *seal.Sealer) *Writer {
	return &Writer{pool: pool, sealer: sealer}
}

// Write puts batch into tenant in one transaction: every user is created,
// or updated when a user of the tenant has their SourceID, with their
// emails, social accounts and authenticators replaced by the batch's. A
// user that cannot be written (invalid, an unknown hash format, an email,
// username, social account or WebAuthn credential of another user of the
// tenant, the same in two users of the batch) is skipped with a reason in
// the report and nothing of them is written; the others are. An error means
// nothing of the batch was written.
func (w *Writer) Write(ctx context.Context, tenant *tenants.Tenant, batch []User) (BatchReport, error) {
	return BatchReport{}, errors.New("portable: not implemented yet")
}
