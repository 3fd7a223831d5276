package export

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/internal/mfa"
	"github.com/hallpass/hallpass/internal/portable"
	"github.com/hallpass/hallpass/internal/seal"
	"github.com/hallpass/hallpass/internal/social"
	"github.com/hallpass/hallpass/tenants"
)

// DefaultPage is how many users an export reads per page.
const DefaultPage = 1000

// TenantOptions tune WriteTenant.
type TenantOptions struct {
	// Page is how many users are read per page (three statements); zero
	// means DefaultPage. Memory is bounded by one page.
	Page int
	// AfterPage, when set, is called after each page is written, with the
	// counts so far (progress, and the memory test).
	AfterPage func(Counts)
}

// WriteTenant writes a tenant's settings and every user of it to w, from
// one read-only repeatable-read snapshot, page by page, and closes w. Users
// are in id order; each one's SourceID is their Hallpass id.
func WriteTenant(ctx context.Context, pool *pgxpool.Pool, sealer *seal.Sealer, t *tenants.Tenant, w *Writer, opts TenantOptions) error {
	if opts.Page <= 0 {
		opts.Page = DefaultPage
	}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if err := w.WriteSettings(t.Overrides); err != nil {
		return err
	}
	var after int64
	for {
		users, err := identity.ExportUsers(ctx, tx, t.ID, after, opts.Page)
		if err != nil {
			return err
		}
		if len(users) == 0 {
			break
		}
		ids := make([]int64, len(users))
		for i, u := range users {
			ids[i] = u.ID
		}
		socials, err := social.ExportAccounts(ctx, tx, t.ID, ids)
		if err != nil {
			return err
		}
		auths, err := mfa.ExportAuthenticators(ctx, tx, sealer, t.ID, ids)
		if err != nil {
			return err
		}
		for i := range users {
			u := portableUser(&users[i], socials[users[i].ID], auths[users[i].ID])
			if err := w.WriteUser(u); err != nil {
				return err
			}
		}
		after = users[len(users)-1].ID
		if opts.AfterPage != nil {
			opts.AfterPage(w.Counts())
		}
		if len(users) < opts.Page {
			break
		}
	}
	return w.Close()
}

// portableUser is an exported user in the portable form.
func portableUser(u *identity.ExportedUser, socials []social.ExportedAccount, auths []mfa.ExportedAuthenticator) *portable.User {
	p := &portable.User{
		SourceID: strconv.FormatInt(u.ID, 10), Username: u.Username, IsActive: u.IsActive,
		DateJoined: u.DateJoined.UTC(), LastLogin: utc(u.LastLogin), PasswordHash: u.PasswordHash,
		Profile: document(u.Profile), PublicMetadata: document(u.PublicMetadata), PrivateMetadata: document(u.PrivateMetadata),
	}
	for _, e := range u.Emails {
		p.Emails = append(p.Emails, portable.Email{Email: e.Email, Verified: e.Verified, Primary: e.Primary})
	}
	for _, s := range socials {
		created, last := s.CreatedAt.UTC(), s.LastLogin.UTC()
		p.Socials = append(p.Socials, portable.Social{Provider: s.Provider, UID: s.UID, ExtraData: document(s.ExtraData),
			DateJoined: &created, LastLogin: &last})
	}
	for _, a := range auths {
		created := a.CreatedAt.UTC()
		p.Authenticators = append(p.Authenticators, portable.Authenticator{Type: a.Type, Data: a.Data,
			CreatedAt: &created, LastUsedAt: utc(a.LastUsedAt)})
	}
	return p
}

// document is a stored JSON object, or nil for the empty one (absent on the line).
func document(raw json.RawMessage) json.RawMessage {
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil || buf.String() == "{}" {
		return nil
	}
	return buf.Bytes()
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
