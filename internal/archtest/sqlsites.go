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
