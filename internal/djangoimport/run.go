// Package djangoimport moves a Django allauth project's users into a
// Hallpass tenant (`hallpass import django`, issue #22). It reads the
// project's Postgres database in one read-only, repeatable-read
// transaction — the user table (auth_user or a custom user model's),
// account_emailaddress, socialaccount_socialaccount and mfa_authenticator
// — a page of users at a time, converts each page to portable users and
// hands it to portable.Writer, which writes it in one transaction. Users
// keep their Django id as source id ("django:<id>"), so a second run
// updates them.
package djangoimport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/portable"
	"github.com/hallpass/hallpass/tenants"
)

// Options are the command's flags.
type Options struct {
	// Source is the Django database's Postgres DSN.
	Source string
	// UserTable is the user model's table (auth_user unless a custom model).
	UserTable string
	// Batch is how many users each transaction writes (5000 if 0).
	Batch int
	// Progress, if not nil, hears of every batch.
	Progress Progress
}

// Progress follows an import: Start with the number of users to read, Add
// after each batch, Finish at the end.
type Progress interface {
	Start(total int)
	Add(n int)
	Finish()
}

// Report is the import's outcome, printed as JSON.
type Report struct {
	Tenant    string `json:"tenant"`
	DryRun    bool   `json:"dry_run"`
	UserTable string `json:"user_table"`
	// Read counts the rows read per source table.
	Read map[string]int `json:"read"`
	// Written counts what was written (in a dry run: would have been).
	Written Written `json:"written"`
	// Skipped lists the users not imported, by their row in the user table
	// (ordered by id, from 1), with why; nothing of them was written.
	Skipped []Skipped `json:"skipped"`
	// IgnoredColumns are the user table's columns no Hallpass field takes
	// (a custom user model's own), with what was done with them.
	IgnoredColumns map[string]string `json:"ignored_columns,omitempty"`
	// MissingTables are allauth's tables the source does not have (that
	// app was not installed): nothing to import from them.
	MissingTables []string `json:"missing_tables,omitempty"`
	Seconds       float64  `json:"seconds"`
	UsersPerSec   float64  `json:"users_per_second"`
}

// Written counts the rows an import wrote.
type Written struct {
	UsersCreated   int `json:"users_created"`
	UsersUpdated   int `json:"users_updated"`
	Emails         int `json:"emails"`
	SocialAccounts int `json:"social_accounts"`
	Authenticators int `json:"authenticators"`
}

// Skipped is one user not imported.
type Skipped struct {
	Table    string `json:"table"`
	Row      int    `json:"row"`
	SourceID string `json:"source_id"`
	Reason   string `json:"reason"`
}

// Run imports the source's users into tenant with w (whose DryRun makes
// it write nothing). An error that stops the import leaves every batch
// written before it in place; running again picks up (what was written is
// updated, not duplicated).
func Run(ctx context.Context, w *portable.Writer, tenant *tenants.Tenant, opts Options) (*Report, error) {
	start := time.Now()
	if opts.UserTable == "" {
		opts.UserTable = "auth_user"
	}
	if opts.Batch <= 0 {
		opts.Batch = 5000
	}
	conn, err := pgx.Connect(ctx, opts.Source)
	if err != nil {
		return nil, fmt.Errorf("connect to the source database: %w", err)
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("begin a read-only transaction on the source: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	s, err := readSchema(ctx, tx, opts.UserTable)
	if err != nil {
		return nil, err
	}
	rep := &Report{Tenant: tenant.Slug, DryRun: w.DryRun, UserTable: s.userTable, Read: map[string]int{}, Skipped: []Skipped{}}
	for _, t := range []string{tableEmails, tableSocials, tableMFA} {
		if !s.has[t] {
			rep.MissingTables = append(rep.MissingTables, t)
		}
	}
	if len(s.extra) > 0 {
		rep.IgnoredColumns = map[string]string{}
		for _, c := range s.extra {
			rep.IgnoredColumns[c] = "a column of a custom user model: not imported (copy what you need into metadata through the management API)"
		}
	}
	for c, why := range notCarried {
		if s.columns[c] {
			if rep.IgnoredColumns == nil {
				rep.IgnoredColumns = map[string]string{}
			}
			rep.IgnoredColumns[c] = why
		}
	}
	var total int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+s.userTable).Scan(&total); err != nil {
		return nil, fmt.Errorf("count %s: %w", s.userTable, err)
	}
	if opts.Progress != nil {
		opts.Progress.Start(total)
		defer opts.Progress.Finish()
	}
	_, profileFirst := tenant.Settings.UserFields.Lookup("first_name")
	_, profileLast := tenant.Settings.UserFields.Lookup("last_name")
	// One goroutine reads the source a page ahead while the previous page
	// is written: the source's queries and the writes overlap.
	pages := make(chan sourcePage, 1)
	readCtx, stopReading := context.WithCancel(ctx)
	go s.readPages(readCtx, tx, opts.Batch, pages)
	defer func() {
		// The source's transaction is the reader's until it has stopped.
		stopReading()
		for range pages {
		}
	}()
	for p := range pages {
		if p.err != nil {
			return nil, p.err
		}
		page := p.users
		rep.Read[s.userTable] += len(page)
		for t, n := range p.related {
			rep.Read[t] += n
		}
		batch := make([]portable.User, len(page))
		for i, u := range page {
			u.names(profileFirst, profileLast)
			batch[i] = u.user
		}
		br, err := w.Write(ctx, tenant, batch)
		if err != nil {
			return nil, fmt.Errorf("write users of rows %d to %d: %w (the batches before are written; run again to pick up)", page[0].row, page[len(page)-1].row, err)
		}
		rep.Written.UsersCreated += br.Created
		rep.Written.UsersUpdated += br.Updated
		rep.Written.Emails += br.Emails
		rep.Written.SocialAccounts += br.Socials
		rep.Written.Authenticators += br.Authenticators
		for _, sk := range br.Skipped {
			rep.Skipped = append(rep.Skipped, Skipped{Table: s.userTable, Row: page[sk.Index].row, SourceID: sk.SourceID, Reason: sk.Reason})
		}
		if opts.Progress != nil {
			opts.Progress.Add(len(page))
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	if rep.Seconds > 0 {
		rep.UsersPerSec = float64(rep.Read[s.userTable]) / rep.Seconds
	}
	return rep, nil
}

// sourcePage is one page of users with their allauth rows, or the error
// that ended the reading.
type sourcePage struct {
	users   []*sourceUser
	related map[string]int
	err     error
}

// readPages reads the user table page by page, each page with its allauth
// rows, into pages, which it closes at the end (after an error page, if
// one).
func (s *schema) readPages(ctx context.Context, tx pgx.Tx, size int, pages chan<- sourcePage) {
	defer close(pages)
	var after *string
	row := 0
	for {
		page, err := s.readUsers(ctx, tx, after, size, row)
		related := map[string]int{}
		if err == nil && len(page) > 0 {
			err = s.fill(ctx, tx, page, related)
		}
		if err == nil && len(page) == 0 {
			return
		}
		select {
		case pages <- sourcePage{users: page, related: related, err: err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
		row += len(page)
		after = &page[len(page)-1].id
	}
}

// fill reads allauth's rows of a page of users into them.
func (s *schema) fill(ctx context.Context, tx pgx.Tx, page []*sourceUser, counts map[string]int) error {
	byID := make(map[string]*sourceUser, len(page))
	ids := make([]string, len(page))
	for i, u := range page {
		byID[u.id], ids[i] = u, u.id
	}
	return s.related(ctx, tx, ids, counts, func(table, userID string, v []any) error {
		u := byID[userID]
		if u == nil {
			return errors.New("read " + table + ": a row of a user not asked for")
		}
		switch table {
		case tableEmails:
			email, _ := v[0].(string)
			verified, _ := v[1].(bool)
			primary, _ := v[2].(bool)
			u.user.Emails = append(u.user.Emails, portable.Email{Email: email, Verified: verified, Primary: primary})
		case tableSocials:
			provider, _ := v[0].(string)
			uid, _ := v[1].(string)
			u.user.Socials = append(u.user.Socials, portable.Social{Provider: provider, UID: uid, ExtraData: rawJSON(v[2]),
				LastLogin: timeOf(v[3]), DateJoined: timeOf(v[4])})
		case tableMFA:
			typ, _ := v[0].(string)
			u.user.Authenticators = append(u.user.Authenticators, portable.Authenticator{Type: typ, Data: rawJSON(v[1]),
				CreatedAt: timeOf(v[2]), LastUsedAt: timeOf(v[3])})
		}
		return nil
	})
}

// names puts the user's first and last name into the profile where the
// tenant declares those fields, else into private metadata; and the user
// table's email, when allauth has no address for the user, as their
// unverified primary address.
func (u *sourceUser) names(profileFirst, profileLast bool) {
	profile, private := map[string]string{}, map[string]string{}
	for _, f := range []struct {
		key, value string
		declared   bool
	}{{"first_name", u.first, profileFirst}, {"last_name", u.last, profileLast}} {
		switch {
		case f.value == "":
		case f.declared:
			profile[f.key] = f.value
		default:
			private[f.key] = f.value
		}
	}
	if len(profile) > 0 {
		u.user.Profile, _ = json.Marshal(profile)
	}
	if len(private) > 0 {
		u.user.PrivateMetadata, _ = json.Marshal(private)
	}
	if len(u.user.Emails) == 0 && u.email != "" {
		u.user.Emails = []portable.Email{{Email: u.email, Primary: true}}
	}
}

func timeOf(v any) *time.Time {
	if t, ok := v.(time.Time); ok {
		return &t
	}
	return nil
}
