package djangoimport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hallpass/hallpass/internal/portable"
)

// The tables of a Django allauth project this importer reads.
const (
	tableEmails  = "account_emailaddress"
	tableSocials = "socialaccount_socialaccount"
	tableMFA     = "mfa_authenticator"
)

// userColumns are the user table's columns the importer maps (Django's
// AbstractUser); a custom user model's other columns are reported and
// ignored.
var userColumns = []string{"id", "password", "last_login", "is_superuser", "username", "first_name", "last_name",
	"email", "is_staff", "is_active", "date_joined"}

// notCarried are user columns read but not carried over, with why.
var notCarried = map[string]string{
	"is_staff":     "Django admin access has no Hallpass equivalent",
	"is_superuser": "Django admin access has no Hallpass equivalent",
}

var identifier = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// schema is what the source database holds.
type schema struct {
	userTable string
	// columns are the user table's columns, by name.
	columns map[string]bool
	// pkType is the SQL type of the user table's id.
	pkType string
	// has says which of allauth's tables exist.
	has map[string]bool
	// mfaHasLastUsed: mfa_authenticator has last_used_at (allauth 0.58+).
	mfaHasLastUsed bool
	// extra are the user table's columns nobody maps.
	extra []string
}

// readSchema finds the user table and allauth's tables, or says why the
// source is not a Django database this importer can read.
func readSchema(ctx context.Context, tx pgx.Tx, userTable string) (*schema, error) {
	if !identifier.MatchString(userTable) {
		return nil, fmt.Errorf("--user-table %q is not a plain table name", userTable)
	}
	s := &schema{userTable: userTable, columns: map[string]bool{}, has: map[string]bool{}}
	rows, err := tx.Query(ctx, `SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod)
		FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid
		WHERE c.relkind IN ('r', 'p', 'v') AND pg_catalog.pg_table_is_visible(c.oid)
		AND c.relname = ANY($1) AND a.attnum > 0 AND NOT a.attisdropped`,
		[]string{userTable, "django_migrations", tableEmails, tableSocials, tableMFA})
	if err != nil {
		return nil, fmt.Errorf("read the source's schema: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var table, column, typ string
		if err := rows.Scan(&table, &column, &typ); err != nil {
			return nil, fmt.Errorf("read the source's schema: %w", err)
		}
		s.has[table] = true
		if table == tableMFA && column == "last_used_at" {
			s.mfaHasLastUsed = true
		}
		if table == userTable {
			s.columns[column] = true
			if column == "id" {
				s.pkType = typ
			}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read the source's schema: %w", err)
	}
	if !s.has["django_migrations"] {
		return nil, errors.New("the source database has no django_migrations table: it is not a Django project's database (or the DSN's search_path does not reach its schema)")
	}
	if !s.has[userTable] {
		return nil, fmt.Errorf("the source database has no table %s: if the project has a custom user model, name its table with --user-table", userTable)
	}
	for _, need := range []string{"id", "password", "last_login"} {
		if !s.columns[need] {
			return nil, fmt.Errorf("table %s has no column %s: it is not a Django user table (AbstractBaseUser has id, password, last_login)", userTable, need)
		}
	}
	for c := range s.columns {
		if !slices.Contains(userColumns, c) {
			s.extra = append(s.extra, c)
		}
	}
	slices.Sort(s.extra)
	return s, nil
}

// userSelect is the statement reading one page of users: the first
// (first), or the one after a given id ($1). Two statements, not one with
// "$1 IS NULL OR": that would make every page scan the index from its
// start.
func userSelect(s *schema, first bool) string {
	col := func(name, fallback string) string {
		if s.columns[name] {
			return "u." + name
		}
		return fallback
	}
	where := `WHERE u.id > CAST($1::text AS ` + s.pkType + `)`
	if first {
		where = `WHERE $1::text IS NULL` // always true: $1 keeps its place
	}
	// The id goes out as text under another name: ORDER BY id would
	// otherwise sort by the text ("10" before "2").
	return `SELECT u.id::text AS source_pk, u.password, u.last_login, ` + col("username", "NULL::text") + `, ` +
		col("first_name", "''") + `, ` + col("last_name", "''") + `, ` + col("email", "''") + `, ` +
		col("is_active", "true") + `, ` + col("date_joined", "NULL::timestamptz") +
		` FROM ` + s.userTable + ` u ` + where + ` ORDER BY u.id LIMIT $2`
}

// sourceUser is one row of the user table with its position.
type sourceUser struct {
	row                int
	id                 string
	first, last, email string
	user               portable.User
}

// readUsers reads up to limit users after the id after (nil: from the
// start), numbering them from row.
func (s *schema) readUsers(ctx context.Context, tx pgx.Tx, after *string, limit, row int) ([]*sourceUser, error) {
	rows, err := tx.Query(ctx, userSelect(s, after == nil), after, limit)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.userTable, err)
	}
	defer rows.Close()
	var out []*sourceUser
	for rows.Next() {
		var u sourceUser
		var username *string
		var joined *time.Time
		var first, last, email *string
		if err := rows.Scan(&u.id, &u.user.PasswordHash, &u.user.LastLogin, &username, &first, &last, &email,
			&u.user.IsActive, &joined); err != nil {
			return nil, fmt.Errorf("read %s: %w", s.userTable, err)
		}
		row++
		u.row = row
		u.user.SourceID = "django:" + u.id
		if username != nil {
			u.user.Username = *username
		}
		if joined != nil {
			u.user.DateJoined = *joined
		}
		u.first, u.last, u.email = deref(first), deref(last), deref(email)
		out = append(out, &u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", s.userTable, err)
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// relatedSelect is the statement reading a table of allauth's rows of a
// page of users (their ids as text, $1); mfa_authenticator has
// last_used_at from allauth 0.58 on.
func relatedSelect(table, pkType string, lastUsed bool) string {
	ids := ` WHERE user_id = ANY(CAST($1::text[] AS ` + pkType + `[])) ORDER BY user_id, id`
	switch table {
	case tableEmails:
		return `SELECT user_id::text, email, verified, "primary" FROM account_emailaddress` + ids
	case tableSocials:
		return `SELECT user_id::text, provider, uid, extra_data::text, last_login, date_joined FROM socialaccount_socialaccount` + ids
	}
	if !lastUsed {
		return `SELECT user_id::text, type, data::text, created_at, NULL::timestamptz FROM mfa_authenticator` + ids
	}
	return `SELECT user_id::text, type, data::text, created_at, last_used_at FROM mfa_authenticator` + ids
}

// related reads allauth's rows of the users ids (the user table's ids as
// text) and hands each to add with the user's id; it returns how many it read.
func (s *schema) related(ctx context.Context, tx pgx.Tx, ids []string, counts map[string]int,
	add func(table, userID string, row []any) error) error {
	for _, table := range []string{tableEmails, tableSocials, tableMFA} {
		if !s.has[table] {
			continue
		}
		rows, err := tx.Query(ctx, relatedSelect(table, s.pkType, s.mfaHasLastUsed), ids)
		if err != nil {
			return fmt.Errorf("read %s: %w", table, err)
		}
		for rows.Next() {
			vals, err := rows.Values()
			if err != nil {
				rows.Close()
				return fmt.Errorf("read %s: %w", table, err)
			}
			counts[table]++
			if err := add(table, vals[0].(string), vals[1:]); err != nil {
				rows.Close()
				return err
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("read %s: %w", table, err)
		}
	}
	return nil
}

// rawJSON is a JSON text column as json.RawMessage, nil when NULL or empty.
func rawJSON(v any) json.RawMessage {
	s, _ := v.(string)
	if strings.TrimSpace(s) == "" {
		return nil
	}
	return json.RawMessage(s)
}
