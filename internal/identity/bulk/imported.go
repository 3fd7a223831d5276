package bulk

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// Imported users (issue #22: `hallpass import`, internal/portable). Unlike
// the synthetic loads above, these are real users: the writer checks them
// (internal/portable validates each one, StageImport finds the ones that
// clash with the tenant's other users) and writes a batch in one
// transaction, set-based: lookups with the batch's keys as arrays, COPY,
// one statement per step whatever the batch's size.

// ImportUser is one user of an import batch; the caller has validated it
// and computed the comparison keys.
type ImportUser struct {
	// Index is the user's position in the batch; reports use it.
	Index    int
	SourceID string
	// Username and UsernameKey are empty for none.
	Username, UsernameKey string
	PasswordHash          string
	IsActive              bool
	DateJoined            time.Time
	LastLogin             *time.Time
	// Profile, PublicMetadata and PrivateMetadata are JSON objects.
	Profile, PublicMetadata, PrivateMetadata []byte
	Emails                                   []ImportEmail
}

// ImportEmail is one address of an imported user; a user's addresses have
// distinct keys and at most one is primary.
type ImportEmail struct {
	Email, EmailKey   string
	Verified, Primary bool
}

// Staged is a batch checked against the tenant's users.
type Staged struct {
	tenantID uuid.UUID
	users    []ImportUser
	// Existing maps the index of each user the tenant holds already (by
	// source id) to their user id.
	Existing map[int]int64
	// Conflicts maps the index of each user that cannot be written to why.
	Conflicts map[int]string
	// DryRun numbers new users after the tenant's highest id without
	// taking ids from its counter (which would lock it, and every signup
	// into the tenant with it, until the dry run ends).
	DryRun bool
}

// StageImport finds the users of a batch the tenant already holds (by
// source id) and the ones that clash: a username of another user of the
// tenant or of an earlier user of the batch; with uniqueEmail
// (ACCOUNT_UNIQUE_EMAIL), an address of another user or of an earlier user
// of the batch. Its lookups pass the batch's keys as arrays: no temporary
// table, one statement each.
func StageImport(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, users []ImportUser, uniqueEmail bool) (*Staged, error) {
	s := &Staged{tenantID: tenantID, users: users, Existing: map[int]int64{}, Conflicts: map[int]string{}}
	idx := make([]int32, len(users))
	sources := make([]string, len(users))
	for i := range users {
		idx[i], sources[i] = int32(users[i].Index), users[i].SourceID
	}
	rows, err := tx.Query(ctx, `SELECT k.idx, u.id FROM unnest($2::integer[], $3::text[]) AS k (idx, source_id)
		JOIN users u ON u.tenant_id = $1 AND u.source_id = k.source_id`, tenantID, idx, sources)
	if err != nil {
		return nil, fmt.Errorf("bulk: find imported users: %w", err)
	}
	for rows.Next() {
		var i int
		var id int64
		if err := rows.Scan(&i, &id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("bulk: find imported users: %w", err)
		}
		s.Existing[i] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("bulk: find imported users: %w", err)
	}
	// Within the batch: the first user with a key keeps it.
	names, emails := map[string]bool{}, map[string]bool{}
	var nameIdx, emailIdx []int32
	var nameKeys, emailKeys, nameShown, emailShown []string
	var nameOwner, emailOwner []*int64
	for i := range users {
		u := &users[i]
		owner := s.owner(u.Index)
		if u.UsernameKey != "" {
			if names[u.UsernameKey] {
				s.conflict(u.Index, "username "+u.Username+" also belongs to an earlier user of the import")
			}
			names[u.UsernameKey] = true
			nameIdx, nameKeys, nameShown, nameOwner = append(nameIdx, int32(u.Index)), append(nameKeys, u.UsernameKey), append(nameShown, u.Username), append(nameOwner, owner)
		}
		if !uniqueEmail {
			continue
		}
		for _, e := range u.Emails {
			if emails[e.EmailKey] {
				s.conflict(u.Index, "email "+e.Email+" also belongs to an earlier user of the import")
			}
			emails[e.EmailKey] = true
			emailIdx, emailKeys, emailShown, emailOwner = append(emailIdx, int32(u.Index)), append(emailKeys, e.EmailKey), append(emailShown, e.Email), append(emailOwner, owner)
		}
	}
	if err := s.readConflicts(ctx, tx, `SELECT k.idx, 'username ' || k.shown || ' belongs to another user of the tenant'
		FROM unnest($2::integer[], $3::text[], $4::text[], $5::bigint[]) AS k (idx, folded, shown, user_id)
		JOIN users u ON u.tenant_id = $1 AND u.username_folded = k.folded
		WHERE u.id IS DISTINCT FROM k.user_id`, tenantID, nameIdx, nameKeys, nameShown, nameOwner); err != nil {
		return nil, err
	}
	if len(emailIdx) > 0 {
		if err := s.readConflicts(ctx, tx, `SELECT k.idx, 'email ' || k.shown || ' belongs to another user of the tenant'
			FROM unnest($2::integer[], $3::text[], $4::text[], $5::bigint[]) AS k (idx, folded, shown, user_id)
			JOIN email_addresses a ON a.tenant_id = $1 AND a.email_folded = k.folded
			WHERE a.user_id IS DISTINCT FROM k.user_id`, tenantID, emailIdx, emailKeys, emailShown, emailOwner); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// owner is the id the tenant holds the batch's user idx under, or nil.
func (s *Staged) owner(idx int) *int64 {
	if id, ok := s.Existing[idx]; ok {
		return &id
	}
	return nil
}

// conflict records why idx cannot be written, keeping the first reason.
func (s *Staged) conflict(idx int, reason string) {
	if _, ok := s.Conflicts[idx]; !ok {
		s.Conflicts[idx] = reason
	}
}

// readConflicts records the (index, reason) rows of a query.
func (s *Staged) readConflicts(ctx context.Context, tx pgx.Tx, sql string, args ...any) error {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("bulk: find conflicts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var idx int
		var reason string
		if err := rows.Scan(&idx, &reason); err != nil {
			return fmt.Errorf("bulk: find conflicts: %w", err)
		}
		s.conflict(idx, reason)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("bulk: find conflicts: %w", err)
	}
	return nil
}

// Written is what Write did: the user id of every written index, and
// counts.
type Written struct {
	IDs              map[int]int64
	Created, Updated int
	Emails           int
}

// Write writes the staged users but the indexes in skip. New users get
// the tenant's next ids (its counter is bumped once for all of them and
// stays locked until tx ends; not in a dry run) and are copied straight
// into users, their addresses into email_addresses. Users found by source
// id are updated from a temporary table, and their addresses replaced.
func (s *Staged) Write(ctx context.Context, tx pgx.Tx, skip []int) (*Written, error) {
	skipped := make(map[int]bool, len(skip))
	for _, i := range skip {
		skipped[i] = true
	}
	w := &Written{IDs: map[int]int64{}}
	var fresh, old []*ImportUser
	for i := range s.users {
		u := &s.users[i]
		switch {
		case skipped[u.Index]:
		case s.owner(u.Index) != nil:
			old = append(old, u)
			w.IDs[u.Index] = s.Existing[u.Index]
		default:
			fresh = append(fresh, u)
		}
	}
	if len(fresh) > 0 {
		var last int64
		take := `INSERT INTO user_id_counters AS c (tenant_id, last_id) VALUES ($1, $2)
			ON CONFLICT (tenant_id) DO UPDATE SET last_id = c.last_id + $2 RETURNING last_id`
		if s.DryRun {
			take = `SELECT greatest((SELECT max(last_id) FROM user_id_counters WHERE tenant_id = $1),
				(SELECT max(id) FROM users WHERE tenant_id = $1), 0) + $2`
		}
		if err := tx.QueryRow(ctx, take, s.tenantID, int64(len(fresh))).Scan(&last); err != nil {
			return nil, fmt.Errorf("bulk: take user ids: %w", err)
		}
		for i, u := range fresh {
			w.IDs[u.Index] = last - int64(len(fresh)) + int64(i) + 1
		}
		if _, err := copyFrom(ctx, tx, "users", []string{"tenant_id", "id", "source_id", "username", "username_folded", "password_hash",
			"is_active", "date_joined", "last_login", "profile", "public_metadata", "private_metadata"}, each(fresh),
			func(u *ImportUser) []any {
				return []any{s.tenantID, w.IDs[u.Index], u.SourceID, nullable(u.Username), nullable(u.UsernameKey), u.PasswordHash,
					u.IsActive, u.DateJoined, u.LastLogin, jsonText(u.Profile), jsonText(u.PublicMetadata), jsonText(u.PrivateMetadata)}
			}); err != nil {
			return nil, err
		}
		w.Created = len(fresh)
	}
	if len(old) > 0 {
		if err := s.update(ctx, tx, old); err != nil {
			return nil, err
		}
		w.Updated = len(old)
	}
	all := append(fresh, old...)
	n, err := copyFrom(ctx, tx, "email_addresses", []string{"tenant_id", "user_id", "email", "email_folded", "verified", "is_primary"},
		eachEmail(all), func(e emailOf) []any {
			return []any{s.tenantID, w.IDs[e.u.Index], e.e.Email, e.e.EmailKey, e.e.Verified, e.e.Primary}
		})
	if err != nil {
		return nil, err
	}
	w.Emails = int(n)
	return w, nil
}

// update writes users the tenant holds already, through a temporary table,
// and drops their addresses (Write copies the batch's in again).
func (s *Staged) update(ctx context.Context, tx pgx.Tx, old []*ImportUser) error {
	// A dry run writes every batch in one transaction: the previous
	// batch's table goes first.
	if _, err := tx.Exec(ctx, `DROP TABLE IF EXISTS import_users`); err != nil {
		return fmt.Errorf("bulk: stage users: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE import_users (
		id bigint PRIMARY KEY, source_id text NOT NULL, username text, username_folded text,
		password_hash text NOT NULL, is_active boolean NOT NULL, date_joined timestamptz NOT NULL,
		last_login timestamptz, profile jsonb NOT NULL, public_metadata jsonb NOT NULL, private_metadata jsonb NOT NULL
	) ON COMMIT DROP`); err != nil {
		return fmt.Errorf("bulk: stage users: %w", err)
	}
	ids := make([]int64, len(old))
	if _, err := copyFrom(ctx, tx, "import_users", []string{"id", "source_id", "username", "username_folded", "password_hash",
		"is_active", "date_joined", "last_login", "profile", "public_metadata", "private_metadata"}, each(old),
		func(u *ImportUser) []any {
			return []any{s.Existing[u.Index], u.SourceID, nullable(u.Username), nullable(u.UsernameKey), u.PasswordHash,
				u.IsActive, u.DateJoined, u.LastLogin, jsonText(u.Profile), jsonText(u.PublicMetadata), jsonText(u.PrivateMetadata)}
		}); err != nil {
		return err
	}
	for i, u := range old {
		ids[i] = s.Existing[u.Index]
	}
	if _, err := tx.Exec(ctx, `UPDATE users u SET source_id = i.source_id, username = i.username,
			username_folded = i.username_folded, password_hash = i.password_hash, is_active = i.is_active,
			date_joined = i.date_joined, last_login = i.last_login, profile = i.profile,
			public_metadata = i.public_metadata, private_metadata = i.private_metadata
		FROM import_users i WHERE u.tenant_id = $1 AND u.id = i.id`, s.tenantID); err != nil {
		return fmt.Errorf("bulk: update users: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM email_addresses WHERE tenant_id = $1 AND user_id = ANY($2)`, s.tenantID, ids); err != nil {
		return fmt.Errorf("bulk: drop old addresses: %w", err)
	}
	return nil
}

// each streams a slice.
func each[T any](s []T) func() (T, bool) {
	i := 0
	return func() (T, bool) {
		var zero T
		if i == len(s) {
			return zero, false
		}
		i++
		return s[i-1], true
	}
}

type emailOf struct {
	u *ImportUser
	e ImportEmail
}

// eachEmail streams the addresses of users.
func eachEmail(users []*ImportUser) func() (emailOf, bool) {
	ui, ei := 0, 0
	return func() (emailOf, bool) {
		for ui < len(users) && ei == len(users[ui].Emails) {
			ui, ei = ui+1, 0
		}
		if ui == len(users) {
			return emailOf{}, false
		}
		ei++
		return emailOf{users[ui], users[ui].Emails[ei-1]}, true
	}
}

// nullable is s, or NULL when empty.
func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// jsonText is a JSON document for a jsonb column, {} when empty.
func jsonText(b []byte) string {
	if len(b) == 0 {
		return "{}"
	}
	return string(b)
}
