// Package archtest checks the shape of the code rather than its behaviour:
// which package may run SQL on which table (issue 17: stores own their
// tables). Its tests read the repository's Go source with go/parser; nothing
// here runs in the server.
package archtest

import (
	"cmp"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// SQLCalls are the names of the methods that send SQL to Postgres (pgx's
// pool, connection and transaction methods, and a batch's Queue).
var SQLCalls = []string{"Exec", "Query", "QueryRow", "CopyFrom", "SendBatch", "Queue"}

// Site is one place where a package runs SQL: a call to one of SQLCalls, or
// a string literal that is a statement (held in a constant or a variable and
// run elsewhere).
type Site struct {
	// Package is the directory of the file, relative to the scanned root,
	// with forward slashes ("console", "internal/identity").
	Package string
	// Pos is file:line, relative to the scanned root.
	Pos string
	// File and Line are Pos's parts.
	File string
	Line int
	// Call is the method called ("Exec", ...), or "literal" for a statement
	// found in a string literal.
	Call string
	// SQL is the statement as far as it could be worked out from the
	// source ("?" for the parts computed at run time).
	SQL string
	// Tables are the tables the statement names, sorted; Writes those it
	// changes (INSERT, UPDATE, DELETE, COPY, TRUNCATE, ANALYZE, ...).
	Tables, Writes []string
	// Unresolved is set when the statement could not be worked out at all
	// (a parameter, a value from another function): the site is listed,
	// but its tables are unknown.
	Unresolved bool
}

// Scan reads every non-test, non-generated .go file under root, skipping
// the directories skip names (relative to root, e.g. "migrations") and any
// testdata or hidden directory, and returns its SQL sites.
func Scan(root string, skip ...string) ([]Site, error) {
	files := map[string][]string{} // package dir -> files
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			name := d.Name()
			if rel != "." && (name == "testdata" || name == "node_modules" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
				slices.Contains(skip, rel)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(rel, ".go") || strings.HasSuffix(rel, "_test.go") {
			return nil
		}
		files[path.Dir(rel)] = append(files[path.Dir(rel)], rel)
		return nil
	})
	if err != nil {
		return nil, err
	}
	srcs := map[string][]Source{}
	for dir, names := range files {
		for _, name := range names {
			b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
			if err != nil {
				return nil, err
			}
			srcs[dir] = append(srcs[dir], Source{Name: name, Text: string(b)})
		}
	}
	return ScanSources(srcs)
}

// Source is one Go file to scan: its path relative to the root (which names
// its package directory) and its text.
type Source struct {
	Name, Text string
}

// ScanSources returns the SQL sites of the given files, keyed by package
// directory. Generated files (a "Code generated ... DO NOT EDIT." line) are
// skipped. Constants of other scanned packages are followed when a call
// names them (audit.SomeSQL).
func ScanSources(pkgs map[string][]Source) ([]Site, error) {
	fset := token.NewFileSet()
	parsed := map[string]*pkg{}
	for dir, srcs := range pkgs {
		p := &pkg{dir: dir, values: map[string]ast.Expr{}, funcs: map[string]*ast.FuncDecl{}}
		for _, src := range srcs {
			f, err := parser.ParseFile(fset, src.Name, src.Text, parser.ParseComments)
			if err != nil {
				return nil, err
			}
			if ast.IsGenerated(f) {
				continue
			}
			p.files = append(p.files, f)
			p.collect(f)
		}
		parsed[dir] = p
	}
	s := &scanner{fset: fset, pkgs: parsed}
	var sites []Site
	for _, p := range parsed {
		// First the calls of every file; the literals they use, wherever
		// those are, are theirs.
		used := map[token.Pos]bool{}
		for _, f := range p.files {
			sites = append(sites, s.calls(p, f, used)...)
		}
		for _, f := range p.files {
			sites = append(sites, s.literals(p, f, used)...)
		}
	}
	slices.SortFunc(sites, func(a, b Site) int { return cmp.Or(strings.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line)) })
	return sites, nil
}

// pkg is one parsed package: its files and its package-level string
// constants and variables, and functions (whose returns may be SQL).
type pkg struct {
	dir    string
	files  []*ast.File
	values map[string]ast.Expr
	funcs  map[string]*ast.FuncDecl
}

func (p *pkg) collect(f *ast.File) {
	for _, d := range f.Decls {
		switch d := d.(type) {
		case *ast.GenDecl:
			for _, spec := range d.Specs {
				vs, ok := spec.(*ast.ValueSpec)
				if !ok || len(vs.Values) != len(vs.Names) {
					continue
				}
				for i, n := range vs.Names {
					p.values[n.Name] = vs.Values[i]
				}
			}
		case *ast.FuncDecl:
			if d.Recv == nil {
				p.funcs[d.Name.Name] = d
			}
		}
	}
}

type scanner struct {
	fset *token.FileSet
	pkgs map[string]*pkg
}

// unknown stands for the parts of a statement computed at run time.
const unknown = "?"

// site makes a Site of node n.
func (s *scanner) site(p *pkg, n ast.Node, call, sql string, unresolved bool) Site {
	pos := s.fset.Position(n.Pos())
	return Site{Package: p.dir, Pos: pos.Filename + ":" + strconv.Itoa(pos.Line), File: pos.Filename, Line: pos.Line,
		Call: call, SQL: sql, Tables: Tables(sql), Writes: Writes(sql), Unresolved: unresolved}
}

// calls returns the sites of f's calls to SQLCalls, marking the literals
// their statements were read from in used.
func (s *scanner) calls(p *pkg, f *ast.File, used map[token.Pos]bool) []Site {
	var sites []Site
	site := func(n ast.Node, call, sql string, unresolved bool) {
		sites = append(sites, s.site(p, n, call, sql, unresolved))
	}
	var fn *ast.FuncDecl
	ast.Inspect(f, func(n ast.Node) bool {
		if fd, ok := n.(*ast.FuncDecl); ok {
			fn = fd
		}
		c, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := c.Fun.(*ast.SelectorExpr)
		if !ok || !slices.Contains(SQLCalls, sel.Sel.Name) || isPackage(f, sel.X) {
			// A function of a package (audit.Queue) is not a method of
			// pgx's; what it runs is found in its own package.
			return true
		}
		r := resolver{s: s, p: p, f: f, fn: fn, used: used}
		switch sel.Sel.Name {
		case "Exec", "Query", "QueryRow":
			// (ctx, sql, args...): a call with fewer arguments is not
			// pgx's (a Fiber query parameter, a Redis pipeline's Exec).
			if len(c.Args) < 2 {
				return true
			}
			r.statement(c.Args[1], func(sql string, unresolved bool) { site(c, sel.Sel.Name, sql, unresolved) })
		case "Queue":
			// A batch's (sql, args...); the mail queue's Queue(ctx, ...)
			// is not SQL.
			if len(c.Args) >= 1 {
				r.statement(c.Args[0], func(sql string, unresolved bool) { site(c, "Queue", sql, unresolved) })
			}
		case "CopyFrom":
			// (ctx, pgx.Identifier{table}, columns, rows)
			if len(c.Args) == 4 {
				tables, ok := r.identifier(c.Args[1])
				var stmts []string
				for _, t := range strings.Split(tables, "; ") {
					stmts = append(stmts, "COPY "+t+" FROM STDIN")
				}
				site(c, "CopyFrom", strings.Join(stmts, "; "), !ok)
			}
		case "SendBatch":
			// The statements are the batch's Queue calls; the send itself
			// is listed.
			if len(c.Args) == 2 {
				site(c, "SendBatch", "", false)
			}
		}
		return true
	})
	return sites
}

// literals returns the statements in f's string literals that no call
// used (see calls): held in a variable or passed to a helper that runs
// them, whole or concatenated ("SELECT " + columns + " FROM t").
func (s *scanner) literals(p *pkg, f *ast.File, used map[token.Pos]bool) []Site {
	var sites []Site
	site := func(n ast.Node, call, sql string, unresolved bool) {
		sites = append(sites, s.site(p, n, call, sql, unresolved))
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch e := n.(type) {
		case *ast.BinaryExpr:
			if e.Op != token.ADD {
				return true
			}
			mine := map[token.Pos]bool{}
			r := resolver{s: s, p: p, f: f, used: mine}
			v, ok := r.str(e, 0)
			if !ok || !IsStatement(v) || used[firstLiteral(e)] {
				return true
			}
			site(e, "literal", v, false)
			for pos := range mine {
				used[pos] = true
			}
			return false
		case *ast.BasicLit:
			if e.Kind == token.STRING && !used[e.Pos()] {
				if v, err := strconv.Unquote(e.Value); err == nil && IsStatement(v) {
					site(e, "literal", v, false)
				}
			}
		}
		return true
	})
	return sites
}

// statement reports the SQL argument e of a call: its text, or, when it is
// a string parameter of the enclosing function (a helper that runs what
// its callers pass, found as literals there), nothing; anything else that
// cannot be worked out is reported unresolved. Arguments that cannot be
// SQL (a context, a struct) are not reported.
func (r resolver) statement(e ast.Expr, report func(sql string, unresolved bool)) {
	if sql, ok := r.str(e, 0); ok {
		report(sql, false)
		return
	}
	switch e := e.(type) {
	case *ast.BasicLit, *ast.CompositeLit, *ast.FuncLit, *ast.UnaryExpr:
		return
	case *ast.Ident:
		if e.Obj == nil {
			break
		}
		switch d := e.Obj.Decl.(type) {
		case *ast.Field:
			if t, ok := d.Type.(*ast.Ident); ok && t.Name == "string" {
				report(ParameterSQL, false)
			}
			return
		case *ast.AssignStmt:
			// b := &pgx.Batch{}: no string.
			if len(d.Rhs) == len(d.Lhs) {
				for i, l := range d.Lhs {
					if l, ok := l.(*ast.Ident); ok && l.Name == e.Name {
						switch d.Rhs[i].(type) {
						case *ast.UnaryExpr, *ast.CompositeLit, *ast.FuncLit:
							return
						}
					}
				}
			}
		}
	}
	report(unknown, true)
}

// isPackage reports whether x names a package the file imports.
func isPackage(f *ast.File, x ast.Expr) bool {
	id, ok := x.(*ast.Ident)
	if !ok || id.Obj != nil {
		return false
	}
	for _, im := range f.Imports {
		p, _ := strconv.Unquote(im.Path.Value)
		name := path.Base(p)
		if im.Name != nil {
			name = im.Name.Name
		}
		if name == id.Name {
			return true
		}
	}
	return false
}

// firstLiteral is the position of the leftmost operand of a concatenation.
func firstLiteral(e ast.Expr) token.Pos {
	for {
		b, ok := e.(*ast.BinaryExpr)
		if !ok {
			return e.Pos()
		}
		e = b.X
	}
}

// ParameterSQL is the SQL of a site that runs a string parameter: its
// statements are the callers' literals.
const ParameterSQL = "(parameter)"

// resolver works a string expression out from the source.
type resolver struct {
	s  *scanner
	p  *pkg
	f  *ast.File
	fn *ast.FuncDecl // the function the expression is in, if known
	// used collects the positions of the literals a statement was read
	// from.
	used map[token.Pos]bool
}

// maxDepth bounds how far names are followed (a constant made of
// constants made of ...).
const maxDepth = 8

// str returns the value of e as far as the source tells it, with unknown
// for the parts computed at run time; ok is false when nothing at all is
// known.
func (r resolver) str(e ast.Expr, depth int) (string, bool) {
	if depth > maxDepth {
		return unknown, false
	}
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return unknown, false
		}
		v, err := strconv.Unquote(e.Value)
		if err == nil && r.used != nil {
			r.used[e.Pos()] = true
		}
		return v, err == nil
	case *ast.ParenExpr:
		return r.str(e.X, depth)
	case *ast.BinaryExpr:
		// The tree is finite: only names and calls count towards depth.
		if e.Op != token.ADD {
			return unknown, false
		}
		a, okA := r.str(e.X, depth)
		b, okB := r.str(e.Y, depth)
		return a + b, okA || okB
	case *ast.Ident:
		return r.ident(e, depth)
	case *ast.SelectorExpr:
		// A constant of another scanned package: pkgname.Name.
		if x, ok := e.X.(*ast.Ident); ok {
			if p := r.imported(x.Name); p != nil {
				if v, ok := p.values[e.Sel.Name]; ok {
					return resolver{s: r.s, p: p, used: r.used}.str(v, depth+1)
				}
			}
		}
	case *ast.CallExpr:
		// fmt.Sprintf(format, ...): the format, with its verbs unknown.
		if sel, ok := e.Fun.(*ast.SelectorExpr); ok && sel.Sel.Name == "Sprintf" && len(e.Args) > 0 {
			return r.str(e.Args[0], depth+1)
		}
		// A function of the package that builds SQL: what it returns.
		if id, ok := e.Fun.(*ast.Ident); ok && r.p.funcs[id.Name] != nil {
			return r.returned(e, 0, depth+1)
		}
	}
	return unknown, false
}

// ident follows a name: a local variable (and what is added to it later),
// or a constant or variable of the package.
func (r resolver) ident(id *ast.Ident, depth int) (string, bool) {
	if id.Obj != nil {
		switch d := id.Obj.Decl.(type) {
		case *ast.ValueSpec:
			for i, n := range d.Names {
				if n.Name == id.Name && i < len(d.Values) {
					v, ok := r.str(d.Values[i], depth+1)
					return v + r.appended(id), ok
				}
			}
			return unknown, false
		case *ast.AssignStmt:
			for i, n := range d.Lhs {
				n, isIdent := n.(*ast.Ident)
				if !isIdent || n.Name != id.Name {
					continue
				}
				if len(d.Rhs) == len(d.Lhs) {
					v, ok := r.str(d.Rhs[i], depth+1)
					return v + r.appended(id), ok
				}
				if len(d.Rhs) == 1 {
					// sql, args := insert(e): the function's i-th results.
					return r.returned(d.Rhs[0], i, depth)
				}
			}
			return unknown, false
		case *ast.Field:
			// A parameter: what the package's callers pass.
			return r.passed(d, id.Name, depth)
		}
		return unknown, false
	}
	if v, ok := r.p.values[id.Name]; ok {
		return r.str(v, depth+1)
	}
	return unknown, false
}

// passed works out a parameter of the enclosing named function from its
// calls in the package: every caller's argument, joined; ok is false when
// no caller's could be worked out.
func (r resolver) passed(field *ast.Field, name string, depth int) (string, bool) {
	if r.fn == nil || depth > maxDepth {
		return unknown, false
	}
	index, n := -1, 0
	for _, f := range r.fn.Type.Params.List {
		for _, fname := range f.Names {
			if f == field && fname.Name == name {
				index = n
			}
			n++
		}
	}
	if index < 0 {
		return unknown, false // a parameter of a function literal
	}
	method := r.fn.Recv != nil
	var parts []string
	for _, f := range r.p.files {
		var enclosing *ast.FuncDecl
		ast.Inspect(f, func(node ast.Node) bool {
			if fd, ok := node.(*ast.FuncDecl); ok {
				enclosing = fd
			}
			c, ok := node.(*ast.CallExpr)
			if !ok || index >= len(c.Args) {
				return true
			}
			switch fun := c.Fun.(type) {
			case *ast.Ident:
				if method || fun.Name != r.fn.Name.Name {
					return true
				}
			case *ast.IndexExpr: // an explicitly instantiated generic
				if id, ok := fun.X.(*ast.Ident); !ok || method || id.Name != r.fn.Name.Name {
					return true
				}
			case *ast.SelectorExpr:
				if !method || fun.Sel.Name != r.fn.Name.Name {
					return true
				}
			default:
				return true
			}
			caller := resolver{s: r.s, p: r.p, f: f, fn: enclosing, used: r.used}
			if v, ok := caller.str(c.Args[index], depth+1); ok {
				parts = append(parts, v)
			}
			return true
		})
	}
	if len(parts) == 0 {
		return unknown, false
	}
	return strings.Join(parts, "; "), true
}

// appended returns what the function body adds to a local variable with +=.
func (r resolver) appended(id *ast.Ident) string {
	if r.fn == nil || r.fn.Body == nil {
		return ""
	}
	var b strings.Builder
	ast.Inspect(r.fn.Body, func(n ast.Node) bool {
		as, ok := n.(*ast.AssignStmt)
		if !ok || as.Tok != token.ADD_ASSIGN || len(as.Lhs) != 1 {
			return true
		}
		if l, ok := as.Lhs[0].(*ast.Ident); ok && l.Obj != nil && l.Obj == id.Obj {
			v, _ := r.str(as.Rhs[0], maxDepth-1)
			b.WriteString(" " + v)
		}
		return true
	})
	return b.String()
}

// returned works out the i-th result of a call to a function of the same
// package: all its return statements' i-th values, joined.
func (r resolver) returned(call ast.Expr, i, depth int) (string, bool) {
	c, ok := call.(*ast.CallExpr)
	if !ok {
		return unknown, false
	}
	fn, ok := c.Fun.(*ast.Ident)
	if !ok {
		return unknown, false
	}
	decl := r.p.funcs[fn.Name]
	if decl == nil || decl.Body == nil {
		return unknown, false
	}
	var parts []string
	found := false
	inner := resolver{s: r.s, p: r.p, f: r.f, fn: decl, used: r.used}
	ast.Inspect(decl.Body, func(n ast.Node) bool {
		if _, ok := n.(*ast.FuncLit); ok {
			return false
		}
		ret, ok := n.(*ast.ReturnStmt)
		if !ok || i >= len(ret.Results) {
			return true
		}
		v, ok := inner.str(ret.Results[i], depth+1)
		if ok && v != "" {
			parts = append(parts, v)
			found = true
		}
		return true
	})
	return strings.Join(parts, "; "), found
}

// imported returns the scanned package a file imports under name.
func (r resolver) imported(name string) *pkg {
	if r.f == nil {
		return nil
	}
	for _, im := range r.f.Imports {
		p, err := strconv.Unquote(im.Path.Value)
		if err != nil {
			continue
		}
		local := path.Base(p)
		if im.Name != nil {
			local = im.Name.Name
		}
		if local != name {
			continue
		}
		for dir, pk := range r.s.pkgs {
			if dir != "." && strings.HasSuffix(p, "/"+dir) {
				return pk
			}
		}
	}
	return nil
}

// identifier reads pgx.Identifier{"table"} (or {"schema", "table"}).
func (r resolver) identifier(e ast.Expr) (string, bool) {
	cl, ok := e.(*ast.CompositeLit)
	if !ok || len(cl.Elts) == 0 {
		return unknown, false
	}
	v, ok := r.str(cl.Elts[len(cl.Elts)-1], 0)
	return v, ok
}

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
