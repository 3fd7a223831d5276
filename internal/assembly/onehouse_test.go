package assembly_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// constructor is a piece of the server's object graph that only the
// assembly builds: outside it, only its own package (its directory, tests
// included) and the listed exceptions may.
type constructor struct {
	pkg, name string
	// literal: built as a composite literal (T{...}) rather than called.
	literal bool
	// home is the defining package's directory, relative to the module root.
	home string
	// also are further files allowed to build it, each with its reason.
	also map[string]string
}

var onlyAssembled = []constructor{
	{pkg: "github.com/hallpass/hallpass/internal/identity", name: "NewAccounts", home: "internal/identity"},
	{pkg: "github.com/hallpass/hallpass/tenants", name: "NewKeys", home: "tenants", also: map[string]string{
		"cmd/hallpass/keys.go": "`hallpass keys` runs no server: it lists, rotates, retires and reseals keys and exits",
	}},
	{pkg: "github.com/hallpass/hallpass/api/server", name: "New", home: "api/server"},
	{pkg: "github.com/hallpass/hallpass/console", name: "New", home: "console"},
	{pkg: "github.com/hallpass/hallpass/api", name: "Headless", literal: true, home: "api"},
	{pkg: "github.com/hallpass/hallpass/internal/tokens", name: "Strategy", literal: true, home: "internal/tokens"},
}

var generated = regexp.MustCompile(`(?m)^// Code generated .* DO NOT EDIT\.$`)

// There is one assembly: no Go file outside internal/assembly (but the
// constructors' own packages) builds an Accounts, a Keys, a server, a
// console, a Headless or a token strategy. Found by the import path a file
// names, so an import alias does not hide a call.
func TestOneAssembly(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "node_modules" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasPrefix(rel, "internal/assembly/") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if generated.Match(src) {
			return nil
		}
		f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		for _, found := range builds(f) {
			c := found.c
			if filepath.ToSlash(filepath.Dir(rel)) == c.home || c.also[rel] != "" {
				continue
			}
			t.Errorf("%s:%d builds %s.%s: only internal/assembly assembles the server (use assembly.Build and its Config)",
				rel, fset.Position(found.pos).Line, filepath.Base(c.pkg), c.name)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("only %d Go files under %s: the walk missed the module", files, root)
	}
}

type build struct {
	c   constructor
	pos token.Pos
}

// builds lists where f calls or composes one of onlyAssembled.
func builds(f *ast.File) []build {
	names := map[string]string{} // local name → import path
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		name := path[strings.LastIndex(path, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		names[name] = path
	}
	var out []build
	match := func(expr ast.Expr, literal bool, pos token.Pos) {
		sel, ok := expr.(*ast.SelectorExpr)
		if !ok {
			return
		}
		x, ok := sel.X.(*ast.Ident)
		if !ok {
			return
		}
		for _, c := range onlyAssembled {
			if c.literal == literal && c.name == sel.Sel.Name && names[x.Name] == c.pkg {
				out = append(out, build{c: c, pos: pos})
			}
		}
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			match(n.Fun, false, n.Pos())
		case *ast.CompositeLit:
			match(n.Type, true, n.Pos())
		}
		return true
	})
	return out
}

// The check finds a build however the package is imported, and lets the
// defining package's own directory be.
func TestOneAssemblyFindsBuilds(t *testing.T) {
	src := `package x

import (
	id "github.com/hallpass/hallpass/internal/identity"
	"github.com/hallpass/hallpass/api"
	"github.com/hallpass/hallpass/tenants"
)

func f() {
	_ = id.NewAccounts(nil, nil, nil, "")
	_ = &api.Headless{}
	_ = tenants.NewStore(nil, nil, nil)
}
`
	f, err := parser.ParseFile(token.NewFileSet(), "x.go", src, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range builds(f) {
		got = append(got, b.c.name)
	}
	if strings.Join(got, ",") != "NewAccounts,Headless" {
		t.Fatalf("found %v, want NewAccounts and Headless (a Store is no concern)", got)
	}
}

// moduleRoot is the directory holding go.mod above the test's.
func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found")
		}
		dir = parent
	}
}
