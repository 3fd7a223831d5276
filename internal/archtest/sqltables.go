package archtest

import (
	"regexp"
	"slices"
	"strings"
)

var (
	// statementStart is how an SQL statement in a string literal begins.
	// Keywords in capitals, as this code writes SQL: a sentence starting
	// "Select a valid choice." is no statement.
	statementStart = regexp.MustCompile(`^\s*(SELECT\s|INSERT\s+INTO\s|UPDATE\s+\w+(\s+\w+)?\s+SET\s|DELETE\s+FROM\s|WITH\s+\w+\s+AS\s|TRUNCATE\s|LOCK\s+TABLE\s|COPY\s+\w+\s|ANALYZE\s|VACUUM\s|ALTER\s+TABLE\s|CREATE\s+(UNIQUE\s+)?(TABLE|INDEX)\s|DROP\s+(TABLE|INDEX)\s)`)
	// tableRef finds the names that follow the keywords naming a table.
	tableRef = regexp.MustCompile(`(?i)\b(?:FROM|JOIN|INTO|UPDATE|USING|TABLE|TRUNCATE|COPY)\s+(?:ONLY\s+|IF\s+(?:NOT\s+)?EXISTS\s+)?"?([A-Za-z_][A-Za-z0-9_]*)"?`)
	// writeRef finds the names of the tables a statement changes.
	writeRef = regexp.MustCompile(`(?i)\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?|COPY|ALTER\s+TABLE|DROP\s+TABLE|LOCK\s+TABLE)\s+(?:ONLY\s+|IF\s+EXISTS\s+)?"?([A-Za-z_][A-Za-z0-9_]*)"?`)
	// analyzeList finds the tables of ANALYZE and VACUUM, a list.
	analyzeList = regexp.MustCompile(`(?i)\b(?:ANALYZE|VACUUM(?:\s+(?:FULL|FREEZE|VERBOSE|ANALYZE))*)\s+([A-Za-z_][A-Za-z0-9_]*(?:\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*)`)
	// regclass finds to_regclass('table') and 'table'::regclass.
	regclass   = regexp.MustCompile(`(?i)to_regclass\(\s*'([A-Za-z_][A-Za-z0-9_]*)'|'([A-Za-z_][A-Za-z0-9_]*)'::regclass`)
	sqlComment = regexp.MustCompile(`--[^\n]*`)
	sqlQuoted  = regexp.MustCompile(`'(?:[^']|'')*'`)
)

// IsStatement reports whether a string literal is an SQL statement.
func IsStatement(s string) bool { return statementStart.MatchString(s) }

// Tables returns the lower-cased names an SQL statement uses as tables
// (after FROM, JOIN, INTO, UPDATE, USING, TABLE, ...), sorted and without
// repeats. Names that are no table (a CTE, a function after FROM) come back
// too; the caller keeps the ones its schema has.
func Tables(sql string) []string {
	sql = sqlComment.ReplaceAllString(sql, " ")
	var out []string
	for _, m := range regclass.FindAllStringSubmatch(sql, -1) {
		out = append(out, strings.ToLower(m[1]+m[2]))
	}
	sql = sqlQuoted.ReplaceAllString(sql, "''")
	for _, m := range tableRef.FindAllStringSubmatch(sql, -1) {
		out = append(out, strings.ToLower(m[1]))
	}
	return sorted(append(out, analyzed(sql)...))
}

// Writes returns the lower-cased names of the tables an SQL statement
// changes (INSERT INTO, UPDATE, DELETE FROM, TRUNCATE, COPY, ALTER, DROP,
// LOCK, ANALYZE, VACUUM), sorted and without repeats; a subset of Tables.
func Writes(sql string) []string {
	sql = sqlQuoted.ReplaceAllString(sqlComment.ReplaceAllString(sql, " "), "''")
	var out []string
	for _, m := range writeRef.FindAllStringSubmatch(sql, -1) {
		out = append(out, strings.ToLower(m[1]))
	}
	return sorted(append(out, analyzed(sql)...))
}

// analyzed returns the tables of ANALYZE and VACUUM lists.
func analyzed(sql string) []string {
	var out []string
	for _, m := range analyzeList.FindAllStringSubmatch(sql, -1) {
		for _, name := range strings.Split(m[1], ",") {
			out = append(out, strings.ToLower(strings.TrimSpace(name)))
		}
	}
	return out
}

func sorted(names []string) []string {
	slices.Sort(names)
	return slices.Compact(names)
}

// Owns reports whether package pkg (a directory, as Site.Package) may run
// SQL on a table owned by owner: owner itself or a package under it
// ("internal/identity/bulk" is one of identity's rooms).
func Owns(owner, pkg string) bool {
	return pkg == owner || strings.HasPrefix(pkg, owner+"/")
}

// Check returns what is wrong with sites under owners (table -> owning
// package) and reads (package -> tables of other owners it may read, never
// change): a site whose statement could not be worked out, and every table
// a site's package neither owns nor may read. Names that are no table of
// owners (a CTE, a function after FROM) are ignored.
func Check(sites []Site, owners map[string]string, reads map[string][]string) []string {
	var out []string
	for _, s := range sites {
		if s.Unresolved {
			out = append(out, s.Pos+": "+s.Call+": the statement cannot be read from the source (pass a literal or a constant)")
			continue
		}
		for _, t := range s.Tables {
			owner, ok := owners[t]
			if !ok || Owns(owner, s.Package) {
				continue
			}
			switch {
			case slices.Contains(s.Writes, t):
				out = append(out, s.Pos+": package "+s.Package+" changes table "+t+", owned by "+owner+" ("+s.Call+": "+short(s.SQL)+")")
			case !slices.Contains(reads[s.Package], t):
				out = append(out, s.Pos+": package "+s.Package+" reads table "+t+", owned by "+owner+" ("+s.Call+": "+short(s.SQL)+")")
			}
		}
	}
	return out
}

// short is a statement on one line, cut for a message.
func short(sql string) string {
	sql = strings.Join(strings.Fields(sql), " ")
	if len(sql) > 100 {
		sql = sql[:100] + "…"
	}
	return sql
}
