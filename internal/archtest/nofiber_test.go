package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// httpAdapters are the packages below internal/ that exist to adapt Fiber
// requests, shared by api and console (which may not import each other).
var httpAdapters = map[string]string{
	"internal/clientip": "finds a request's client address behind the platform's proxies",
}

// TestNoFiberInDomain keeps Fiber out of the domain (DESIGN.md: "the domain
// never sees Fiber"): no non-test file under internal/ or tenants/ imports
// it, apart from the HTTP adapters listed above.
func TestNoFiberInDomain(t *testing.T) {
	fset := token.NewFileSet()
	checked := 0
	for _, dir := range []string{"internal", "tenants"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			rel, _ := filepath.Rel(root, filepath.Dir(path))
			if _, ok := httpAdapters[filepath.ToSlash(rel)]; ok {
				return nil
			}
			f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
			if err != nil {
				return err
			}
			checked++
			for _, imp := range f.Imports {
				p, _ := strconv.Unquote(imp.Path.Value)
				if strings.HasPrefix(p, "github.com/gofiber/") || strings.HasPrefix(p, "github.com/valyala/fasthttp") {
					t.Errorf("%s imports %s: the domain never sees Fiber (keep it in api/, console/ or web/)", path, p)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 100 {
		t.Fatalf("checked only %d files: is root right?", checked)
	}
}
