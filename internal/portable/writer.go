package portable

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/audit"
	"github.com/hallpass/hallpass/internal/identity/bulk"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/social"

	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/tenants"
)

// Writer writes batches of users into a tenant.
type Writer struct {
	pool   *pgxpool.Pool
	sealer *seal.Sealer
	// DryRun writes every batch into one transaction that Close rolls
	// back: each report is what a real run would do (a user clashing with
	// one of an earlier batch included), and nothing is written. New users
	// are numbered without the tenant's id counter, which a dry run leaves
	// alone.
	DryRun bool
	// Actor is who imports, in the audit event each batch records ("cli"
	// if empty).
	Actor string
	dry   pgx.Tx
}

// Close ends the writer: a dry run's transaction is rolled back. Call it
// when done with a dry-run writer; it does nothing otherwise.
func (w *Writer) Close(ctx context.Context) {
	if w.dry != nil {
		_ = w.dry.Rollback(context.WithoutCancel(ctx))
		w.dry = nil
	}
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
	var rep BatchReport
	skipped := map[int]string{}
	now := time.Now()
	users := make([]bulk.ImportUser, 0, len(batch))
	var accounts []social.ImportAccount
	var auths []mfa.ImportAuthenticator
	for i := range batch {
		c, err := check(&batch[i], i, tenant.Settings, now)
		if err != nil {
			skipped[i] = err.Error()
			continue
		}
		users = append(users, c.user)
		accounts = append(accounts, c.socials...)
		auths = append(auths, c.auths...)
	}
	if len(users) > 0 {
		tx := w.dry
		if tx == nil {
			var err error
			if tx, err = w.pool.Begin(ctx); err != nil {
				return BatchReport{}, fmt.Errorf("portable: begin: %w", err)
			}
			if w.DryRun {
				w.dry = tx
			} else {
				defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
			}
		}
		if err := w.write(ctx, tx, tenant, users, accounts, auths, skipped, &rep); err != nil {
			return BatchReport{}, err
		}
		if !w.DryRun {
			if err := tx.Commit(ctx); err != nil {
				return BatchReport{}, fmt.Errorf("portable: commit: %w", err)
			}
		}
	}
	for _, i := range slices.Sorted(maps.Keys(skipped)) {
		rep.Skipped = append(rep.Skipped, Skip{Index: i, SourceID: batch[i].SourceID, Reason: skipped[i]})
	}
	return rep, nil
}

// write stages the checked rows with their owners, drops the users that
// clash (adding them to skipped) and writes the others, all in tx.
func (w *Writer) write(ctx context.Context, tx pgx.Tx, tenant *tenants.Tenant, users []bulk.ImportUser,
	accounts []social.ImportAccount, auths []mfa.ImportAuthenticator, skipped map[int]string, rep *BatchReport) error {
	staged, err := bulk.StageImport(ctx, tx, tenant.ID, users, tenant.Settings.UniqueEmail)
	if err != nil {
		return fmt.Errorf("portable: %w", err)
	}
	staged.DryRun = w.DryRun
	for i := range accounts {
		accounts[i].UserID = staged.Existing[accounts[i].Index]
	}
	for i := range auths {
		auths[i].UserID = staged.Existing[auths[i].Index]
	}
	socialClash, err := social.StageImport(ctx, tx, tenant.ID, accounts)
	if err != nil {
		return fmt.Errorf("portable: %w", err)
	}
	mfaClash, err := mfa.StageImport(ctx, tx, tenant.ID, auths)
	if err != nil {
		return fmt.Errorf("portable: %w", err)
	}
	for _, clash := range []map[int]string{staged.Conflicts, socialClash, mfaClash} {
		for i, reason := range clash {
			if _, ok := skipped[i]; !ok {
				skipped[i] = reason
			}
		}
	}
	skip := make([]int, 0, len(skipped))
	for i := range skipped {
		skip = append(skip, i)
	}
	written, err := staged.Write(ctx, tx, skip)
	if err != nil {
		return fmt.Errorf("portable: %w", err)
	}
	rep.Created, rep.Updated, rep.Emails = written.Created, written.Updated, written.Emails
	var updated []int64
	for i, id := range written.IDs {
		if _, ok := staged.Existing[i]; ok {
			updated = append(updated, id)
		}
	}
	if rep.Socials, err = social.WriteImport(ctx, tx, tenant.ID, accounts, written.IDs, updated); err != nil {
		return fmt.Errorf("portable: %w", err)
	}
	kept := auths[:0]
	for _, a := range auths {
		if id, ok := written.IDs[a.Index]; ok {
			a.UserID = id
			kept = append(kept, a)
		}
	}
	if rep.Authenticators, err = mfa.WriteImport(ctx, tx, w.sealer, tenant.ID, updated, kept); err != nil {
		return fmt.Errorf("portable: %w", err)
	}
	actor := w.Actor
	if actor == "" {
		actor = "cli"
	}
	return audit.Record(ctx, tx, audit.Event{TenantID: tenant.ID, Actor: actor, Action: "users.import", Details: map[string]any{
		"created": rep.Created, "updated": rep.Updated, "skipped": len(skipped), "emails": rep.Emails,
		"social_accounts": rep.Socials, "authenticators": rep.Authenticators,
	}})
}
