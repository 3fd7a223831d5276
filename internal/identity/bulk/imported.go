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
// transaction, set-based: COPY into temporary tables, then one statement
// per step, whatever the batch's size.

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

// Staged is a batch copied into the transaction's temporary tables.
type Staged struct {
	tenantID uuid.UUID
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

// StageImport copies users into temporary tables of tx (dropped at its
// end), finds those the tenant already holds by source id, and the ones
// that clash: a username of another user of the tenant or of an earlier
// user of the batch; with uniqueEmail (ACCOUNT_UNIQUE_EMAIL), an address
// of another user or of an earlier user of the batch.
func StageImport(ctx context.Context, tx pgx.Tx, tenantID uuid.UUID, users []ImportUser, uniqueEmail bool) (*Staged, error) {
	// A dry run writes every batch in one transaction: the previous
	// batch's tables go first.
	if _, err := tx.Exec(ctx, `DROP TABLE IF EXISTS import_users, import_emails`); err != nil {
		return nil, fmt.Errorf("bulk: stage users: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE import_users (
		idx integer PRIMARY KEY, source_id text NOT NULL, username text, username_folded text,
		password_hash text NOT NULL, is_active boolean NOT NULL, date_joined timestamptz NOT NULL,
		last_login timestamptz, profile jsonb NOT NULL, public_metadata jsonb NOT NULL,
		private_metadata jsonb NOT NULL, user_id bigint, created boolean NOT NULL DEFAULT false
	) ON COMMIT DROP`); err != nil {
		return nil, fmt.Errorf("bulk: stage users: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TEMPORARY TABLE import_emails (
		idx integer NOT NULL, email text NOT NULL, email_folded text NOT NULL,
		verified boolean NOT NULL, is_primary boolean NOT NULL
	) ON COMMIT DROP`); err != nil {
		return nil, fmt.Errorf("bulk: stage emails: %w", err)
	}
	i := 0
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_users"},
		[]string{"idx", "source_id", "username", "username_folded", "password_hash", "is_active", "date_joined", "last_login", "profile", "public_metadata", "private_metadata"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i == len(users) {
				return nil, nil
			}
			u := &users[i]
			i++
			var name, key *string
			if u.Username != "" {
				name, key = &u.Username, &u.UsernameKey
			}
			return []any{u.Index, u.SourceID, name, key, u.PasswordHash, u.IsActive, u.DateJoined, u.LastLogin,
				jsonText(u.Profile), jsonText(u.PublicMetadata), jsonText(u.PrivateMetadata)}, nil
		})); err != nil {
		return nil, fmt.Errorf("bulk: copy users: %w", err)
	}
	ui, ei := 0, 0
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_emails"},
		[]string{"idx", "email", "email_folded", "verified", "is_primary"},
		pgx.CopyFromFunc(func() ([]any, error) {
			for ui < len(users) && ei == len(users[ui].Emails) {
				ui, ei = ui+1, 0
			}
			if ui == len(users) {
				return nil, nil
			}
			u, e := &users[ui], users[ui].Emails[ei]
			ei++
			return []any{u.Index, e.Email, e.EmailKey, e.Verified, e.Primary}, nil
		})); err != nil {
		return nil, fmt.Errorf("bulk: copy emails: %w", err)
	}
	// The planner knows nothing of a new temporary table: without
	// statistics it may scan users instead of probing its indexes.
	if _, err := tx.Exec(ctx, `ANALYZE import_users, import_emails`); err != nil {
		return nil, fmt.Errorf("bulk: analyze staged: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE import_users i SET user_id = u.id
		FROM users u WHERE u.tenant_id = $1 AND u.source_id = i.source_id`, tenantID); err != nil {
		return nil, fmt.Errorf("bulk: find imported users: %w", err)
	}
	s := &Staged{tenantID: tenantID, Existing: map[int]int64{}, Conflicts: map[int]string{}}
	rows, err := tx.Query(ctx, `SELECT idx, user_id FROM import_users WHERE user_id IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("bulk: read imported users: %w", err)
	}
	for rows.Next() {
		var idx int
		var id int64
		if err := rows.Scan(&idx, &id); err != nil {
			rows.Close()
			return nil, fmt.Errorf("bulk: read imported users: %w", err)
		}
		s.Existing[idx] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("bulk: read imported users: %w", err)
	}
	clashes := `SELECT i.idx, 'username ' || i.username || ' belongs to another user of the tenant'
		FROM import_users i JOIN users u ON u.tenant_id = $1 AND u.username_folded = i.username_folded
		WHERE u.id IS DISTINCT FROM i.user_id
	UNION ALL
	SELECT idx, 'username ' || username || ' also belongs to an earlier user of the import'
		FROM (SELECT idx, username, row_number() OVER (PARTITION BY username_folded ORDER BY idx) AS n
			FROM import_users WHERE username_folded IS NOT NULL) d WHERE n > 1`
	if uniqueEmail {
		clashes += `
	UNION ALL
	SELECT e.idx, 'email ' || e.email || ' belongs to another user of the tenant'
		FROM import_emails e JOIN import_users i ON i.idx = e.idx
		JOIN email_addresses a ON a.tenant_id = $1 AND a.email_folded = e.email_folded
		WHERE a.user_id IS DISTINCT FROM i.user_id
	UNION ALL
	SELECT idx, 'email ' || email || ' also belongs to an earlier user of the import'
		FROM (SELECT idx, email, row_number() OVER (PARTITION BY email_folded ORDER BY idx) AS n
			FROM import_emails) d WHERE n > 1`
	}
	if err := readConflicts(ctx, tx, s.Conflicts, clashes, tenantID); err != nil {
		return nil, err
	}
	return s, nil
}

// readConflicts adds the (index, reason) rows of a query to conflicts,
// keeping the first reason of an index.
func readConflicts(ctx context.Context, tx pgx.Tx, conflicts map[int]string, sql string, args ...any) error {
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
		if _, ok := conflicts[idx]; !ok {
			conflicts[idx] = reason
		}
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

// Write writes the staged users but the indexes in skip: new users get
// the tenant's next ids (its counter is bumped once for all of them and
// stays locked until tx ends), users found by source id are updated, and
// each user's addresses become the batch's (kept rows keep their ids).
func (s *Staged) Write(ctx context.Context, tx pgx.Tx, skip []int) (*Written, error) {
	if len(skip) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM import_users WHERE idx = ANY($1)`, skip); err != nil {
			return nil, fmt.Errorf("bulk: drop skipped: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM import_emails WHERE idx = ANY($1)`, skip); err != nil {
			return nil, fmt.Errorf("bulk: drop skipped: %w", err)
		}
	}
	var fresh int64
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM import_users WHERE user_id IS NULL`).Scan(&fresh); err != nil {
		return nil, fmt.Errorf("bulk: count new users: %w", err)
	}
	if fresh > 0 {
		var last int64
		take := `INSERT INTO user_id_counters AS c (tenant_id, last_id) VALUES ($1, $2)
			ON CONFLICT (tenant_id) DO UPDATE SET last_id = c.last_id + $2 RETURNING last_id`
		if s.DryRun {
			take = `SELECT greatest((SELECT max(last_id) FROM user_id_counters WHERE tenant_id = $1),
				(SELECT max(id) FROM users WHERE tenant_id = $1), 0) + $2`
		}
		if err := tx.QueryRow(ctx, take, s.tenantID, fresh).Scan(&last); err != nil {
			return nil, fmt.Errorf("bulk: take user ids: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE import_users i SET user_id = $1 + n.rn, created = true
			FROM (SELECT idx, row_number() OVER (ORDER BY idx) AS rn FROM import_users WHERE user_id IS NULL) n
			WHERE i.idx = n.idx`, last-fresh); err != nil {
			return nil, fmt.Errorf("bulk: number new users: %w", err)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO users AS u (tenant_id, id, source_id, username, username_folded, password_hash,
			is_active, date_joined, last_login, profile, public_metadata, private_metadata)
		SELECT $1, user_id, source_id, username, username_folded, password_hash,
			is_active, date_joined, last_login, profile, public_metadata, private_metadata
		FROM import_users ORDER BY user_id
		ON CONFLICT (tenant_id, id) DO UPDATE SET source_id = excluded.source_id, username = excluded.username,
			username_folded = excluded.username_folded, password_hash = excluded.password_hash,
			is_active = excluded.is_active, date_joined = excluded.date_joined, last_login = excluded.last_login,
			profile = excluded.profile, public_metadata = excluded.public_metadata,
			private_metadata = excluded.private_metadata`, s.tenantID); err != nil {
		return nil, fmt.Errorf("bulk: write users: %w", err)
	}
	// Updated users: the primary flag moves in two steps (one primary per
	// user is checked row by row), and addresses the batch no longer lists go.
	if _, err := tx.Exec(ctx, `UPDATE email_addresses a SET is_primary = false
		FROM import_users i WHERE a.tenant_id = $1 AND a.user_id = i.user_id AND NOT i.created AND a.is_primary`, s.tenantID); err != nil {
		return nil, fmt.Errorf("bulk: reset primary addresses: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM email_addresses a USING import_users i
		WHERE a.tenant_id = $1 AND a.user_id = i.user_id AND NOT i.created
		AND NOT EXISTS (SELECT 1 FROM import_emails e WHERE e.idx = i.idx AND e.email_folded = a.email_folded)`, s.tenantID); err != nil {
		return nil, fmt.Errorf("bulk: drop old addresses: %w", err)
	}
	tag, err := tx.Exec(ctx, `INSERT INTO email_addresses (tenant_id, user_id, email, email_folded, verified, is_primary)
		SELECT $1, i.user_id, e.email, e.email_folded, e.verified, e.is_primary
		FROM import_emails e JOIN import_users i ON i.idx = e.idx
		ON CONFLICT (tenant_id, user_id, email_folded) DO UPDATE SET email = excluded.email,
			verified = excluded.verified, is_primary = excluded.is_primary`, s.tenantID)
	if err != nil {
		return nil, fmt.Errorf("bulk: write addresses: %w", err)
	}
	w := &Written{IDs: map[int]int64{}, Emails: int(tag.RowsAffected())}
	rows, err := tx.Query(ctx, `SELECT idx, user_id, created FROM import_users`)
	if err != nil {
		return nil, fmt.Errorf("bulk: read written users: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var idx int
		var id int64
		var created bool
		if err := rows.Scan(&idx, &id, &created); err != nil {
			return nil, fmt.Errorf("bulk: read written users: %w", err)
		}
		w.IDs[idx] = id
		if created {
			w.Created++
		} else {
			w.Updated++
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("bulk: read written users: %w", err)
	}
	return w, nil
}

// jsonText is a JSON document for a jsonb column, {} when empty.
func jsonText(b []byte) string {
	if len(b) == 0 {
		return "{}"
	}
	return string(b)
}
